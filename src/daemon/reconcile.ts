// Start-up reconciliation of the index with the archives on disk. The index trails the
// files by up to one batch, and a killed collector can leave a file empty or with a torn
// last frame. Before polling starts:
// - every file the index still has current is checked: torn frames are cut off, a file
//   with no complete frame is removed; its row gets the records on disk and is closed at
//   the file's last write;
// - unless the last run stopped cleanly, the day folders written since the index's last
//   batch are listed, and every archive there that the index does not know is checked and
//   added (with its connection, from the file's first record, when that is unknown too);
// - connections' snapshot counts are brought up to what their files hold.
// Everything done is counted; the caller logs it.
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { datePath, parseArchivePath } from "../archive/naming.ts";
import { repairArchive, type RepairResult } from "../archive/repair.ts";
import { describeConnection } from "../collector/describe.ts";
import type { IndexRecovery } from "../index-db/index.ts";

export interface ReconcileResult {
  /** Files checked (current at the last stop, or unknown to the index). */
  checked: number;
  truncated: number;
  removed: number;
  /** Bytes of torn frames and empty or unusable files dropped. */
  droppedBytes: number;
  /** Files on disk the index did not have, now in it. */
  filesAdded: number;
  connectionsAdded: number;
  /** Files the index had current but that are gone from disk (their rows are closed as they were). */
  missing: number;
  /** Leftovers of an interrupted compaction, removed. */
  staleTemp: number;
  /** Whether the day folders were scanned (not needed after a clean stop). */
  scanned: boolean;
  /** The StartTime of each connection whose files were read (exact, from the Metadata line). */
  startTimes: Map<string, { ms: number; subMs: number }>;
}

const DAY_MS = 86_400_000;
/** Files are created up to a flush interval after the snapshot that dates them; look back further. */
const SCAN_MARGIN_MS = 10 * 60_000;

/** "YYYY/MM/DD" folders from `fromMs` to `toMs` (UTC days, both included). */
function dayFolders(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(fromMs / DAY_MS) * DAY_MS; t <= toMs; t += DAY_MS) out.push(datePath(t));
  return out;
}

export function reconcileArchives(rec: IndexRecovery, outputDir: string, nowMs: number): ReconcileResult {
  const r: ReconcileResult = {
    checked: 0, truncated: 0, removed: 0, droppedBytes: 0, filesAdded: 0, connectionsAdded: 0,
    missing: 0, staleTemp: 0, scanned: false, startTimes: new Map(),
  };
  const touched = new Map<string, number>();
  const note = (uuid: string, res: RepairResult) => {
    r.checked++;
    r.droppedBytes += res.droppedBytes;
    if (res.action === "truncated") r.truncated++;
    if (res.action === "removed") r.removed++;
    const lastSeen = res.last?.timestamp ?? 0;
    touched.set(uuid, Math.max(touched.get(uuid) ?? 0, lastSeen));
    if (res.metadata) r.startTimes.set(uuid, { ms: res.metadata.startTime, subMs: res.metadata.startTimeSubMs });
  };

  rec.transaction(() => {
    for (const f of rec.openFiles()) {
      const abs = join(outputDir, f.path);
      if (!existsSync(abs)) {
        r.missing++;
        rec.closeFile(f.uuid, f.seq, nowMs);
        continue;
      }
      const res = repairArchive(abs);
      note(f.uuid, res);
      if (res.action === "removed") rec.removeFile(f.uuid, f.seq);
      else rec.setFile(f.uuid, f.seq, f.path, f.openedAt, Math.round(res.mtimeMs), res.records);
    }

    const clean = rec.meta("clean_stop") === "1";
    const lastBatch = Number(rec.meta("last_batch_ms") ?? "0");
    if (!clean) {
      r.scanned = true;
      const from = lastBatch > 0 ? lastBatch - SCAN_MARGIN_MS : nowMs - DAY_MS;
      for (const day of dayFolders(from, nowMs)) scanDay(rec, outputDir, day, r, note);
    }
    for (const [uuid, lastSeen] of touched) rec.syncCounts(uuid, lastSeen);
    rec.setMeta("clean_stop", "0");
  });
  return r;
}

function scanDay(rec: IndexRecovery, outputDir: string, day: string, r: ReconcileResult, note: (uuid: string, res: RepairResult) => void): void {
  const dir = join(outputDir, day);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no archive written that day
  }
  for (const name of names) {
    if (name.endsWith(".jsonl.zst.compact")) {
      // A compaction killed before its rename: the original file is intact beside it.
      unlinkSync(join(dir, name));
      r.staleTemp++;
      continue;
    }
    const rel = `${day}/${name}`;
    const parsed = parseArchivePath(rel);
    if (parsed === null || rec.hasFile(parsed.uuid, parsed.seq)) continue;
    const res = repairArchive(join(outputDir, rel));
    note(parsed.uuid, res);
    if (res.action === "removed") continue;
    if (!rec.hasConnection(parsed.uuid)) {
      const first = res.first;
      const meta = res.metadata;
      if (first === null || meta === null) continue; // a file with no snapshot names no connection
      const conn = describeConnection(first.rawIdm, 0, parsed.uuid, meta.startTime);
      if (rec.addConnection(conn, res.last?.timestamp ?? first.timestamp, res.last?.rawIdm[1] ?? conn.state)) r.connectionsAdded++;
    }
    const openedAt = res.first?.timestamp ?? Math.round(res.mtimeMs);
    rec.setFile(parsed.uuid, parsed.seq, rel, openedAt, Math.round(res.mtimeMs), res.records);
    r.filesAdded++;
  }
}

/** One log line for what reconciliation did. */
export function reconcileSummary(r: ReconcileResult): string {
  return (
    `reconcile: checked ${r.checked} archive files (${r.truncated} torn last frames cut, ${r.removed} empty or unusable removed, ` +
    `${r.droppedBytes} bytes dropped); added ${r.filesAdded} files and ${r.connectionsAdded} connections the index did not have; ` +
    `${r.missing} current files missing from disk; ${r.staleTemp} interrupted compactions cleaned` +
    (r.scanned ? "" : " (clean stop: no folder scan)")
  );
}
