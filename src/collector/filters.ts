// Which sockets the collector archives, and how their addresses are anonymized. Works
// on the raw inet_diag_msg bytes of the receive buffer.
import { AF_INET } from "../diag/constants.ts";
import { parseAddress } from "../diag/address.ts";
import { DST_ADDR_OFFSET, SRC_ADDR_OFFSET } from "../diag/layouts.ts";
import { isLocalConnection, sourcePort } from "../diag/sock-id.ts";

export type Anonymization = "none" | "netblock";

export interface FilterOptions {
  includeLocal: boolean;
  excludeSrcPorts: readonly number[];
  /** Text addresses; IPv4 also matches its IPv4-mapped IPv6 form. */
  excludeDstIps: readonly string[];
}

export class SocketFilter {
  private readonly includeLocal: boolean;
  private readonly srcPorts: Set<number>;
  /** Each excluded address as 16 bytes (IPv4 in the first 4) plus its family. */
  private readonly dstIps: { family: number; bytes: Uint8Array }[] = [];

  constructor(opts: FilterOptions) {
    this.includeLocal = opts.includeLocal;
    this.srcPorts = new Set(opts.excludeSrcPorts);
    for (const text of opts.excludeDstIps) {
      const a = parseAddress(text);
      if (!a) throw new Error(`not an IP address: ${text}`);
      this.dstIps.push(a);
      if (a.family === AF_INET) {
        // The same IPv4 address as an IPv6 socket sees it: ::ffff:a.b.c.d
        const mapped = new Uint8Array(16);
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        mapped.set(a.bytes.subarray(0, 4), 12);
        this.dstIps.push({ family: 10, bytes: mapped });
      }
    }
  }

  /** True when the socket at `idm` should be archived. */
  accepts(buf: Uint8Array, idm: number): boolean {
    const family = buf[idm];
    if (!this.includeLocal && isLocalConnection(family, buf, idm)) return false;
    if (this.srcPorts.size > 0 && this.srcPorts.has(sourcePort(buf, idm))) return false;
    if (this.dstIps.length > 0) {
      for (const ex of this.dstIps) {
        if (ex.family !== family) continue;
        const n = family === AF_INET ? 4 : 16;
        let same = true;
        for (let i = 0; i < n; i++) {
          if (buf[idm + DST_ADDR_OFFSET + i] !== ex.bytes[i]) {
            same = false;
            break;
          }
        }
        if (same) return false;
      }
    }
    return true;
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
