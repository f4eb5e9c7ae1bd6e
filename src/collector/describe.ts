// A connection's identity as the index and the eventsocket record it, read from an
// inet_diag_msg: by the collector when it first archives a socket, and by start-up
// reconciliation from the first record of an archive the index does not know.
import { AF_INET } from "../diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { destPort, dstAddress, readCookie, sourcePort, srcAddress } from "../diag/sock-id.ts";
import type { OpenedConnection } from "../model/report.ts";

export function describeConnection(buf: Uint8Array, idm: number, uuid: string, firstSeen: number): OpenedConnection {
  const family = buf[idm];
  const dv = new DataView(buf.buffer, buf.byteOffset + idm, INET_DIAG_MSG_SIZE);
  return {
    uuid,
    cookie: readCookie(buf, idm),
    family: family === AF_INET ? 4 : 6,
    src: { ip: srcAddress(family, buf, idm), port: sourcePort(buf, idm) },
    dst: { ip: dstAddress(family, buf, idm), port: destPort(buf, idm) },
    interface: dv.getUint32(40, false),
    uid: dv.getUint32(64, true),
    inode: dv.getUint32(68, true),
    firstSeen,
    state: buf[idm + 1],
  };
}
