// Which sockets the collector archives, and how their addresses are anonymized. Works
// on the raw inet_diag_msg bytes of the receive buffer.
import { AF_INET, AF_INET6 } from "../diag/constants.ts";
import { parseAddress } from "../diag/address.ts";
import { DST_ADDR_OFFSET, SRC_ADDR_OFFSET } from "../diag/layouts.ts";
import { isLocalConnection, sourcePort } from "../diag/sock-id.ts";

export type Anonymization = "none" | "netblock";

/** Why a socket is left out: a local address (without --include-local), or the exclusion flags. */
export const enum Rejection {
  None = 0,
  Local = 1,
  Flags = 2,
}

export interface FilterOptions {
  includeLocal: boolean;
  excludeSrcPorts: readonly number[];
  /**
   * Addresses or CIDR prefixes as text ("10.0.0.0/8", "2001:db8::/32", "192.0.2.1").
   * An IPv4 one also matches its IPv4-mapped IPv6 form (::ffff:a.b.c.d), which is how an
   * IPv6 socket holds an IPv4 peer.
   */
  excludeDstIps: readonly string[];
}

/** A prefix ready for matching: whole bytes compared, then one byte under a mask. */
export interface IpPrefix {
  family: number;
  /** The network address, host bits zero; IPv4 in the first 4 of 16 bytes. */
  bytes: Uint8Array;
  bits: number;
  /** Bytes compared whole: bits >> 3. */
  wholeBytes: number;
  /** Mask of the partial byte after them; 0 when bits is a multiple of 8. */
  lastMask: number;
}

function prefixOf(family: number, address: Uint8Array, bits: number): IpPrefix {
  const wholeBytes = bits >> 3;
  const lastMask = bits & 7 ? (0xff << (8 - (bits & 7))) & 0xff : 0;
  const bytes = new Uint8Array(16);
  bytes.set(address.subarray(0, wholeBytes));
  if (lastMask !== 0) bytes[wholeBytes] = address[wholeBytes] & lastMask;
  return { family, bytes, bits, wholeBytes, lastMask };
}

/**
 * Parses "ADDRESS" or "ADDRESS/BITS" (IPv4 or IPv6). Host bits set after the prefix are
 * ignored, as Go's net.ParseCIDR does ("10.1.2.3/8" is 10.0.0.0/8). Null if invalid.
 */
export function parseIpPrefix(text: string): IpPrefix | null {
  const slash = text.indexOf("/");
  const a = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (a === null) return null;
  const max = a.family === AF_INET ? 32 : 128;
  if (slash < 0) return prefixOf(a.family, a.bytes, max);
  const len = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return null;
  return prefixOf(a.family, a.bytes, Number(len));
}

const V4_MAPPED_HEAD = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * The same prefix as the other family sees it: an IPv4 prefix as ::ffff:a.b.c.d/(96+n),
 * an IPv6 prefix inside ::ffff:0:0/96 as IPv4. Null when there is no such form.
 */
function otherFamilyForm(p: IpPrefix): IpPrefix | null {
  if (p.family === AF_INET) {
    const mapped = new Uint8Array(16);
    mapped.set(V4_MAPPED_HEAD);
    mapped.set(p.bytes.subarray(0, 4), 12);
    return prefixOf(AF_INET6, mapped, 96 + p.bits);
  }
  if (p.bits < 96 || !V4_MAPPED_HEAD.every((b, i) => p.bytes[i] === b)) return null;
  return prefixOf(AF_INET, p.bytes.subarray(12), p.bits - 96);
}

/** True when the 4 or 16 address bytes at `at` fall inside `p`. Allocates nothing. */
function inPrefix(p: IpPrefix, buf: Uint8Array, at: number): boolean {
  const whole = p.wholeBytes;
  const net = p.bytes;
  for (let i = 0; i < whole; i++) if (buf[at + i] !== net[i]) return false;
  return p.lastMask === 0 || (buf[at + whole] & p.lastMask) === net[whole];
}

export class SocketFilter {
  private readonly includeLocal: boolean;
  private readonly srcPorts: Set<number>;
  /** Excluded destinations by family, each given prefix in both of its forms. */
  private readonly dst4: IpPrefix[] = [];
  private readonly dst6: IpPrefix[] = [];

  constructor(opts: FilterOptions) {
    this.includeLocal = opts.includeLocal;
    this.srcPorts = new Set(opts.excludeSrcPorts);
    for (const text of opts.excludeDstIps) {
      const p = parseIpPrefix(text);
      if (!p) throw new Error(`not an IP address or prefix: ${text}`);
      for (const form of [p, otherFamilyForm(p)]) {
        if (form !== null) (form.family === AF_INET ? this.dst4 : this.dst6).push(form);
      }
    }
  }

  /** True when the socket at `idm` should be archived. */
  accepts(buf: Uint8Array, idm: number): boolean {
    return this.rejection(buf, idm) === Rejection.None;
  }

  /** Why the socket at `idm` is not archived (Rejection.None when it is). */
  rejection(buf: Uint8Array, idm: number): Rejection {
    const family = buf[idm];
    if (!this.includeLocal && isLocalConnection(family, buf, idm)) return Rejection.Local;
    if (this.srcPorts.size > 0 && this.srcPorts.has(sourcePort(buf, idm))) return Rejection.Flags;
    const prefixes = family === AF_INET ? this.dst4 : this.dst6;
    for (let i = 0; i < prefixes.length; i++) if (inPrefix(prefixes[i], buf, idm + DST_ADDR_OFFSET)) return Rejection.Flags;
    return Rejection.None;
  }
}

/**
 * Zeroes the host part of both addresses in place: IPv4 keeps its /24, IPv6 its /64
 * (an IPv4-mapped IPv6 address is treated as the IPv4 address it holds).
 */
export function anonymizeNetblock(buf: Uint8Array, idm: number): void {
  const family = buf[idm];
  for (const base of [idm + SRC_ADDR_OFFSET, idm + DST_ADDR_OFFSET]) {
    if (family === AF_INET || isV4Mapped(buf, base)) {
      buf[base + (family === AF_INET ? 3 : 15)] = 0;
    } else {
      buf.fill(0, base + 8, base + 16);
    }
  }
}

function isV4Mapped(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (b[at + i] !== 0) return false;
  return b[at + 10] === 0xff && b[at + 11] === 0xff;
}
