// An archived snapshot line, decoded into the same shape `snapshot` prints.
import { decodeSnapshotFrom, type Snapshot } from "../diag/snapshot.ts";
import type { SnapshotEntry } from "./parse-line.ts";
import { formatTime } from "./time.ts";

export function decodeEntry(entry: SnapshotEntry, uuid: string): Snapshot | null {
  return decodeSnapshotFrom(entry.rawIdm, 0, entry.rawIdm.byteLength, (t) => entry.attributes[t] ?? null, {
    timestamp: formatTime(entry.timestamp),
    uuid,
  });
}
