// Index records as the API shows them: RFC 3339 UTC times with a fixed 3-digit fraction
// (they sort as text), state names, cookie as 16 upper-hex digits, byte counters as
// exact JSON integers (numbers up to 2^53, bigints past it, written by util/json).
import { tcpStateName } from "../diag/constants.ts";
import { cookieHex } from "../diag/sock-id.ts";
import type { ConnectionRecord, ConnectionWithFiles, FileRecord, NetnsIdentity } from "../index-db/index.ts";
import { exactInt } from "../util/json.ts";
import { formatApiTime } from "./time.ts";

const time = (ms: number | null) => (ms === null ? null : formatApiTime(ms));

export function connectionView(c: ConnectionRecord) {
  return {
    uuid: c.uuid,
    cookie: cookieHex(c.cookie),
    family: c.family,
    src: c.src,
    dst: c.dst,
    interface: c.interface,
    uid: c.uid,
    inode: c.inode,
    // Left out when unknown (rows written by older builds).
    ...(c.netns === undefined ? {} : { netns: netnsView(c.netns) }),
    state: c.closedAt === null ? "open" : "closed",
    firstSeen: formatApiTime(c.firstSeen),
    lastSeen: formatApiTime(c.lastSeen),
    closedAt: time(c.closedAt),
    endReason: c.endReason,
    firstState: tcpStateName(c.firstState),
    lastState: tcpStateName(c.lastState),
    bytesSent: exactInt(c.bytesSent),
    bytesReceived: exactInt(c.bytesReceived),
    bytesAcked: exactInt(c.bytesAcked),
    snapshots: c.snapshots,
  };
}

/** {inode, name?, container?, pod?}, in that order, with only the known keys. */
export function netnsView(n: NetnsIdentity): NetnsIdentity {
  const v: NetnsIdentity = { inode: n.inode };
  if (n.name !== undefined) v.name = n.name;
  if (n.container !== undefined) v.container = n.container;
  if (n.pod !== undefined) v.pod = n.pod;
  return v;
}

export function fileView(f: FileRecord) {
  return { path: f.path, seq: f.seq, openedAt: formatApiTime(f.openedAt), closedAt: time(f.closedAt), records: f.records };
}

export function connectionDetailView(c: ConnectionWithFiles) {
  return { ...connectionView(c), files: c.files.map(fileView) };
}
