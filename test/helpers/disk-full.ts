// A collector writing its archives to a small tmpfs that fills up under loopback traffic,
// and the account it must give of that when it stops.
import { afterEach, expect } from "bun:test";
import { countArchiveLines, strayFiles, type ArchiveLineCount } from "./archive-lines.ts";
import { killIfRunning, metricSum, metricsText, parseStatusLine, startCollector, waitCycles, waitUntil, type RunningCollector, type Stopped } from "./collector-run.ts";
import { mountTmpfs, unmountAll, type Tmpfs } from "./tmpfs.ts";
import { startTraffic, type Traffic } from "./traffic.ts";

/** Cleanup steps a test runs in afterEach, last registered first. */
export class Cleanup {
  private readonly steps: (() => unknown)[] = [];
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

export interface FullDisk {
  tmpfs: Tmpfs;
  collector: RunningCollector;
  traffic: Traffic;
  /** /metrics as scraped once archive writes had failed with ENOSPC for a while. */
  metrics: string;
  /** A status line printed after the first ENOSPC. */
  status: Map<string, string>;
}

export interface FullDiskOptions {
  /** Where the index goes; default <output>/index.sqlite, on the tmpfs. */
  db?: string;
  tmpfsBytes?: number;
  /** Free bytes left when the traffic starts. */
  leaveBytes?: number;
  /** Poll cycles to keep running after the first ENOSPC (and a status line after it). */
  cyclesAfter?: number;
  /** --shutdown-timeout (s); default 2. null: not given (the collector's default). */
  shutdownTimeout?: number | null;
}

/**
 * Mounts a tmpfs as the output folder, starts the collector (`--include-local`, 10 ms
 * polls, status lines every second, a short --shutdown-timeout), fills the tmpfs up to
 * `leaveBytes`, starts traffic and waits until archive writes fail with ENOSPC, then lets
 * it run `cyclesAfter` more polls. Everything it starts is registered with `cleanup`.
 */
export async function collectorOnFullDisk(cleanup: Cleanup, opts: FullDiskOptions = {}): Promise<FullDisk> {
  const tmpfs = mountTmpfs(opts.tmpfsBytes ?? 4 * 1024 * 1024);
  const args = ["--output", tmpfs.dir, "--include-local", "--interval", "10", "--flush-ms", "100", "--index-batch-ms", "100", "--status-seconds", "1"];
  if (opts.db !== undefined) args.push("--db", opts.db);
  const bound = opts.shutdownTimeout === undefined ? 2 : opts.shutdownTimeout;
  if (bound !== null) args.push("--shutdown-timeout", String(bound));
  const collector = await startCollector(args);
  cleanup.add(() => killIfRunning(collector.run));
  await waitCycles(collector, 3);
  tmpfs.fill(opts.leaveBytes ?? 128 * 1024);
  const traffic = await startTraffic();
  cleanup.add(() => traffic.stop());
  await waitUntil(
    "archive writes failing with ENOSPC",
    async () => (metricSum(await metricsText(collector.api), "tcpinfo_error_total", { type: "archive_ENOSPC" }) > 0 ? true : undefined),
    30_000,
    50,
  );
  const after = collector.run.stderrLines.length;
  await waitCycles(collector, opts.cyclesAfter ?? 20, 30_000);
  // The next status line (they come every second) shows the state of things on a full disk.
  await waitUntil("a status line after the first ENOSPC", () => (collector.run.stderrLines.slice(after).some((l) => l.startsWith("status: ")) ? true : undefined), 10_000);
  const status = parseStatusLine(collector.run.stderrLines.slice(after).find((l) => l.startsWith("status: "))!);
  const metrics = await metricsText(collector.api);
  return { tmpfs, collector, traffic, metrics, status };
}

/** Every status line so far: each snapshot taken is written, buffered or lost, at every moment. */
export function expectStatusLinesBalanced(stderr: readonly string[]): void {
  const lines = stderr.filter((l) => l.startsWith("status: "));
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) {
    const s = parseStatusLine(l);
    const n = (k: string) => Number(s.get(k));
    expect({ line: l, balance: n("lines_written") + n("lines_buffered") + n("lines_lost") }).toEqual({ line: l, balance: n("snapshots") });
  }
}

/**
 * The account of a run that stopped with its archives on a full disk: lines lost with
 * ENOSPC, lines on disk (read by `zstd -dc`) + lines lost == snapshots taken, lines
 * written == lines on disk, every file a valid zstd stream.
 */
export function expectFullDiskAccount(stopped: Stopped, outputDir: string): ArchiveLineCount {
  const f = stopped.final;
  expect(stopped.finalText).toContain("lines LOST (");
  expect(f.lost).toBeGreaterThan(0);
  expect(f.lostBy.ENOSPC ?? 0).toBeGreaterThan(0);
  // Lines whose writes failed are lost to ENOSPC; lines never tried, to the time bound.
  expect(Object.keys(f.lostBy).filter((r) => r !== "ENOSPC" && r !== "shutdown_timeout")).toEqual([]);
  expect(Object.values(f.lostBy).reduce((a, b) => a + b, 0)).toBe(f.lost);
  const disk = countArchiveLines(outputDir);
  expect(disk.invalid).toEqual([]);
  expect(disk.badMetadata).toEqual([]);
  expect(strayFiles(outputDir)).toEqual([]);
  expect(disk.files.length).toBe(f.files);
  expect(f.written).toBe(disk.lines);
  expect(disk.lines + f.lost).toBe(f.snapshots);
  // The status line before the final one says the same.
  expect(Number(stopped.status.get("snapshots"))).toBe(f.snapshots);
  expect(Number(stopped.status.get("lines_written"))).toBe(f.written);
  expect(Number(stopped.status.get("lines_lost"))).toBe(f.lost);
  expect(Number(stopped.status.get("lines_buffered"))).toBe(0);
  return disk;
}

/** A Cleanup run after each test of the calling file, then every tmpfs unmounted, even when a step fails. */
export function diskTestCleanup(): Cleanup {
  const cleanup = new Cleanup();
  afterEach(async () => {
    try {
      await cleanup.run();
    } finally {
      unmountAll();
    }
  });
  return cleanup;
}
