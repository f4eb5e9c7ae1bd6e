// Builds the dump requests: SOCK_DIAG_BY_FAMILY (nlmsghdr + struct inet_diag_req_v2), one
// family per walk of the kernel's socket tables, and TCPDIAG_GETSOCK (nlmsghdr + struct
// inet_diag_req), every family in one walk.
import { ALL_TCP_STATES, IPPROTO_TCP, NLM_F_DUMP, NLM_F_REQUEST, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK } from "./constants.ts";

export const DUMP_REQUEST_SIZE = 16 + 56;
/** nlmsghdr + struct inet_diag_req (family, src_len, dst_len, ext, sockid, states, dbs). */
export const ALL_FAMILIES_REQUEST_SIZE = 16 + 60;

export interface DumpRequestOptions {
  family: number;
  /** Bit mask of TCP states (1 << state); all states by default. */
  states?: number;
  /** idiag_ext bits: 0xff asks for every extension that fits the 8-bit mask. */
  extensions?: number;
  seq?: number;
}

function header(dv: DataView, size: number, type: number, seq: number): void {
  dv.setUint32(0, size, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
  dv.setUint32(8, seq, true);
  dv.setUint32(12, 0, true);
}

export function buildDumpRequest(opts: DumpRequestOptions): Uint8Array {
  const buf = new Uint8Array(DUMP_REQUEST_SIZE);
  const dv = new DataView(buf.buffer);
  header(dv, DUMP_REQUEST_SIZE, SOCK_DIAG_BY_FAMILY, opts.seq ?? 0);
  // struct inet_diag_req_v2; the sock id stays zero: no filter on addresses.
  dv.setUint8(16, opts.family);
  dv.setUint8(17, IPPROTO_TCP);
  dv.setUint8(18, opts.extensions ?? 0xff);
  dv.setUint32(20, (opts.states ?? ALL_TCP_STATES) >>> 0, true);
  return buf;
}

/**
 * One walk for IPv4 and IPv6 sockets alike: the same replies (struct inet_diag_msg and the
 * same attributes, message type TCPDIAG_GETSOCK), at about half the kernel's cost on an
 * idle host, where walking the empty buckets of the established table is most of a dump.
 * `type` is for tests that need a request the kernel refuses.
 */
export function buildAllFamiliesRequest(opts: Omit<DumpRequestOptions, "family">, type = TCPDIAG_GETSOCK): Uint8Array {
  const buf = new Uint8Array(ALL_FAMILIES_REQUEST_SIZE);
  const dv = new DataView(buf.buffer);
  header(dv, ALL_FAMILIES_REQUEST_SIZE, type, opts.seq ?? 0);
  // struct inet_diag_req: family (ignored by a dump), address lengths 0, extensions; the
  // sock id (48 bytes) zero; the states; dbs 0.
  dv.setUint8(19, opts.extensions ?? 0xff);
  dv.setUint32(16 + 52, (opts.states ?? ALL_TCP_STATES) >>> 0, true);
  return buf;
}

/** Rewrites the sequence number of a request built here, in place. */
export function setRequestSeq(request: Uint8Array, seq: number): void {
  new DataView(request.buffer, request.byteOffset, request.byteLength).setUint32(8, seq >>> 0, true);
}
