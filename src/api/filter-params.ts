// The one parser from text parameters (URL query or command-line flags) to a
// ConnectionFilter, so the HTTP API and the query command accept and reject exactly
// the same things.
import { formatAddress, parseAddress } from "../diag/address.ts";
import { decodeCursor, MAX_LIMIT, type ConnectionFilter } from "../index-db/index.ts";
import { parseTime } from "./time.ts";

export const FILTER_PARAMETERS = ["port", "sport", "dport", "ip", "src", "dst", "state", "since", "until", "limit", "cursor"] as const;
export type FilterParameter = (typeof FILTER_PARAMETERS)[number];

/** A rejected parameter: becomes HTTP 400 `{"error": message, "parameter": parameter}`. */
export class ParameterError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

const KNOWN = new Set<string>(FILTER_PARAMETERS);
const DIGITS = /^\d{1,5}$/;
const LIMIT = /^\d{1,6}$/;

function port(name: string, text: string): number {
  const n = DIGITS.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new ParameterError(name, `${name} must be an integer 0..65535`);
  return n;
}

/** Canonical text (what the collector stores) of an IPv4 or IPv6 address. */
function address(name: string, text: string): string {
  const a = parseAddress(text);
  if (!a) throw new ParameterError(name, `${name} must be an IPv4 or IPv6 address`);
  return formatAddress(a.family, a.bytes, 0);
}

function time(name: string, text: string): number {
  const t = parseTime(text);
  if (t === null || !Number.isSafeInteger(t)) throw new ParameterError(name, `${name} must be an RFC 3339 time or unix milliseconds`);
  return t;
}

/**
 * For routes that take no query parameters: rejects the first one given, as parseFilter
 * rejects unknown names, so a misplaced filter (`/snapshots?since=…`) is not silently ignored.
 */
export function rejectParameters(params: Iterable<[string, string]>): void {
  for (const [name] of params) throw new ParameterError(name, "unknown parameter (this route takes none)");
}

/**
 * Parses query parameters. Rejects, naming the parameter: unknown names (a typo such as
 * `prot=443` would otherwise silently list everything), repeated names, empty values,
 * and malformed or out-of-range values.
 */
export function parseFilter(params: Iterable<[string, string]>): ConnectionFilter {
  const seen = new Map<string, string>();
  for (const [name, value] of params) {
    if (!KNOWN.has(name)) throw new ParameterError(name, `unknown parameter (known: ${FILTER_PARAMETERS.join(", ")})`);
    if (seen.has(name)) throw new ParameterError(name, `${name} given more than once`);
    if (value === "") throw new ParameterError(name, `${name} is empty`);
    seen.set(name, value);
  }
  const f: ConnectionFilter = {};
  for (const [name, v] of seen) {
    switch (name as FilterParameter) {
      case "port":
      case "sport":
      case "dport":
        f[name as "port" | "sport" | "dport"] = port(name, v);
        break;
      case "ip":
      case "src":
      case "dst":
        f[name as "ip" | "src" | "dst"] = address(name, v);
        break;
      case "state":
        if (v !== "open" && v !== "closed") throw new ParameterError(name, "state must be open or closed");
        f.state = v;
        break;
      case "since":
      case "until":
        f[name as "since" | "until"] = time(name, v);
        break;
      case "limit": {
        const n = LIMIT.test(v) ? Number(v) : NaN;
        if (!(n >= 1 && n <= MAX_LIMIT)) throw new ParameterError(name, `limit must be an integer 1..${MAX_LIMIT}`);
        f.limit = n;
        break;
      }
      case "cursor":
        try {
          decodeCursor(v);
        } catch {
          throw new ParameterError(name, "cursor is not one this server issued");
        }
        f.cursor = v;
        break;
    }
  }
  if (f.since !== undefined && f.until !== undefined && f.until < f.since) throw new ParameterError("until", "until is before since");
  return f;
}
