// A connections row as read back: the column list every reader selects, and its mapping
// to a ConnectionRecord, kept in one place so listings and lookups cannot drift apart.
import type { ConnectionRecord, EndReason, NetnsIdentity } from "./types.ts";
import { cookieFromHex, u64FromSql } from "./u64.ts";

export const COLUMNS = `uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode,
  first_seen, last_seen, closed_at, end_reason, first_state, last_state,
  bytes_sent, bytes_received, bytes_acked, snapshots,
  netns_inode, netns_name, container, pod`;

/** A row as read with safeIntegers: every integer is a bigint. */
export interface Row {
  uuid: string;
  cookie: string;
  family: bigint;
  src_ip: string;
  src_port: bigint;
  dst_ip: string;
  dst_port: bigint;
  interface: bigint;
  uid: bigint;
  inode: bigint;
  first_seen: bigint;
  last_seen: bigint;
  closed_at: bigint | null;
  end_reason: string | null;
  first_state: bigint;
  last_state: bigint;
  bytes_sent: bigint | null;
  bytes_received: bigint | null;
  bytes_acked: bigint | null;
  snapshots: bigint;
  netns_inode: bigint | null;
  netns_name: string | null;
  container: string | null;
  pod: string | null;
}

const num = (v: bigint): number => Number(v);

/** The namespace, or undefined when the row has none; only the non-null fields are set. */
function netnsOf(r: Row): NetnsIdentity | undefined {
  // The inode is the identity: without it the names would describe nothing.
  if (r.netns_inode === null) return undefined;
  const n: NetnsIdentity = { inode: num(r.netns_inode) };
  if (r.netns_name !== null) n.name = r.netns_name;
  if (r.container !== null) n.container = r.container;
  if (r.pod !== null) n.pod = r.pod;
  return n;
}

export function toRecord(r: Row): ConnectionRecord {
  const c: ConnectionRecord = {
    uuid: r.uuid,
    cookie: cookieFromHex(r.cookie),
    family: Number(r.family) === 6 ? 6 : 4,
    src: { ip: r.src_ip, port: num(r.src_port) },
    dst: { ip: r.dst_ip, port: num(r.dst_port) },
    interface: num(r.interface),
    uid: num(r.uid),
    inode: num(r.inode),
    firstSeen: num(r.first_seen),
    lastSeen: num(r.last_seen),
    closedAt: r.closed_at === null ? null : num(r.closed_at),
    endReason: r.end_reason as EndReason | null,
    firstState: num(r.first_state),
    lastState: num(r.last_state),
    bytesSent: u64FromSql(r.bytes_sent),
    bytesReceived: u64FromSql(r.bytes_received),
    bytesAcked: u64FromSql(r.bytes_acked),
    snapshots: num(r.snapshots),
  };
  // Absent, not undefined: toEqual and JSON treat the two alike, `in` does not.
  const netns = netnsOf(r);
  if (netns !== undefined) c.netns = netns;
  return c;
}
