// `snapshot`: one dump of every TCP socket, printed as NDJSON, one decoded snapshot per
// socket. It is `ss -tin` as JSON.
import { AttributeIndex } from "../diag/attributes.ts";
import { AF_INET, AF_INET6, NLMSG_HDRLEN } from "../diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { destPort, isLocalConnection, sourcePort } from "../diag/sock-id.ts";
import { decodeMessage, type Snapshot } from "../diag/snapshot.ts";
import { SockDiagDumper } from "../collector/dumper.ts";
import { stringifyExact } from "../util/json.ts";
import { formatTime } from "../archive/time.ts";

export interface SnapshotOptions {
  port?: number;
  includeLocal: boolean;
  family?: 4 | 6;
  uuidPrefix: string;
  timestampMs?: number;
}

/** Takes one dump and returns the decoded snapshots that pass the filters. */
export function takeSnapshots(opts: SnapshotOptions): Snapshot[] {
  const families = opts.family === 4 ? [AF_INET] : opts.family === 6 ? [AF_INET6] : [AF_INET, AF_INET6];
  const dumper = new SockDiagDumper(families);
  const attrs = new AttributeIndex();
  const timestamp = formatTime(opts.timestampMs ?? Date.now());
  const out: Snapshot[] = [];
  try {
    dumper.dump((buf, off, len) => {
      const idm = off + NLMSG_HDRLEN;
      if (len - NLMSG_HDRLEN < INET_DIAG_MSG_SIZE) return;
      if (opts.port !== undefined && sourcePort(buf, idm) !== opts.port && destPort(buf, idm) !== opts.port) return;
      if (!opts.includeLocal && isLocalConnection(buf[idm], buf, idm)) return;
      const snap = decodeMessage(buf, off, len, attrs, { timestamp, uuidPrefix: opts.uuidPrefix });
      if (snap) out.push(snap);
    });
  } finally {
    dumper.close();
  }
  return out;
}

export function snapshotLines(snaps: readonly Snapshot[]): string {
  return snaps.map((s) => stringifyExact(s) + "\n").join("");
}
