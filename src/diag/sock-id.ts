// The connection identity in an inet_diag_msg: cookie, ports, addresses.
import { COOKIE_OFFSET, DST_ADDR_OFFSET, SRC_ADDR_OFFSET } from "./layouts.ts";
import { formatAddress, isLocalAddress } from "./address.ts";

/** The socket cookie (host order u64) of the inet_diag_msg at `idm`. */
export function readCookie(buf: Uint8Array, idm: number): bigint {
  const dv = new DataView(buf.buffer, buf.byteOffset + idm + COOKIE_OFFSET, 8);
  return dv.getBigUint64(0, true);
}

/**
 * A Map key for the cookie that avoids allocating a bigint on the hot path: cookies
 * come from a counter, so in practice they fit a double exactly; larger ones fall back
 * to a string key.
 */
export function cookieKey(buf: Uint8Array, idm: number): number | string {
  // Byte reads rather than a DataView: this runs for every socket of every poll.
  const at = idm + COOKIE_OFFSET;
  const lo = (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
  const hi = (buf[at + 4] | (buf[at + 5] << 8) | (buf[at + 6] << 16) | (buf[at + 7] << 24)) >>> 0;
  if (hi < 0x200000) return hi * 0x100000000 + lo;
  return `${hi}:${lo}`;
}

/** 16 upper-case hex digits, as M-Lab's UUIDs and CSV show cookies. */
export function cookieHex(cookie: bigint): string {
  return cookie.toString(16).toUpperCase().padStart(16, "0");
}

/** The cookie as a signed 64-bit decimal, as M-Lab's eventsocket sends it. */
export function cookieSigned(cookie: bigint): bigint {
  return BigInt.asIntN(64, cookie);
}

export function srcAddress(family: number, buf: Uint8Array, idm: number): string {
  return formatAddress(family, buf, idm + SRC_ADDR_OFFSET);
}

export function dstAddress(family: number, buf: Uint8Array, idm: number): string {
  return formatAddress(family, buf, idm + DST_ADDR_OFFSET);
}

/** True when either end is loopback, link-local, multicast or unspecified. */
export function isLocalConnection(family: number, buf: Uint8Array, idm: number): boolean {
  return isLocalAddress(family, buf, idm + SRC_ADDR_OFFSET) || isLocalAddress(family, buf, idm + DST_ADDR_OFFSET);
}

export function sourcePort(buf: Uint8Array, idm: number): number {
  return (buf[idm + 4] << 8) | buf[idm + 5];
}

export function destPort(buf: Uint8Array, idm: number): number {
  return (buf[idm + 6] << 8) | buf[idm + 7];
}

