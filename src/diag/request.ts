// Builds the SOCK_DIAG_BY_FAMILY dump request: nlmsghdr + struct inet_diag_req_v2.
import { ALL_TCP_STATES, IPPROTO_TCP, NLM_F_DUMP, NLM_F_REQUEST, SOCK_DIAG_BY_FAMILY } from "./constants.ts";

export const DUMP_REQUEST_SIZE = 16 + 56;

export interface DumpRequestOptions {
  family: number;
  /** Bit mask of TCP states (1 << state); all states by default. */
  states?: number;
  /** idiag_ext bits: 0xff asks for every extension that fits the 8-bit mask. */
  extensions?: number;
  seq?: number;
}

export function buildDumpRequest(opts: DumpRequestOptions): Uint8Array {
  const buf = new Uint8Array(DUMP_REQUEST_SIZE);
  const dv = new DataView(buf.buffer);
  // struct nlmsghdr
  dv.setUint32(0, DUMP_REQUEST_SIZE, true);
  dv.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  dv.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
  dv.setUint32(8, opts.seq ?? 0, true);
  dv.setUint32(12, 0, true);
  // struct inet_diag_req_v2; the sock id stays zero: no filter on addresses.
  dv.setUint8(16, opts.family);
  dv.setUint8(17, IPPROTO_TCP);
  dv.setUint8(18, opts.extensions ?? 0xff);
  dv.setUint32(20, (opts.states ?? ALL_TCP_STATES) >>> 0, true);
  return buf;
}

/** Rewrites the sequence number of a request built by buildDumpRequest, in place. */
export function setRequestSeq(request: Uint8Array, seq: number): void {
  new DataView(request.buffer, request.byteOffset, request.byteLength).setUint32(8, seq >>> 0, true);
}
