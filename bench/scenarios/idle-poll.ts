// Scenario 2: one Collector.poll() over N idle connections, after a warm-up poll, so
// nothing changes and nothing is written; against the C floor's dump with the
// collector's state mask.
import { median, quantile } from "../lib/stats.ts";
import { runWorkerInNs } from "../lib/proc.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { readBreakdown } from "../lib/breakdown.ts";
import type { PopulatedContext } from "./context.ts";

interface Result {
  subjectMs: number[];
  floorMs: number[];
  subjectCpuMsPerCycle: number;
  floorCpuMsPerCycle: number;
  floorSockets: number;
  tracked: number;
  sockets: number;
  warmSnapshots: number;
  changedDuringMeasure: number;
  flushesDuringMeasure: number;
  errors: number;
}

export async function idlePoll(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { sizes } = ctx;
  const out = makeTmpDir("idle");
  try {
    const r = (await runWorkerInNs(ctx.tb, "poll-idle", ["--floor", ctx.bins.floor, "--rounds", String(sizes.rounds), "--reps", String(sizes.reps), "--out", out], 180_000)) as unknown as Result;
    // Where the time goes, phase by phase, over a captured dump of the same sockets.
    const bd = readBreakdown(await runWorkerInNs(ctx.tb, "breakdown", ["--out", out, "--cycles", String(sizes.reps * 2)], 120_000));
    const name = `idle ${sizes.conns / 1000}k poll cycle`;
    const target = { op: "<=" as const, value: 1.25, on: "ratio" as const };
    const details = {
      tracked: r.tracked,
      sockets: r.sockets,
      floorSockets: r.floorSockets,
      changedDuringMeasure: r.changedDuringMeasure,
      flushesDuringMeasure: r.flushesDuringMeasure,
      errors: r.errors,
      breakdownUsPerSocket: bd.phases,
      subjectP90Ms: quantile(r.subjectMs, 0.9),
      floorP90Ms: quantile(r.floorMs, 0.9),
    };
    const notes = [
      `s2: poll() with destroy events on; tracked ${r.tracked} connections; ${r.changedDuringMeasure} snapshots and ${r.flushesDuringMeasure} flushes during the measured polls (both should be 0); floor uses the collector's state mask; ${sizes.rounds} interleaved rounds of ${sizes.reps} cycles per side.`,
    ];
    notes.push(`s2 breakdown, µs per socket (replayed dump, no kernel, except the last two): ${bd.text}`);
    if (r.changedDuringMeasure !== 0) notes.push(`s2: WARNING: ${r.changedDuringMeasure} snapshots were archived during the measured idle polls`);
    return {
      rows: [
        row({ scenario: 2, key: "s2.idle-poll.wall", name, metric: "wall/cycle (median)", unit: "ms", value: median(r.subjectMs), floor: median(r.floorMs), target, details }),
        row({ scenario: 2, key: "s2.idle-poll.cpu", name, metric: "CPU/cycle (mean)", unit: "ms", value: r.subjectCpuMsPerCycle, floor: r.floorCpuMsPerCycle, target }),
      ],
      notes,
    };
  } finally {
    removeTmp(out);
  }
}
