// The collector's log lines: every one with an RFC 3339 time and a level, as logfmt text
// (`time=… level=info msg="…" key=value…`) or as one JSON object per line. Messages are
// the sentences the code writes; a message of the form `name: key=value key=value…` (the
// status line) becomes `msg=name` and its pairs become fields, so both formats carry
// them as keys a log pipeline can index.

export type LogFormat = "text" | "json";
export type LogLevel = "info" | "warn" | "error";
export type LogFn = (message: string, level?: LogLevel) => void;

export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

const PAIRS = /^([a-z][a-z0-9_ ]*): ((?:[a-z_][a-z0-9_]*=\S+)(?: [a-z_][a-z0-9_]*=\S+)*)$/;
const PAIR = /([a-z_][a-z0-9_]*)=(\S+)/g;

/** logfmt quoting: bare when the value has no space, quote, = or control character. */
function logfmtValue(v: string): string {
  return v !== "" && !/[\s"=\\\u0000-\u001f]/.test(v) ? v : JSON.stringify(v);
}

/** A field value as JSON: a number when it reads as one exactly, else the text. */
function jsonValue(v: string): string | number {
  return /^-?\d+(\.\d+)?$/.test(v) && String(Number(v)) === v ? Number(v) : v;
}

/** Splits a message into its name and fields when it is `name: k=v k=v…`. */
function structured(message: string): { msg: string; fields: [string, string][] } {
  const m = PAIRS.exec(message);
  if (m === null) return { msg: message, fields: [] };
  return { msg: m[1], fields: [...m[2].matchAll(PAIR)].map((p) => [p[1], p[2]] as [string, string]) };
}

/** One log line (without its newline) for `message` at `time`. */
export function formatLogLine(format: LogFormat, level: LogLevel, message: string, time = new Date()): string {
  // A message of several lines (a status line with its detail) is logged line by line by
  // the caller; here each line is one record.
  const { msg, fields } = structured(message);
  if (format === "json") {
    const o: Record<string, string | number> = { time: time.toISOString(), level, msg };
    for (const [k, v] of fields) if (!(k in o)) o[k] = jsonValue(v);
    return JSON.stringify(o);
  }
  let line = `time=${time.toISOString()} level=${level} msg=${logfmtValue(msg)}`;
  for (const [k, v] of fields) line += ` ${k}=${logfmtValue(v)}`;
  return line;
}

/** A log function writing each line of each message as a record to `write`. */
export function createLogger(format: LogFormat, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): LogFn {
  return (message, level = "info") => {
    const now = new Date();
    for (const part of message.split("\n")) if (part !== "") write(formatLogLine(format, level, part, now));
  };
}

/**
 * The message of a log line in either format (for readers of the collector's stderr:
 * tests, the bench): `name: k=v…` again for a structured one, the line itself when it is
 * not a log record.
 */
export function logMessage(line: string): string {
  if (line.startsWith("{")) {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.msg === "string" && typeof o.time === "string") {
        const rest = Object.entries(o).filter(([k]) => k !== "time" && k !== "level" && k !== "msg");
        return rest.length === 0 ? o.msg : `${o.msg}: ${rest.map(([k, v]) => `${k}=${v}`).join(" ")}`;
      }
    } catch {
      return line;
    }
    return line;
  }
  const m = /^time=\S+ level=\S+ msg=("(?:[^"\\]|\\.)*"|\S+)(?: (.*))?$/.exec(line);
  if (m === null) return line;
  const msg = m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1];
  return m[2] === undefined ? msg : `${msg}: ${m[2]}`;
}
