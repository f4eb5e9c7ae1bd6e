// The collector on a disk that fills up (a small tmpfs, needs root), with real loopback
// traffic: it keeps polling, keeps what it cannot write buffered, and when stopped gives an
// exact account: every snapshot taken is a line in a valid archive or counted lost (with
// ENOSPC as the reason), and the exit status says something was lost.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metricSum, stopWith } from "../helpers/collector-run.ts";
import { collectorOnFullDisk, diskTestCleanup, expectFullDiskAccount, expectStatusLinesBalanced } from "../helpers/disk-full.ts";

const cleanup = diskTestCleanup();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tcpinfo-faults-"));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("archives on a full disk: lines on disk + lines lost (ENOSPC) == snapshots taken; exit status 3", async () => {
  const db = join(tempDir(), "index.sqlite");
  const { tmpfs, collector, metrics, status } = await collectorOnFullDisk(cleanup, { db });
  // While the disk was full: writes failed, lines waited in memory (or were already given up).
  expect(Number(status.get("archive_errors"))).toBeGreaterThan(0);
  expect(Number(status.get("lines_buffered")) + Number(status.get("lines_lost"))).toBeGreaterThan(0);
  const lostBefore = metricSum(metrics, "tcpinfo_archive_lines_lost_total");
  const snapshotsBefore = metricSum(metrics, "tcpinfo_snapshot_total");

  const stopped = await stopWith(collector.run, "SIGTERM");
  expect(stopped.code).toBe(3);
  const disk = expectFullDiskAccount(stopped, tmpfs.dir);
  expectStatusLinesBalanced(collector.run.stderrLines.slice(0, -1));
  expect(stopped.final.lost).toBeGreaterThanOrEqual(lostBefore);
  expect(stopped.final.snapshots).toBeGreaterThanOrEqual(snapshotsBefore);
  // The index is on a healthy disk: nothing lost there, and it lists every file with its lines.
  expect(stopped.final.indexLost).toBe(0);
  const idx = new Database(db);
  try {
    const rows = idx.query<{ path: string; records: number }, []>("SELECT path, records FROM files").all();
    const indexed = new Map(rows.map((r) => [r.path, r.records]));
    expect([...indexed.keys()].sort()).toEqual([...disk.byFile.keys()].sort());
    const mismatched = [...disk.byFile].filter(([p, n]) => indexed.get(p) !== n).map(([p, n]) => `${p}: ${n} lines on disk, ${indexed.get(p)} in the index`);
    expect(mismatched).toEqual([]);
  } finally {
    idx.close();
  }
}, 40_000);

test("archives and index on the same full disk: index reports are retried, and whatever is lost is counted; exit 3 iff something was", async () => {
  const { tmpfs, collector, metrics } = await collectorOnFullDisk(cleanup, { leaveBytes: 64 * 1024 });
  const indexLostBefore = metricSum(metrics, "tcpinfo_index_reports_lost_total");

  const stopped = await stopWith(collector.run, "SIGTERM");
  const lines = collector.run.stderrLines;
  const f = stopped.final;
  // Exit 3 exactly when the final line counts something lost.
  expect(stopped.code).toBe(f.lost > 0 || f.indexLost > 0 ? 3 : 0);
  expect(stopped.code).toBe(3);
  expectFullDiskAccount(stopped, tmpfs.dir);
  expectStatusLinesBalanced(lines.slice(0, -1));

  // Failed index writes were logged as kept for a retry, not dropped.
  const failedWrites = lines.filter((l) => /^index write failed \(\d+ reports kept for retry\)/.test(l));
  const lostLogs = lines.filter((l) => l.startsWith("index: ") && l.includes("cycle reports LOST"));
  expect(failedWrites.length).toBeGreaterThan(0);
  expect(indexLostBefore).toBeLessThanOrEqual(f.indexLost);
  if (f.indexLost > 0) {
    // Counted once, and the final line agrees with the log's running total.
    expect(stopped.finalText).toContain(`; ${f.indexLost} index reports LOST (`);
    expect(Number(/; (\d+) in all$/.exec(lostLogs[lostLogs.length - 1])?.[1])).toBe(f.indexLost);
  } else {
    // Every report got written in the end: nothing said lost on that side.
    expect(stopped.finalText).not.toContain("index reports LOST");
    expect(lostLogs).toEqual([]);
  }

  // Room again: the index is a sound SQLite file (a full disk never corrupts it).
  rmSync(join(tmpfs.dir, "filler"));
  const idx = new Database(join(tmpfs.dir, "index.sqlite"));
  try {
    expect(idx.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()?.integrity_check).toBe("ok");
    expect(idx.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM connections").get()!.n).toBeGreaterThan(0);
  } finally {
    idx.close();
  }
}, 40_000);
