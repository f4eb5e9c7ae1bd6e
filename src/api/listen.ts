// The --listen address: parsed and judged in one place for the server, the start-up
// checks and the health check (which must stay light: it runs every 30 s).
import { AF_INET } from "../diag/constants.ts";
import { parseAddress } from "../diag/address.ts";

export const DEFAULT_LISTEN = "127.0.0.1:9990";

export interface ListenAddress {
  hostname: string;
  port: number;
}

/** Parses `--listen HOST:PORT` (`[v6]:PORT` for IPv6; port 0 picks a free one). Throws on nonsense. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`--listen must be HOST:PORT or [IPv6]:PORT, got ${JSON.stringify(text)}`);
  return { hostname: m[1] ?? m[2], port };
}

/**
 * Whether `--listen`'s host only takes connections from this machine: 127.0.0.0/8, ::1
 * (also IPv4-mapped) or localhost. Anything else (0.0.0.0, ::, a LAN address, a name)
 * may be reachable from other hosts.
 */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname.toLowerCase() === "localhost") return true;
  const a = parseAddress(hostname);
  if (a === null) return false;
  const b = a.bytes;
  if (a.family === AF_INET) return b[0] === 127;
  const zeros = (n: number) => b.subarray(0, n).every((x) => x === 0);
  if (zeros(10) && b[10] === 0xff && b[11] === 0xff) return b[12] === 127; // IPv4-mapped
  return zeros(15) && b[15] === 1;
}
