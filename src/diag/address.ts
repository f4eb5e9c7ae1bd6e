// IP addresses as they sit in struct inet_diag_sockid: 16 bytes, IPv4 in the first 4.
import { AF_INET } from "./constants.ts";

export function formatIPv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text: lower case, longest zero run (of 2+ groups) as "::", IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIPv6(b: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, at + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function formatAddress(family: number, b: Uint8Array, at: number): string {
  return family === AF_INET ? formatIPv4(b, at) : formatIPv6(b, at);
}

/**
 * True for addresses M-Lab leaves out of archives: loopback, link-local unicast,
 * multicast and unspecified (IPv4-mapped IPv6 addresses are judged as IPv4).
 */
export function isLocalAddress(family: number, b: Uint8Array, at: number): boolean {
  if (family === AF_INET) return isLocalV4(b[at], b[at + 1], b[at + 2], b[at + 3]);
  let zeroPrefix = true;
  for (let i = 0; i < 10; i++) if (b[at + i] !== 0) { zeroPrefix = false; break; }
  if (zeroPrefix && b[at + 10] === 0xff && b[at + 11] === 0xff) {
    return isLocalV4(b[at + 12], b[at + 13], b[at + 14], b[at + 15]);
  }
  if (zeroPrefix && b[at + 10] === 0 && b[at + 11] === 0 && b[at + 12] === 0 && b[at + 13] === 0 && b[at + 14] === 0) {
    const last = b[at + 15];
    return last === 0 || last === 1; // :: and ::1
  }
  if (b[at] === 0xff) return true; // ff00::/8 multicast
  if (b[at] === 0xfe && (b[at + 1] & 0xc0) === 0x80) return true; // fe80::/10 link-local
  return false;
}

function isLocalV4(a: number, b: number, c: number, d: number): boolean {
  if (a === 127) return true; // loopback
  if (a === 169 && b === 254) return true; // link-local
  if (a >= 224 && a <= 239) return true; // multicast
  return a === 0 && b === 0 && c === 0 && d === 0; // unspecified
}

/** Parses an IPv4 or IPv6 text address into 16 sock-id bytes; null if it is not one. */
export function parseAddress(text: string): { family: number; bytes: Uint8Array } | null {
  const out = new Uint8Array(16);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    for (let i = 0; i < 4; i++) {
      const n = Number(v4[i + 1]);
      if (n > 255) return null;
      out[i] = n;
    }
    return { family: AF_INET, bytes: out };
  }
  let s = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length < 2) return null;
  // A trailing dotted quad becomes two hex groups.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (tail) {
    const q = tail.slice(1).map(Number);
    if (q.some((n) => n > 255)) return null;
    s = s.slice(0, tail.index) + ((q[0] << 8) | q[1]).toString(16) + ":" + ((q[2] << 8) | q[3]).toString(16);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === "" ? [] : h.split(":"));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  for (let i = 0; i < 8; i++) {
    const g = groups[i];
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  return { family: 10, bytes: out };
}
