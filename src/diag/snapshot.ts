// Full decode of one SOCK_DIAG_BY_FAMILY message into a readable snapshot: the
// `snapshot` command's output and the API's. The hot path never calls this.
import { AttributeIndex } from "./attributes.ts";
import { AF_INET, Attr, NLMSG_HDRLEN, tcpStateName } from "./constants.ts";
import { BBR_INFO, DCTCP_INFO, INET_DIAG_MSG, INET_DIAG_MSG_SIZE, MEM_INFO, SK_MEM_INFO, SOCKOPT, TCP_INFO, VEGAS_INFO } from "./layouts.ts";
import { decodeStruct, type Decoded, type StructLayout } from "./struct.ts";
import { cookieHex, dstAddress, readCookie, srcAddress } from "./sock-id.ts";
import type { NetnsIdentity } from "../model/report.ts";

export interface Endpoint {
  ip: string;
  port: number;
}

/** The decoded fixed part (struct inet_diag_msg) of a message. */
export interface InetDiagMsg {
  family: number;
  state: number;
  timer: number;
  retrans: number;
  src: Endpoint;
  dst: Endpoint;
  interface: number;
  cookie: bigint;
  expires: number;
  rqueue: number;
  wqueue: number;
  uid: number;
  inode: number;
}

export interface Snapshot {
  timestamp: string;
  /** The network namespace the socket lives in (set by the caller that dumped it). */
  netns?: NetnsIdentity;
  cookie: string;
  uuid: string;
  family: 4 | 6;
  state: string;
  src: Endpoint;
  dst: Endpoint;
  interface: number;
  uid: number;
  inode: number;
  timer: number;
  retrans: number;
  expires: number;
  rqueue: number;
  wqueue: number;
  tcpInfo?: Decoded;
  memInfo?: Decoded;
  skMemInfo?: Decoded;
  congestion?: string;
  tos?: number;
  tclass?: number;
  shutdown?: number;
  vegasInfo?: Decoded;
  dctcpInfo?: Decoded;
  bbrInfo?: Decoded;
  protocol?: number;
  v6only?: number;
  mark?: number;
  classId?: number;
  cgroupId?: bigint;
  sockopt?: Decoded;
}

/** Parses the 72-byte inet_diag_msg at `idm`; null when fewer than 72 bytes remain. */
export function parseInetDiagMsg(buf: Uint8Array, idm: number, available = buf.byteLength - idm): InetDiagMsg | null {
  if (available < INET_DIAG_MSG_SIZE || idm + INET_DIAG_MSG_SIZE > buf.byteLength) return null;
  const f = decodeStruct(INET_DIAG_MSG, buf, idm, INET_DIAG_MSG_SIZE) as Record<string, number>;
  return {
    family: f.family,
    state: f.state,
    timer: f.timer,
    retrans: f.retrans,
    src: { ip: srcAddress(f.family, buf, idm), port: f.sport },
    dst: { ip: dstAddress(f.family, buf, idm), port: f.dport },
    interface: f.interface,
    cookie: readCookie(buf, idm),
    expires: f.expires,
    rqueue: f.rqueue,
    wqueue: f.wqueue,
    uid: f.uid,
    inode: f.inode,
  };
}

type AttrDecoder = (v: Uint8Array) => unknown;

const struct = (l: StructLayout): AttrDecoder => (v) => decodeStruct(l, v);
const u8: AttrDecoder = (v) => (v.byteLength >= 1 ? v[0] : undefined);
const u32: AttrDecoder = (v) => (v.byteLength >= 4 ? new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true) : undefined);
const u64: AttrDecoder = (v) => (v.byteLength >= 8 ? new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true) : undefined);
const cstring: AttrDecoder = (v) => {
  const nul = v.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? v : v.subarray(0, nul));
};

/** Which attribute becomes which snapshot key, decoded how. */
const ATTRIBUTE_FIELDS: readonly (readonly [Attr, keyof Snapshot, AttrDecoder])[] = [
  [Attr.INFO, "tcpInfo", struct(TCP_INFO)],
  [Attr.MEMINFO, "memInfo", struct(MEM_INFO)],
  [Attr.SKMEMINFO, "skMemInfo", struct(SK_MEM_INFO)],
  [Attr.CONG, "congestion", cstring],
  [Attr.TOS, "tos", u8],
  [Attr.TCLASS, "tclass", u8],
  [Attr.SHUTDOWN, "shutdown", u8],
  [Attr.VEGASINFO, "vegasInfo", struct(VEGAS_INFO)],
  [Attr.DCTCPINFO, "dctcpInfo", struct(DCTCP_INFO)],
  [Attr.BBRINFO, "bbrInfo", struct(BBR_INFO)],
  [Attr.PROTOCOL, "protocol", u8],
  [Attr.SKV6ONLY, "v6only", u8],
  [Attr.MARK, "mark", u32],
  [Attr.CLASS_ID, "classId", u32],
  [Attr.CGROUP_ID, "cgroupId", u64],
  [Attr.SOCKOPT, "sockopt", struct(SOCKOPT)],
];

export interface DecodeOptions {
  timestamp: string;
  /** The UUID is `<uuidPrefix>_<cookie>` unless `uuid` gives it outright. */
  uuidPrefix?: string;
  uuid?: string;
}

/** Returns an attribute's payload by type, or null when absent. */
export type AttributeLookup = (type: number) => Uint8Array | null;

/**
 * Decodes an inet_diag_msg (at `idm` in `buf`, `idmAvailable` bytes from there) and the
 * attributes `attribute` returns. Null if the fixed part is truncated.
 */
export function decodeSnapshotFrom(buf: Uint8Array, idm: number, idmAvailable: number, attribute: AttributeLookup, opts: DecodeOptions): Snapshot | null {
  const m = parseInetDiagMsg(buf, idm, idmAvailable);
  if (!m) return null;
  const hex = cookieHex(m.cookie);
  const snap: Snapshot = {
    timestamp: opts.timestamp,
    cookie: hex,
    uuid: opts.uuid ?? `${opts.uuidPrefix ?? ""}_${hex}`,
    family: m.family === AF_INET ? 4 : 6,
    state: tcpStateName(m.state),
    src: m.src,
    dst: m.dst,
    interface: m.interface,
    uid: m.uid,
    inode: m.inode,
    timer: m.timer,
    retrans: m.retrans,
    expires: m.expires,
    rqueue: m.rqueue,
    wqueue: m.wqueue,
  };
  const out = snap as unknown as Record<string, unknown>;
  for (const [type, key, decode] of ATTRIBUTE_FIELDS) {
    const v = attribute(type);
    if (!v) continue;
    const value = decode(v);
    if (value !== undefined) out[key] = value;
  }
  return snap;
}

/** decodeSnapshotFrom() with attributes already indexed in `attrs` over the same buffer. */
export function decodeSnapshot(buf: Uint8Array, idm: number, idmAvailable: number, attrs: AttributeIndex, opts: DecodeOptions): Snapshot | null {
  return decodeSnapshotFrom(buf, idm, idmAvailable, (t) => attrs.view(buf, t), opts);
}

/**
 * Decodes a whole netlink message (header at `offset`, `length` bytes). Uses `attrs` as
 * scratch space. Null when the message is too short to hold an inet_diag_msg.
 */
export function decodeMessage(buf: Uint8Array, offset: number, length: number, attrs: AttributeIndex, opts: DecodeOptions): Snapshot | null {
  const idm = offset + NLMSG_HDRLEN;
  const end = offset + length;
  if (end - idm < INET_DIAG_MSG_SIZE) return null;
  attrs.index(buf, idm + INET_DIAG_MSG_SIZE, end);
  return decodeSnapshot(buf, idm, end - idm, attrs, opts);
}
