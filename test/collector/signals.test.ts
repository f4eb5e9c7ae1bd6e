// SIGTERM on the real collector: a healthy stop writes every line and exits 0;
// a stop that cannot write (its output on a full tmpfs; needs root) ends on its own at
// --shutdown-timeout, or promptly at a second signal, counting what is unwritten as lost
// and exiting 3.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { countArchiveLines, strayFiles } from "../helpers/archive-lines.ts";
import { awaitStopped, killIfRunning, startCollector, stopWith, waitCycles, waitUntil } from "../helpers/collector-run.ts";
import { collectorOnFullDisk, diskTestCleanup, expectFullDiskAccount, expectStatusLinesBalanced } from "../helpers/disk-full.ts";
import { startTraffic } from "../helpers/traffic.ts";

const cleanup = diskTestCleanup();

test("SIGTERM on a healthy run: every snapshot written, 'no line lost', exit 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tcpinfo-signals-"));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "out");
  const { run, api } = await startCollector(["--output", out, "--include-local", "--interval", "10", "--flush-ms", "100", "--index-batch-ms", "100"]);
  cleanup.add(() => killIfRunning(run));
  const traffic = await startTraffic({ busy: 4, churnEveryMs: 50 });
  cleanup.add(() => traffic.stop());
  await waitCycles({ run, api }, 50, 30_000);
  await waitUntil("some churned connections", () => (traffic.churned() >= 5 ? true : undefined));

  // Lines still buffered at the signal (the traffic goes on) are written by the shutdown.
  const stopped = await stopWith(run, "SIGTERM");
  expect(stopped.code).toBe(0);
  expect(stopped.finalText).toContain("; no line lost");
  expect(stopped.finalText).not.toContain("LOST");
  const f = stopped.final;
  expect(f.snapshots).toBeGreaterThan(0);
  expect(f.written).toBe(f.snapshots);
  expect(f.lost).toBe(0);
  expect(f.indexLost).toBe(0);
  expect(run.stderrLines).toContain("received SIGTERM: stopping; writing buffered lines (at most 60 s; send it again to stop sooner)");
  expect(Number(stopped.status.get("lines_buffered"))).toBe(0);
  const disk = countArchiveLines(out);
  expect(disk.invalid).toEqual([]);
  expect(disk.badMetadata).toEqual([]);
  expect(strayFiles(out)).toEqual([]);
  expect(disk.files.length).toBe(f.files);
  expect(disk.lines).toBe(f.written);
  // Nothing to wait for: a healthy stop is quick.
  expect(stopped.elapsedMs).toBeLessThan(5_000);
}, 60_000);

test("a second SIGTERM while the shutdown cannot write (full disk) stops at once: unwritten lines counted lost, exit 3", async () => {
  // The collector's own bound (60 s) is far away: only the second signal can end this soon.
  const { tmpfs, collector } = await collectorOnFullDisk(cleanup, { shutdownTimeout: null });
  const run = collector.run;
  const first = performance.now();
  run.proc.kill("SIGTERM");
  await run.waitForStderr(/^received SIGTERM: stopping; writing buffered lines \(at most 60 s;/);
  // The shutdown is stuck on the full disk: still running well after the first signal.
  await expect(Promise.race([run.exited.then(() => "exited"), Bun.sleep(1_500).then(() => "running")])).resolves.toBe("running");

  const second = performance.now();
  run.proc.kill("SIGTERM");
  const stopped = await awaitStopped(run, second, 20_000);
  expect(stopped.elapsedMs).toBeLessThan(3_000);
  expect(run.stderrLines).toContain("received SIGTERM again: stopping now; lines not yet written are counted as lost");
  expect(stopped.code).toBe(3);
  expectFullDiskAccount(stopped, tmpfs.dir);
  expectStatusLinesBalanced(run.stderrLines.slice(0, -1));
  expect(performance.now() - first).toBeLessThan(15_000);
}, 60_000);

test("a single SIGTERM while the shutdown cannot write ends on its own at --shutdown-timeout, exit 3", async () => {
  const bound = 4;
  const { tmpfs, collector } = await collectorOnFullDisk(cleanup, { shutdownTimeout: bound });
  const stopped = await stopWith(collector.run, "SIGTERM", 20_000);
  expect(collector.run.stderrLines).toContain(`received SIGTERM: stopping; writing buffered lines (at most ${bound} s; send it again to stop sooner)`);
  // The bound, plus the last index write and closing the API (3 s of slack on a busy machine).
  expect(stopped.elapsedMs).toBeLessThan(bound * 1000 + 3_000);
  expect(stopped.code).toBe(3);
  expectFullDiskAccount(stopped, tmpfs.dir);
  expectStatusLinesBalanced(collector.run.stderrLines.slice(0, -1));
}, 60_000);
