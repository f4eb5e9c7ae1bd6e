// Scenario 3: N connections that all keep moving data (load.c active mode).
//  3a: the collector's real poll loop against them: archived records per wall second and
//      per CPU second. Bounded by how fast load.c can make sockets change.
//  3b: the archive path's own ceiling: one real dump of those sockets replayed through
//      Collector.poll() with every socket changed every cycle (see workers/archive-ceiling.ts).
import { join } from "node:path";
import { runWorkerInNs } from "../lib/proc.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { LoadPool, sumField } from "../lib/load.ts";
import { readBreakdown } from "../lib/breakdown.ts";
import type { PopulatedContext } from "./context.ts";

const num = (o: Record<string, unknown>, k: string): number => (typeof o[k] === "number" ? (o[k] as number) : Number.NaN);

export async function active(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { sizes, tb } = ctx;
  const pool = new LoadPool(tb, ctx.bins.load, { mode: "active", connect: tb.addrB, periodMs: 10, bytes: 100 });
  const outA = makeTmpDir("active");
  const outB = makeTmpDir("ceiling");
  const outC = makeTmpDir("breakdown");
  const target = { op: ">=" as const, value: 200_000, on: "value" as const };
  const k = `${sizes.conns / 1000}k`;
  try {
    await pool.add(sizes.conns);
    const a = await runWorkerInNs(tb, "poll-active", ["--out", outA, "--warmup-ms", "1500", "--seconds", String(sizes.activeSeconds)], 120_000);
    removeTmp(outA);
    const dumpFile = join(outB, "dump.bin");
    await runWorkerInNs(tb, "archive-ceiling", ["--capture", dumpFile], 60_000);
    // The replay wants the machine to itself: the load generator would take a core.
    const load = await pool.stop();
    const b = await runWorkerInNs(tb, "archive-ceiling", ["--replay", dumpFile, "--out", join(outB, "archive"), "--warm-cycles", String(sizes.ceilingWarmCycles), "--cycles", String(sizes.ceilingCycles)], 300_000);
    const bd = readBreakdown(await runWorkerInNs(tb, "breakdown", ["--from", dumpFile, "--changed", "--out", outC, "--cycles", "20"], 300_000));
    const writesPerSec = sumField(load, "writesPerSec");
    return {
      rows: [
        row({ scenario: 3, key: "s3.active.records-per-sec", name: `active ${k}: collector loop`, metric: "records/s (wall)", unit: "rec/s", value: num(a, "recordsPerSec"), floor: null, target: null, details: { ...a, loadWritesPerSec: writesPerSec } }),
        row({ scenario: 3, key: "s3.active.records-per-cpu-sec", name: `active ${k}: collector loop`, metric: "records/CPU-s", unit: "rec/s", value: num(a, "recordsPerCpuSec"), floor: null, target }),
        row({ scenario: 3, key: "s3.ceiling.records-per-sec", name: `active ${k}: archive ceiling (replay)`, metric: "records/s (1 thread)", unit: "rec/s", value: num(b, "recordsPerSec"), floor: null, target, details: { ...b, breakdownUsPerRecord: bd.phases } }),
        row({ scenario: 3, key: "s3.ceiling.records-per-cpu-sec", name: `active ${k}: archive ceiling (replay)`, metric: "records/CPU-s", unit: "rec/s", value: num(b, "recordsPerCpuSec"), floor: null, target }),
      ],
      notes: [
        `s3a: runLoop at 10 ms, destroy events on, zstd level 1, writing to a scratch dir; measured ${num(a, "wallS").toFixed(1)} s once every connection had its file (${(num(a, "warmedAfterMs") / 1000).toFixed(1)} s after start): ${num(a, "records")} records in ${num(a, "cycles")} cycles (median cycle ${num(a, "cycleMedianMs").toFixed(1)} ms, p99 ${num(a, "cycleP99Ms").toFixed(1)} ms), process CPU ${(100 * num(a, "cpuShare")).toFixed(0)}% of one core (user ${num(a, "userS").toFixed(2)} s, sys ${num(a, "sysS").toFixed(2)} s: the kernel's dump work is sys), ${((1e6 * num(a, "cpuS")) / num(a, "records")).toFixed(2)} µs CPU/record, ${(num(a, "records") / Math.max(1, num(a, "cycles")) ).toFixed(0)} records/cycle of ${num(a, "sockets")} sockets; ArchiveWriter.flush took ${(100 * num(a, "flushShareOfWall")).toFixed(0)}% of the wall time, up to ${num(a, "maxCycleFlushMs").toFixed(0)} ms within one cycle (slowest cycle ${num(a, "cycleMaxMs").toFixed(0)} ms). load.c made ${Math.round(writesPerSec).toLocaleString("en-US")} writes/s in total, which caps how many sockets can change per poll.`,
        `s3 breakdown, µs per record (same dump, every socket changed, replayed): ${bd.text}`,
        `s3b: ONE real dump of ${num(b, "sockets")} active sockets (taken under load), replayed with the load stopped ${num(b, "cycles")} times through Collector.poll() (after ${sizes.ceilingWarmCycles} warm-up cycles), every socket's tcp_info counters moved on each cycle so every socket is archived every cycle; the kernel dump is replaced by a memcpy (not timed), the clock simulated at 10 ms/cycle; ${num(b, "usPerRecord").toFixed(2)} µs/record of which flush (zstd + write) ${num(b, "flushUsPerRecord").toFixed(2)} µs (${(100 * num(b, "flushShare")).toFixed(0)}%), ${num(b, "linesPerFrame").toFixed(0)} lines/frame, ${(num(b, "bytesIn") / Math.max(1, num(b, "bytesWritten"))).toFixed(1)}:1 compression.`,
      ],
    };
  } finally {
    await pool.stop();
    removeTmp(outA);
    removeTmp(outB);
    removeTmp(outC);
  }
}
