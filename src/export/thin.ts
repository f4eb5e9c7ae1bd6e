// --every: at most one snapshot per interval of a connection's life, the first and the
// last always kept, each kept row saying how many snapshots it stands for (itself and the
// ones dropped after it), so the counts add up to what the archives hold.
import type { SnapshotEntry } from "../archive/parse-line.ts";

/** Time of an entry in ns (exact: ms and the ns below it). */
const ns = (e: SnapshotEntry): number => e.timestamp * 1e6 + e.timestampSubMs;

export function thin(entries: readonly SnapshotEntry[], everyMs: number): [SnapshotEntry, number][] {
  const out: [SnapshotEntry, number][] = [];
  if (entries.length === 0) return out;
  const every = everyMs * 1e6;
  const start = ns(entries[0]);
  let bucket = -1;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const b = Math.floor((ns(e) - start) / every);
    const last = i === entries.length - 1;
    if (b !== bucket || last) {
      bucket = b;
      out.push([e, 1]);
    } else out[out.length - 1][1]++;
  }
  return out;
}
