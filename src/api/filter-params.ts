// The one parser from text parameters (URL query or command-line flags) to a
// ConnectionFilter, so the HTTP API and the query command accept and reject exactly
// the same things.
import { formatAddress, parseAddress } from "../diag/address.ts";
import { CONTAINER_ID, decodeCursor, MAX_LIMIT, POD_UID, type ConnectionFilter } from "../index-db/index.ts";
import { parseTime } from "./time.ts";

export const FILTER_PARAMETERS = ["port", "sport", "dport", "ip", "src", "dst", "state", "netns", "container", "pod", "since", "until", "limit", "cursor"] as const;
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
 * All digits: an inode (what /proc/PID/ns/net shows as net:[N]). Anything else: a name
 * under /var/run/netns, which must be one file name (what `ip netns add` accepts).
 */
function netns(text: string): number | string {
  if (/^\d+$/.test(text)) {
    const n = text.length <= 16 ? Number(text) : NaN;
    if (!(Number.isSafeInteger(n) && n > 0)) throw new ParameterError("netns", "netns must be an inode number (1 or more) or a namespace name");
    return n;
  }
  if (Buffer.byteLength(text) > 255 || text.includes("/") || text.includes("\0") || text === "." || text === "..") {
    throw new ParameterError("netns", "netns must be an inode number or a namespace name (as in /var/run/netns: no '/', at most 255 bytes)");
  }
  return text;
}

/** Full id or a prefix of at least 12 hex digits (docker's short form); stored lower-case. */
function container(text: string): string {
  const id = text.toLowerCase();
  if (!CONTAINER_ID.test(id)) throw new ParameterError("container", "container must be a container id: 12 to 64 hex digits (a prefix matches every id starting with it)");
  return id;
}

/** A pod UID; the underscores of a systemd cgroup path (pod1234_5678_…) are accepted for dashes. */
function pod(text: string): string {
  const uid = text.toLowerCase().replaceAll("_", "-");
  if (!POD_UID.test(uid)) throw new ParameterError("pod", "pod must be a pod UID (8-4-4-4-12 hex digits)");
  return uid;
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
      case "netns":
        f.netns = netns(v);
        break;
      case "container":
        f.container = container(v);
        break;
      case "pod":
        f.pod = pod(v);
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
