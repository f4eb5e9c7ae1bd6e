// Scenario 3a worker (runs inside nsA while load.c keeps every connection busy): the
// collector's own poll loop (src/daemon/loop.ts runLoop, 10 ms interval, destroy
// events on, zstd, writing to a scratch folder). A warm-up lets the first snapshots be
// archived and the first files be created; the steady-state window after it is measured:
// snapshots archived per wall second and per CPU second of this process (all threads).
// Args: --out DIR --warmup-ms W --seconds D [--interval MS]
import { runLoop } from "../../src/daemon/loop.ts";
import { makeCollector } from "../lib/collector-setup.ts";
import { timeFlushes } from "../lib/flush-timer.ts";
import { cpuSplitMs, median, quantile } from "../lib/stats.ts";
import { argNumber, argString, emitResult, runWorker } from "../lib/worker-io.ts";

interface Mark {
  t: number;
  user: number;
  sys: number;
  snapshots: number;
  recordsWritten: number;
  bytesWritten: number;
  bytesIn: number;
  flushes: number;
  filesCreated: number;
  cycles: number;
  flushMs: number;
}

/** Longest wait for every connection's first file before measuring anyway. */
const FILES_WAIT_CAP_MS = 60_000;

runWorker("poll-active", async () => {
  let warmedAfterMs = 0;
  const { collector, archive } = makeCollector({ outputDir: argString("out"), destroyEvents: true });
  const warmupMs = argNumber("warmup-ms");
  const windowMs = argNumber("seconds") * 1000;
  const flush = timeFlushes();
  const stop = new AbortController();
  const cycleMs: number[] = [];
  // Flush time inside each measured cycle: shows whether flushes come in bursts.
  const cycleFlushMs: number[] = [];
  let flushAtCycleStart = 0;
  let cycles = 0;
  const mark = (): Mark => {
    const a = archive.stats();
    const c = cpuSplitMs();
    return { t: performance.now(), user: c.user, sys: c.sys, snapshots: collector.stats.snapshots, recordsWritten: a.recordsWritten, bytesWritten: a.bytesWritten, bytesIn: a.bytesIn, flushes: a.flushes, filesCreated: a.filesCreated, cycles, flushMs: flush.ms };
  };
  const t0 = performance.now();
  // A holder object rather than two `let`s: TypeScript does not see the callback
  // assign them and would narrow them to null after the loop.
  const win: { start: Mark | null; end: Mark | null } = { start: null, end: null };
  // The window is opened and closed from the loop's own per-cycle callback: runLoop does
  // not yield to timers when cycles overrun the interval, so a setTimeout might never fire.
  const sink = {
    onReport(_report: unknown, ms: number): void {
      cycles++;
      const now = performance.now();
      if (win.start === null) {
        // Steady state: past the warm-up, and every tracked connection has its file
        // (creating 10k files takes seconds on a slow disk; that is start-up, not
        // throughput). Capped so a disk that never catches up still gets measured.
        const filesReady = archive.stats().filesCreated >= collector.tracked;
        if (now - t0 >= warmupMs && (filesReady || now - t0 >= FILES_WAIT_CAP_MS)) {
          warmedAfterMs = now - t0;
          win.start = mark();
        }
        flushAtCycleStart = flush.ms;
        return;
      }
      cycleMs.push(ms);
      cycleFlushMs.push(flush.ms - flushAtCycleStart);
      flushAtCycleStart = flush.ms;
      if (win.end === null && now - win.start.t >= windowMs) {
        win.end = mark();
        stop.abort();
      }
    },
  };
  await runLoop(collector, sink, { intervalMs: argNumber("interval", 10), reps: 0, statusSeconds: 0, log: () => {} }, stop.signal);
  collector.shutdown(Date.now());
  const s = win.start;
  const e = win.end;
  if (s === null || e === null) throw new Error("measurement window never closed");
  const wallS = (e.t - s.t) / 1000;
  const userS = (e.user - s.user) / 1000;
  const sysS = (e.sys - s.sys) / 1000;
  const cpuS = userS + sysS;
  const records = e.snapshots - s.snapshots;
  emitResult({
    warmedAfterMs,
    records,
    wallS,
    cpuS,
    userS,
    sysS,
    recordsPerSec: records / wallS,
    recordsPerCpuSec: records / cpuS,
    cpuShare: cpuS / wallS,
    cycles: e.cycles - s.cycles,
    cycleMedianMs: median(cycleMs),
    cycleP99Ms: quantile(cycleMs, 0.99),
    sockets: collector.stats.sockets,
    recordsWritten: e.recordsWritten - s.recordsWritten,
    bytesWritten: e.bytesWritten - s.bytesWritten,
    bytesIn: e.bytesIn - s.bytesIn,
    flushes: e.flushes - s.flushes,
    filesCreatedInWindow: e.filesCreated - s.filesCreated,
    flushMs: e.flushMs - s.flushMs,
    flushShareOfWall: (e.flushMs - s.flushMs) / (e.t - s.t),
    maxCycleFlushMs: Math.max(0, ...cycleFlushMs),
    cycleMaxMs: Math.max(0, ...cycleMs),
    errors: collector.stats.totalErrors(),
  });
});
