// Scenario 7: the whole collector process as users run it (`bun src/index.ts collector
// --interval 10`: index, storage and API workers on) against the floor process doing the
// same dumps at the same 10 ms period, at 1k, 3k and 10k idle connections and at 1k
// connections that each write 64 B every 10 ms.
//
// Steady state: the collector runs until it has settled (every connection has its first
// file), then its CPU (every thread, /proc/<pid>/stat) and its cycle count (its status
// line, once a second) are read twice, `measureS` seconds apart; CPU per cycle is the
// difference of the two over the cycles between them. Start-up and shutdown, which differ
// a lot from run to run, stay out of the figure. The floor process runs the same number of
// dumps at the same period; its CPU per cycle is its rusage over its cycles (a C process
// starts in a millisecond). Rounds alternate which side runs first. The floor makes the
// collector's request (one walk for both families); one more floor run per size makes
// M-Lab's (one walk per family), reported beside it for reference.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { floorArgv } from "../lib/floor.ts";
import { LoadPool } from "../lib/load.ts";
import { BUN, REPO_DIR, statusKiB, timedRun, type TimedRun } from "../lib/proc.ts";
import { median, withTimeout } from "../lib/stats.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { LineReader, type Testbed } from "../netns.ts";
import type { BenchContext } from "./context.ts";

interface Cadence {
  p50: number;
  p99: number;
  max: number;
}

interface CollectorRun {
  cpuPerCycle: number;
  cycles: number;
  seconds: number;
  snapshotsPerCycle: number;
  cycle: Cadence | null;
  period: Cadence | null;
  /** VmHWM at the end of the measured window, bytes. */
  peakRssBytes: number;
  /** Lines the collector counted lost: since its start, and within the measured window. */
  lostTotal: number;
  lostInWindow: number;
}

function cadence(status: string, key: string): Cadence | null {
  const m = new RegExp(`\\b${key}=([\\d.]+)/([\\d.]+)/([\\d.]+)`).exec(status);
  return m ? { p50: Number(m[1]), p99: Number(m[2]), max: Number(m[3]) } : null;
}

export function field(status: string, key: string): number {
  const m = new RegExp(`\\b${key}=(\\d+)`).exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

const TICK_MS = 1000 / 100; // USER_HZ

/** user + system CPU of every thread of `pid`, ms. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function peakRss(pid: number): number {
  return statusKiB(readFileSync(`/proc/${pid}/status`, "utf8"), "VmHWM") * 1024;
}

async function runCollector(ctx: BenchContext, tb: Testbed, conns: number): Promise<CollectorRun> {
  const { settleS, measureS } = ctx.sizes.process;
  const out = makeTmpDir("process");
  const proc = tb.exec(tb.nsA, [BUN, join(REPO_DIR, "src/index.ts"), "collector", "--output", out, "--interval", "10", "--status-seconds", "1"], { stdout: "ignore", stderr: "pipe" });
  const err = new LineReader(proc.stderr);
  try {
    // Settled: every connection tracked and given its file, and `settleS` status lines since.
    for (;;) {
      const l = await err.waitFor(/^status: .*/, 120_000);
      if (field(l[0], "tracked") >= conns && field(l[0], "files_created") >= conns) break;
    }
    for (let i = 0; i < settleS; i++) await err.waitFor(/^status: /, 10_000);
    const a = await err.waitFor(/^status: .*/, 10_000);
    const cpu0 = processCpuMs(proc.pid);
    for (let i = 1; i < measureS; i++) await err.waitFor(/^status: /, 10_000);
    const b = await err.waitFor(/^status: .*/, 10_000);
    const cpu1 = processCpuMs(proc.pid);
    const peakRssBytes = peakRss(proc.pid);
    const cycles = field(b[0], "cycles") - field(a[0], "cycles");
    return {
      cpuPerCycle: (cpu1 - cpu0) / cycles,
      cycles,
      seconds: measureS,
      snapshotsPerCycle: (field(b[0], "snapshots") - field(a[0], "snapshots")) / cycles,
      cycle: cadence(b[0], "cycle_ms"),
      period: cadence(b[0], "period_ms"),
      peakRssBytes,
      lostTotal: field(b[0], "lines_lost"),
      lostInWindow: field(b[0], "lines_lost") - field(a[0], "lines_lost"),
    };
  } finally {
    proc.kill("SIGTERM");
    const code = await withTimeout(proc.exited, 120_000, "timeout" as const);
    if (code === "timeout") proc.kill("SIGKILL");
    await withTimeout(err.done, 5_000, null);
    removeTmp(out);
  }
}

async function runFloor(tb: Testbed, bin: string, reps: number, family: "all" | "both" = "all"): Promise<TimedRun> {
  const r = await timedRun(tb, tb.nsA, floorArgv(bin, { reps, states: COLLECTOR_STATES, periodMs: 10, family }), 300_000);
  if (r.code !== 0) throw new Error(`floor exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

interface SteadyState {
  /** Medians over rounds. */
  cpuPerCycle: number;
  floorCpuPerCycle: number;
  /** One run of the floor with one walk per family (M-Lab's request), for reference. */
  twoWalkFloorCpuPerCycle: number;
  periodP50: number;
  periodP99: number;
  cycleP50: number;
  cycleP99: number;
  snapshotsPerCycle: number;
  maxRssBytes: number;
  /** Largest over rounds. */
  lostTotal: number;
  lostInWindow: number;
}

async function steadyState(ctx: BenchContext, tb: Testbed, conns: number): Promise<SteadyState> {
  const { rounds, measureS } = ctx.sizes.process;
  const runs: CollectorRun[] = [];
  const floors: number[] = [];
  const floorReps = measureS * 100;
  const twoWalks = await runFloor(tb, ctx.bins.floor, floorReps, "both");
  for (let i = 0; i < rounds; i++) {
    const f = async (): Promise<void> => {
      const r = await runFloor(tb, ctx.bins.floor, floorReps);
      floors.push(r.cpuMs / floorReps);
    };
    const c = async (): Promise<void> => {
      runs.push(await runCollector(ctx, tb, conns));
    };
    if (i % 2 === 0) {
      await f();
      await c();
    } else {
      await c();
      await f();
    }
  }
  const m = (g: (r: CollectorRun) => number): number => median(runs.map(g));
  return {
    cpuPerCycle: m((r) => r.cpuPerCycle),
    floorCpuPerCycle: median(floors),
    twoWalkFloorCpuPerCycle: twoWalks.cpuMs / floorReps,
    periodP50: m((r) => r.period?.p50 ?? Number.NaN),
    periodP99: m((r) => r.period?.p99 ?? Number.NaN),
    cycleP50: m((r) => r.cycle?.p50 ?? Number.NaN),
    cycleP99: m((r) => r.cycle?.p99 ?? Number.NaN),
    snapshotsPerCycle: m((r) => r.snapshotsPerCycle),
    maxRssBytes: Math.max(...runs.map((r) => r.peakRssBytes)),
    lostTotal: Math.max(...runs.map((r) => r.lostTotal)),
    lostInWindow: Math.max(...runs.map((r) => r.lostInWindow)),
  };
}

const MiB = 2 ** 20;

/** The same CPU against the floor making M-Lab's request (one walk per family): reference only. */
function twoWalkRow(key: string, name: string, s: SteadyState): Row {
  return row({ scenario: 7, key: `${key}.cpu-vs-two-walks`, name, metric: "CPU/cycle against a floor walking per family (M-Lab's request)", unit: "ms", value: s.cpuPerCycle, floor: s.twoWalkFloorCpuPerCycle, target: null });
}

export async function wholeProcess(ctx: BenchContext, makeTestbed: () => Promise<Testbed>): Promise<ScenarioOutput> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const { settleS, measureS, rounds, idleSizes, activeConns } = ctx.sizes.process;
  const describe = (label: string, s: SteadyState): string =>
    `${label}: ${s.cpuPerCycle.toFixed(2)} ms CPU/cycle vs floor ${s.floorCpuPerCycle.toFixed(2)} (${(s.cpuPerCycle / s.floorCpuPerCycle).toFixed(2)}x; ` +
    `against the floor walking per family, M-Lab's request, ${s.twoWalkFloorCpuPerCycle.toFixed(2)} ms: ${(s.cpuPerCycle / s.twoWalkFloorCpuPerCycle).toFixed(2)}x); ` +
    `period p50 ${s.periodP50.toFixed(1)} ms p99 ${s.periodP99.toFixed(1)} ms; cycle p50 ${s.cycleP50.toFixed(2)} ms p99 ${s.cycleP99.toFixed(2)} ms; ${s.snapshotsPerCycle.toFixed(0)} snapshots/cycle; peak RSS ${(s.maxRssBytes / MiB).toFixed(0)} MiB; ` +
    `lines lost ${s.lostInWindow} in the window, ${s.lostTotal} since start (most of any round)`;

  let tb = await makeTestbed();
  try {
    const pool = new LoadPool(tb, ctx.bins.load, { mode: "idle", connect: tb.addrB });
    try {
      for (const n of idleSizes) {
        await pool.add(n - pool.established);
        ctx.log(`s7: ${n} idle connections`);
        const s = await steadyState(ctx, tb, n);
        const k = `${n / 1000}k`;
        rows.push(row({ scenario: 7, key: `s7.idle-${k}.cpu`, name: `whole process, ${k} idle @10 ms`, metric: "CPU/cycle, steady state", unit: "ms", value: s.cpuPerCycle, floor: s.floorCpuPerCycle, target: { op: "<=", value: 1.25, on: "ratio" }, details: { ...s } }));
        rows.push(twoWalkRow(`s7.idle-${k}`, `whole process, ${k} idle @10 ms`, s));
        notes.push(describe(`s7 ${k} idle`, s));
      }
    } finally {
      await pool.stop();
    }
  } finally {
    await tb.destroy();
  }

  tb = await makeTestbed();
  try {
    const pool = new LoadPool(tb, ctx.bins.load, { mode: "active", connect: tb.addrB, periodMs: 10, bytes: 64 });
    try {
      await pool.add(activeConns);
      ctx.log(`s7: ${activeConns} active connections`);
      const s = await steadyState(ctx, tb, activeConns);
      const k = `${activeConns / 1000}k`;
      const name = `whole process, ${k} active (64 B/10 ms each)`;
      rows.push(row({ scenario: 7, key: `s7.active-${k}.cpu`, name, metric: "CPU/cycle, steady state", unit: "ms", value: s.cpuPerCycle, floor: s.floorCpuPerCycle, target: { op: "<=", value: 2.5, on: "ratio" }, details: { ...s } }));
      rows.push(twoWalkRow(`s7.active-${k}`, name, s));
      rows.push(row({ scenario: 7, key: `s7.active-${k}.period`, name, metric: "median start-to-start period", unit: "ms", value: s.periodP50, floor: null, target: { op: "<=", value: 12, on: "value" } }));
      rows.push(row({ scenario: 7, key: `s7.active-${k}.rss`, name, metric: "peak RSS", unit: "MiB", value: s.maxRssBytes / MiB, floor: null, target: { op: "<=", value: 128, on: "value" } }));
      // What the collector itself counted lost (backpressure): the measured window is its
      // steady state; since start includes every connection's first file at once.
      rows.push(row({ scenario: 7, key: `s7.active-${k}.lost-window`, name, metric: "lines lost, measured window", unit: "", value: s.lostInWindow, floor: null, target: { op: "<=", value: 0, on: "value" } }));
      rows.push(row({ scenario: 7, key: `s7.active-${k}.lost-total`, name, metric: "lines lost since start", unit: "", value: s.lostTotal, floor: null, target: null }));
      notes.push(describe(`s7 ${k} active`, s));
    } finally {
      await pool.stop();
    }
  } finally {
    await tb.destroy();
  }
  notes.push(`s7: steady state: the collector's CPU (all threads) over ${measureS} s once settled (every connection tracked, then ${settleS} s), per cycle it ran meanwhile; the floor process's CPU over ${measureS * 100} dumps at --period-ms 10 with the same state mask, per dump; medians of ${rounds} alternating rounds. Period and cycle quantiles are the collector's own status line (its last 4,096 cycles) at the end of the window; peak RSS is its VmHWM then.`);
  return { rows, notes };
}
