// Scenario 7: the whole collector process (`bun src/index.ts collector --reps N
// --interval 10` in nsA: start-up, first snapshots of every connection, their files,
// N polls, shutdown) against the floor process doing N dumps at the same fixed rate
// (--period-ms 10, the collector loop's schedule) with the same state mask. Wall from
// spawn to exit; CPU from the kernel's rusage of each process.
import { join } from "node:path";
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { floorArgv } from "../lib/floor.ts";
import { BUN, REPO_DIR, timedRun, type TimedRun } from "../lib/proc.ts";
import { median } from "../lib/stats.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import type { PopulatedContext } from "./context.ts";

export async function wholeProcess(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { tb, sizes } = ctx;
  const reps = sizes.processReps;
  const subject: TimedRun[] = [];
  const floor: TimedRun[] = [];
  const statuses: string[] = [];
  const floorCmd = floorArgv(ctx.bins.floor, { reps, states: COLLECTOR_STATES, periodMs: 10 });
  const runCollector = async (): Promise<void> => {
    const out = makeTmpDir("process");
    try {
      const r = await timedRun(tb, tb.nsA, [BUN, join(REPO_DIR, "src/index.ts"), "collector", "--output", out, "--interval", "10", "--reps", String(reps), "--status-seconds", "0"], 180_000);
      if (r.code !== 0) throw new Error(`collector exited ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
      subject.push(r);
      statuses.push(r.stderr.split("\n").find((l) => l.startsWith("status:")) ?? "");
    } finally {
      removeTmp(out);
    }
  };
  const runFloor = async (): Promise<void> => {
    const r = await timedRun(tb, tb.nsA, floorCmd, 180_000);
    if (r.code !== 0) throw new Error(`floor exited ${r.code}: ${r.stderr.trim()}`);
    floor.push(r);
  };
  for (let i = 0; i < sizes.processRounds; i++) {
    if (i % 2 === 0) {
      await runFloor();
      await runCollector();
    } else {
      await runCollector();
      await runFloor();
    }
  }
  const name = `collector process, ${reps} polls @10 ms, ${sizes.conns / 1000}k idle`;
  const m = (xs: TimedRun[], f: (r: TimedRun) => number): number => median(xs.map(f));
  return {
    rows: [
      row({ scenario: 7, key: "s7.process.wall", name, metric: "wall/process (median)", unit: "ms", value: m(subject, (r) => r.wallMs), floor: m(floor, (r) => r.wallMs), target: null, details: { statuses, maxRssBytes: m(subject, (r) => r.maxRssBytes) } }),
      row({ scenario: 7, key: "s7.process.cpu", name, metric: "CPU/process (median)", unit: "ms", value: m(subject, (r) => r.cpuMs), floor: m(floor, (r) => r.cpuMs), target: null, details: { userMs: m(subject, (r) => r.userMs), sysMs: m(subject, (r) => r.sysMs), floorUserMs: m(floor, (r) => r.userMs), floorSysMs: m(floor, (r) => r.sysMs) } }),
    ],
    notes: [
      `s7: ${sizes.processRounds} processes per side, alternating; collector user ${m(subject, (r) => r.userMs).toFixed(0)} ms + sys ${m(subject, (r) => r.sysMs).toFixed(0)} ms (floor user ${m(floor, (r) => r.userMs).toFixed(0)} + sys ${m(floor, (r) => r.sysMs).toFixed(0)}), max RSS ${(m(subject, (r) => r.maxRssBytes) / 2 ** 20).toFixed(0)} MiB; includes bun start-up, the index and API the CLI runs, archiving the first snapshot of every connection (one file each: ~${((ctx.fileCreateUs * sizes.conns) / 1000).toFixed(0)} ms of file creation at the ${ctx.fileCreateUs.toFixed(0)} µs/file measured on the scratch disk at start) and shutdown. Last ${statuses.at(-1) ?? ""}`,
    ],
  };
}
