// Flags of `collector`, each also settable by an environment variable, validated into
// the options the collector runs with.
import type { ArgsDef } from "citty";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseIpPrefix } from "../collector/filters.ts";
import { DEFAULT_LISTEN, parseListen } from "../api/http.ts";
import { DEFAULT_SOCKET_MODE } from "../api/eventsocket.ts";
import { fromEnv, parseChoice, parseIntArg, repeatedFlag, UsageError } from "./validate.ts";
import { LOG_FORMATS, type LogFormat } from "../daemon/logger.ts";
import { parseNetnsMode, type NetnsMode } from "../collector/netns-watch.ts";
import { parseDuration } from "./export.ts";

export const COLLECTOR_ARGS = {
  interval: { type: "string", description: "Poll interval in ms [env TCPINFO_INTERVAL] (default 10)", valueHint: "MS" },
  reps: { type: "string", description: "Stop after N polls; 0 = run until SIGINT/SIGTERM [env TCPINFO_REPS] (default 0)", valueHint: "N" },
  output: { type: "string", description: "Archive folder [env TCPINFO_OUTPUT] (default ./data)", valueHint: "DIR" },
  "uuid-prefix-file": { type: "string", description: "File whose contents prefix every UUID [env TCPINFO_UUID_PREFIX_FILE] (default <hostname>_<boot time>_unsafe)", valueHint: "PATH" },
  netns: { type: "string", description: "Network namespaces to poll: host (the collector's own), all (every one on the host, rescanned every 2 s), or paths such as /var/run/netns/NAME or /proc/PID/ns/net; paths repeatable [env TCPINFO_NETNS, comma-separated] (default host)", valueHint: "host|all|PATH" },
  "include-local": { type: "boolean", description: "Also archive loopback, link-local, multicast and unspecified connections [env TCPINFO_INCLUDE_LOCAL=1]" },
  "exclude-srcport": { type: "string", description: "Skip connections with this source port; repeatable [env TCPINFO_EXCLUDE_SRCPORT, comma-separated]", valueHint: "P" },
  "exclude-dstip": { type: "string", description: "Skip connections to this address or CIDR prefix (10.0.0.0/8, 2001:db8::/32); an IPv4 one also matches IPv4-mapped IPv6 peers; repeatable [env TCPINFO_EXCLUDE_DSTIP, comma-separated]", valueHint: "IP[/BITS]" },
  "anonymize-ip": { type: "string", description: "none, or netblock: keep an IPv4 /24 or IPv6 /64 [env TCPINFO_ANONYMIZE_IP] (default none)", valueHint: "none|netblock" },
  "rotate-minutes": { type: "string", description: "Start a new file every M minutes of a connection's life [env TCPINFO_ROTATE_MINUTES] (default 10)", valueHint: "M" },
  "destroy-events": { type: "boolean", description: "Subscribe to the kernel's TCP destroy events; --no-destroy-events polls only [env TCPINFO_DESTROY_EVENTS=0]", default: true },
  "per-family-dumps": { type: "boolean", description: "Dump IPv4 and IPv6 sockets in one walk of the kernel's tables each (SOCK_DIAG_BY_FAMILY, as M-Lab's collector), not both in one walk (TCPDIAG_GETSOCK, about half the kernel's cost on an idle host; used unless the kernel refuses it) [env TCPINFO_PER_FAMILY_DUMPS=1]" },
  "flush-ms": { type: "string", description: "Write each connection's buffered lines at least this often [env TCPINFO_FLUSH_MS] (default 1000)", valueHint: "MS" },
  db: { type: "string", description: "SQLite connection index [env TCPINFO_DB] (default <output>/index.sqlite)", valueHint: "PATH" },
  listen: { type: "string", description: "HTTP API and /metrics address, or 'off' [env TCPINFO_LISTEN] (default 127.0.0.1:9990)", valueHint: "HOST:PORT" },
  "api-token-file": { type: "string", description: "File holding a bearer token every API route but /healthz then requires [env TCPINFO_API_TOKEN_FILE] (default none: no authentication)", valueHint: "PATH" },
  eventsocket: { type: "string", description: "Serve open/close events to sidecars on this unix socket [env TCPINFO_EVENTSOCKET] (default none)", valueHint: "PATH" },
  "eventsocket-mode": { type: "string", description: "Octal permissions of the eventsocket file, e.g. 0660 for a group [env TCPINFO_EVENTSOCKET_MODE] (default 0600)", valueHint: "MODE" },
  "eventsocket-max-queue": { type: "string", description: "Bytes of earlier events an eventsocket client may leave unread when new ones come before it is disconnected [env TCPINFO_EVENTSOCKET_MAX_QUEUE] (default 1048576)", valueHint: "BYTES" },
  "index-retention-hours": { type: "string", description: "Delete index rows of connections closed more than H hours ago (archives stay); 0 keeps them [env TCPINFO_INDEX_RETENTION_HOURS] (default 0)", valueHint: "H" },
  "index-batch-ms": { type: "string", description: "Write poll reports to the index at least this often [env TCPINFO_INDEX_BATCH_MS] (default 250)", valueHint: "MS" },
  "max-buffer-mib": { type: "string", description: "MiB of archive lines held in memory in all, written early past it, dropped (counted) while writes fail; snapshots not yet taken in by the storage worker may add a quarter (at least 8 MiB), past which they are dropped (counted as backpressure) [env TCPINFO_MAX_BUFFER_MIB] (default 32)", valueHint: "MIB" },
  "shutdown-timeout": { type: "string", description: "At stop, seconds to write buffered lines before the rest counts as lost; a second signal stops sooner [env TCPINFO_SHUTDOWN_TIMEOUT] (default 60)", valueHint: "S" },
  "status-seconds": { type: "string", description: "Seconds between status lines on stderr; 0 = none [env TCPINFO_STATUS_SECONDS] (default 60)", valueHint: "S" },
  "export-dir": { type: "string", description: "Also export closed connections as Parquet to this folder every --export-interval (as the export command does, in a child process) [env TCPINFO_EXPORT_DIR] (default off)", valueHint: "DIR" },
  "export-interval": { type: "string", description: "How often --export-dir runs, e.g. 15m, 1h [env TCPINFO_EXPORT_INTERVAL] (default 1h)", valueHint: "DURATION" },
  "log-format": { type: "string", description: "Log lines on stderr as logfmt text or one JSON object each [env TCPINFO_LOG_FORMAT] (default text)", valueHint: "text|json" },
} as const satisfies ArgsDef;

export interface CollectorCliOptions {
  intervalMs: number;
  reps: number;
  output: string;
  uuidPrefixFile: string | undefined;
  includeLocal: boolean;
  netns: NetnsMode;
  excludeSrcPorts: number[];
  excludeDstIps: string[];
  anonymize: "none" | "netblock";
  rotateMinutes: number;
  destroyEvents: boolean;
  /** One dump request per address family instead of one walk for both. */
  perFamilyDumps: boolean;
  flushMs: number;
  statusSeconds: number;
  logFormat: LogFormat;
  /** MiB of lines buffered in all (writers and on the way to them). */
  maxBufferMiB: number;
  /** At stop, how long (s) buffered lines may take to write. */
  shutdownTimeoutSeconds: number;
  db: string;
  /** null: no HTTP server. */
  listen: string | null;
  /** The bearer token the API requires (never logged); null: no authentication. */
  apiToken: string | null;
  eventsocket: string | null;
  /** Permission bits of the eventsocket file. */
  eventsocketMode: number;
  eventsocketMaxQueue: number;
  indexBatchMs: number;
  indexRetentionHours: number;
  /** null: the collector does not export by itself. */
  exportDir: string | null;
  exportIntervalMs: number;
}

function envBool(name: string): boolean | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new UsageError(`${name} must be 1/true/yes/on or 0/false/no/off, got '${v}'`);
}

function listFromEnv(cli: string[], env: string): string[] {
  if (cli.length > 0) return cli;
  const v = process.env[env];
  return v ? v.split(",").map((s) => s.trim()).filter((s) => s !== "") : [];
}

function parseListenOption(text: string): string | null {
  if (text === "off" || text === "none") return null;
  try {
    parseListen(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return text;
}

/** `--eventsocket-mode`: octal permission bits, 0 to 0777 (a leading 0 or 0o is optional). */
export function parseSocketMode(what: string, text: string): number {
  const digits = text.trim().replace(/^0o/i, "");
  const mode = /^[0-7]{1,4}$/.test(digits) ? parseInt(digits, 8) : NaN;
  if (!(mode <= 0o777)) throw new UsageError(`${what} must be octal permissions from 0 to 0777 (e.g. 0660), got '${text}'`);
  return mode;
}

/**
 * The token in `--api-token-file`, surrounding whitespace trimmed. Read while validating
 * flags, so an unusable file stops the collector (exit 2) before it creates anything.
 */
export function readApiToken(what: string, path: string): string {
  if (path.trim() === "") throw new UsageError(`${what} needs the path of a file holding the token`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`${what}: cannot read ${path}: ${err.code ?? err.message}`);
  }
  const token = text.trim();
  if (token === "") throw new UsageError(`${what}: ${path} is empty; it must hold the bearer token`);
  // A header cannot carry a line break or control character: such a token could never match.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`${what}: the token in ${path} must be one word of printable ASCII`);
  return token;
}

/** --netns values (each may list several, comma-separated) as a mode; a UsageError names `what`. */
export function parseNetnsFlag(values: string[], what = "--netns"): NetnsMode {
  try {
    return parseNetnsMode(values.join(","));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^--netns/, what));
  }
}

/** The flag's name if it was given on the command line, else the environment variable's. */
function source(raw: string[], flag: string, env: string): string {
  return raw.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`)) ? `--${flag}` : env;
}

export function parseCollectorOptions(args: Record<string, unknown>, raw: string[]): CollectorCliOptions {
  const str = (k: keyof typeof COLLECTOR_ARGS) => (typeof args[k] === "string" ? (args[k] as string) : undefined);
  const int = (k: keyof typeof COLLECTOR_ARGS, env: string, def: number, min: number, max: number) => {
    const v = fromEnv(str(k), env);
    return v === undefined ? def : parseIntArg(raw.some((a) => a.startsWith(`--${k}`)) ? `--${k}` : env, v, min, max);
  };
  const excludeSrcPorts = listFromEnv(repeatedFlag(raw, "exclude-srcport"), "TCPINFO_EXCLUDE_SRCPORT").map((p) => parseIntArg("--exclude-srcport", p, 0, 65535));
  const excludeDstIps = listFromEnv(repeatedFlag(raw, "exclude-dstip"), "TCPINFO_EXCLUDE_DSTIP");
  for (const ip of excludeDstIps) {
    if (!parseIpPrefix(ip)) throw new UsageError(`${source(raw, "exclude-dstip", "TCPINFO_EXCLUDE_DSTIP")} must be an IPv4 or IPv6 address or CIDR prefix (e.g. 10.0.0.0/8), got '${ip}'`);
  }
  const anonymize = parseChoice("--anonymize-ip", fromEnv(str("anonymize-ip"), "TCPINFO_ANONYMIZE_IP") ?? "none", ["none", "netblock"] as const);
  const output = fromEnv(str("output"), "TCPINFO_OUTPUT") ?? "./data";
  if (args.output === "" || output.trim() === "") throw new UsageError("--output must name a folder");
  const tokenFile = fromEnv(str("api-token-file"), "TCPINFO_API_TOKEN_FILE");
  const mode = fromEnv(str("eventsocket-mode"), "TCPINFO_EVENTSOCKET_MODE");
  return {
    intervalMs: int("interval", "TCPINFO_INTERVAL", 10, 1, 3_600_000),
    reps: int("reps", "TCPINFO_REPS", 0, 0, Number.MAX_SAFE_INTEGER),
    output,
    uuidPrefixFile: fromEnv(str("uuid-prefix-file"), "TCPINFO_UUID_PREFIX_FILE"),
    includeLocal: args["include-local"] === true || (args["include-local"] === undefined && envBool("TCPINFO_INCLUDE_LOCAL") === true),
    netns: parseNetnsFlag(listFromEnv(repeatedFlag(raw, "netns"), "TCPINFO_NETNS"), source(raw, "netns", "TCPINFO_NETNS")),
    excludeSrcPorts,
    excludeDstIps,
    anonymize,
    rotateMinutes: int("rotate-minutes", "TCPINFO_ROTATE_MINUTES", 10, 1, 525_600),
    destroyEvents: raw.includes("--no-destroy-events") ? false : raw.includes("--destroy-events") ? true : envBool("TCPINFO_DESTROY_EVENTS") ?? true,
    perFamilyDumps: args["per-family-dumps"] === true || (args["per-family-dumps"] === undefined && envBool("TCPINFO_PER_FAMILY_DUMPS") === true),
    flushMs: int("flush-ms", "TCPINFO_FLUSH_MS", 1000, 1, 3_600_000),
    statusSeconds: int("status-seconds", "TCPINFO_STATUS_SECONDS", 60, 0, 86_400),
    logFormat: parseChoice("--log-format", fromEnv(str("log-format"), "TCPINFO_LOG_FORMAT") ?? "text", LOG_FORMATS),
    maxBufferMiB: int("max-buffer-mib", "TCPINFO_MAX_BUFFER_MIB", 32, 1, 65_536),
    shutdownTimeoutSeconds: int("shutdown-timeout", "TCPINFO_SHUTDOWN_TIMEOUT", 60, 1, 86_400),
    db: fromEnv(str("db"), "TCPINFO_DB") ?? join(output, "index.sqlite"),
    listen: parseListenOption(fromEnv(str("listen"), "TCPINFO_LISTEN") ?? DEFAULT_LISTEN),
    apiToken: tokenFile === undefined ? null : readApiToken(source(raw, "api-token-file", "TCPINFO_API_TOKEN_FILE"), tokenFile),
    eventsocket: fromEnv(str("eventsocket"), "TCPINFO_EVENTSOCKET") ?? null,
    eventsocketMode: mode === undefined ? DEFAULT_SOCKET_MODE : parseSocketMode(source(raw, "eventsocket-mode", "TCPINFO_EVENTSOCKET_MODE"), mode),
    eventsocketMaxQueue: int("eventsocket-max-queue", "TCPINFO_EVENTSOCKET_MAX_QUEUE", 1 << 20, 1024, 1 << 30),
    indexRetentionHours: int("index-retention-hours", "TCPINFO_INDEX_RETENTION_HOURS", 0, 0, 24 * 365 * 10),
    indexBatchMs: int("index-batch-ms", "TCPINFO_INDEX_BATCH_MS", 250, 0, 60_000),
    exportDir: fromEnv(str("export-dir"), "TCPINFO_EXPORT_DIR") ?? null,
    exportIntervalMs: parseDuration(source(raw, "export-interval", "TCPINFO_EXPORT_INTERVAL"), fromEnv(str("export-interval"), "TCPINFO_EXPORT_INTERVAL") ?? "1h"),
  };
}
