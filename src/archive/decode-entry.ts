// An archived snapshot line, decoded into the same shape `snapshot` prints.
import { decodeSnapshotFrom, type Snapshot } from "../diag/snapshot.ts";
import type { SnapshotEntry } from "./parse-line.ts";
import { formatTimeMsNs } from "./time.ts";
import { readArchive } from "./reader.ts";

export function decodeEntry(entry: SnapshotEntry, uuid: string): Snapshot | null {
  return decodeSnapshotFrom(entry.rawIdm, 0, entry.rawIdm.byteLength, (t) => entry.attributes[t] ?? null, {
    // UTC at the file's precision (nanoseconds), as the collector writes it.
    timestamp: formatTimeMsNs(entry.timestamp, entry.timestampSubMs),
    uuid,
  });
}

/** Every snapshot in the given archive files, in order, decoded (malformed lines skipped). */
export async function* readSnapshots(paths: readonly string[]): AsyncGenerator<Snapshot> {
  for (const path of paths) {
    let uuid = "";
    for await (const e of readArchive(path)) {
      if (e.kind === "metadata") uuid = e.metadata.uuid;
      else {
        const snap = decodeEntry(e, uuid);
        if (snap) yield snap;
      }
    }
  }
}
