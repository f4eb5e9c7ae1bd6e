// Scenario 7: the whole collector process as users run it (`bun src/index.ts collector
// --interval 10`, index, storage and API workers on) against the floor process doing the
// same dumps at the same 10 ms period, at 1k, 3k and 10k idle connections and at 1k
// connections that each write 64 B every 10 ms.
//
// Steady state is the difference between two run lengths: a process run for `long` polls
// minus one run for `short` polls, per extra poll. Start-up, the first snapshot (and file)
// of every connection and shutdown are the same in both, so they cancel. CPU is the
// kernel's rusage of the process (every thread); the collector's own status line gives its
// cycle durations and the start-to-start period.
import { join } from "node:path";
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { floorArgv } from "../lib/floor.ts";
import { LoadPool } from "../lib/load.ts";
import { BUN, REPO_DIR, timedRun, type TimedRun } from "../lib/proc.ts";
import { median } from "../lib/stats.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import type { Testbed } from "../netns.ts";
import type { BenchContext } from "./context.ts";

interface Cadence {
  p50: number;
  p99: number;
  max: number;
}

interface CollectorRun extends TimedRun {
  cycle: Cadence | null;
  period: Cadence | null;
  snapshots: number;
  written: number;
}

function cadence(status: string, key: string): Cadence | null {
  const m = new RegExp(`\\b${key}=([\\d.]+)/([\\d.]+)/([\\d.]+)`).exec(status);
  return m ? { p50: Number(m[1]), p99: Number(m[2]), max: Number(m[3]) } : null;
}

function field(status: string, key: string): number {
  const m = new RegExp(`\\b${key}=(\\d+)`).exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

async function runCollector(tb: Testbed, reps: number): Promise<CollectorRun> {
  const out = makeTmpDir("process");
  try {
    const r = await timedRun(tb, tb.nsA, [BUN, join(REPO_DIR, "src/index.ts"), "collector", "--output", out, "--interval", "10", "--reps", String(reps), "--status-seconds", "0"], 300_000);
    if (r.code !== 0) throw new Error(`collector exited ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
    const status = r.stderr.split("\n").findLast((l) => l.startsWith("status:")) ?? "";
    return { ...r, cycle: cadence(status, "cycle_ms"), period: cadence(status, "period_ms"), snapshots: field(status, "snapshots"), written: field(status, "lines_written") };
  } finally {
    removeTmp(out);
  }
}

async function runFloor(tb: Testbed, bin: string, reps: number): Promise<TimedRun> {
  const r = await timedRun(tb, tb.nsA, floorArgv(bin, { reps, states: COLLECTOR_STATES, periodMs: 10 }), 300_000);
  if (r.code !== 0) throw new Error(`floor exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

interface SteadyState {
  /** Median over rounds of (CPU(long) - CPU(short)) / (long - short), ms per cycle. */
  cpuPerCycle: number;
  floorCpuPerCycle: number;
  /** Of the long runs (median over rounds). */
  periodP50: number;
  periodP99: number;
  cycleP50: number;
  maxRssBytes: number;
  snapshotsPerCycle: number;
  floorCycleMs: number;
}

/** Interleaved rounds of floor and collector, short and long, in alternating order. */
async function steadyState(ctx: BenchContext, tb: Testbed): Promise<SteadyState> {
  const { short, long, rounds } = ctx.sizes.process;
  const per: { c: number; f: number; long: CollectorRun; floorLong: TimedRun; snaps: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const steps = [
      () => runFloor(tb, ctx.bins.floor, short),
      () => runCollector(tb, short),
      () => runFloor(tb, ctx.bins.floor, long),
      () => runCollector(tb, long),
    ];
    if (i % 2 === 1) steps.reverse();
    const got: (TimedRun | CollectorRun)[] = [];
    for (const s of steps) got.push(await s());
    if (i % 2 === 1) got.reverse();
    const [fS, cS, fL, cL] = got as [TimedRun, CollectorRun, TimedRun, CollectorRun];
    per.push({ c: (cL.cpuMs - cS.cpuMs) / (long - short), f: (fL.cpuMs - fS.cpuMs) / (long - short), long: cL, floorLong: fL, snaps: (cL.snapshots - cS.snapshots) / (long - short) });
  }
  const m = (f: (x: (typeof per)[number]) => number): number => median(per.map(f));
  return {
    cpuPerCycle: m((x) => x.c),
    floorCpuPerCycle: m((x) => x.f),
    periodP50: m((x) => x.long.period?.p50 ?? Number.NaN),
    periodP99: m((x) => x.long.period?.p99 ?? Number.NaN),
    cycleP50: m((x) => x.long.cycle?.p50 ?? Number.NaN),
    maxRssBytes: Math.max(...per.map((x) => x.long.maxRssBytes)),
    snapshotsPerCycle: m((x) => x.snaps),
    floorCycleMs: m((x) => x.floorLong.wallMs / long),
  };
}

const MiB = 2 ** 20;

export async function wholeProcess(ctx: BenchContext, makeTestbed: () => Promise<Testbed>): Promise<ScenarioOutput> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const { short, long, rounds, idleSizes, activeConns } = ctx.sizes.process;
  const describe = (label: string, s: SteadyState): string =>
    `${label}: ${s.cpuPerCycle.toFixed(2)} ms CPU/cycle vs floor ${s.floorCpuPerCycle.toFixed(2)} (${(s.cpuPerCycle / s.floorCpuPerCycle).toFixed(2)}x); ` +
    `period p50 ${s.periodP50.toFixed(1)} ms p99 ${s.periodP99.toFixed(1)} ms; cycle p50 ${s.cycleP50.toFixed(2)} ms; ${s.snapshotsPerCycle.toFixed(0)} snapshots/cycle; peak RSS ${(s.maxRssBytes / MiB).toFixed(0)} MiB`;

  let tb = await makeTestbed();
  try {
    const pool = new LoadPool(tb, ctx.bins.load, { mode: "idle", connect: tb.addrB });
    try {
      for (const n of idleSizes) {
        await pool.add(n - pool.established);
        ctx.log(`s7: ${n} idle connections`);
        const s = await steadyState(ctx, tb);
        const k = `${n / 1000}k`;
        rows.push(row({ scenario: 7, key: `s7.idle-${k}.cpu`, name: `whole process, ${k} idle @10 ms`, metric: "CPU/cycle, steady state", unit: "ms", value: s.cpuPerCycle, floor: s.floorCpuPerCycle, target: { op: "<=", value: 1.25, on: "ratio" }, details: { ...s } }));
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
      const s = await steadyState(ctx, tb);
      const k = `${activeConns / 1000}k`;
      const name = `whole process, ${k} active (64 B/10 ms each)`;
      rows.push(row({ scenario: 7, key: `s7.active-${k}.cpu`, name, metric: "CPU/cycle, steady state", unit: "ms", value: s.cpuPerCycle, floor: s.floorCpuPerCycle, target: { op: "<=", value: 2.5, on: "ratio" }, details: { ...s } }));
      rows.push(row({ scenario: 7, key: `s7.active-${k}.period`, name, metric: "median start-to-start period", unit: "ms", value: s.periodP50, floor: null, target: { op: "<=", value: 12, on: "value" } }));
      rows.push(row({ scenario: 7, key: `s7.active-${k}.rss`, name, metric: "peak RSS", unit: "MiB", value: s.maxRssBytes / MiB, floor: null, target: { op: "<=", value: 128, on: "value" } }));
      notes.push(describe(`s7 ${k} active`, s));
    } finally {
      await pool.stop();
    }
  } finally {
    await tb.destroy();
  }
  notes.push(`s7: steady state = (run of ${long} polls - run of ${short} polls) / ${long - short}, median of ${rounds} interleaved rounds, for the collector process (all threads) and the floor process (same dumps, same state mask, --period-ms 10); period and cycle figures come from the collector's final status line of its long runs.`);
  return { rows, notes };
}
