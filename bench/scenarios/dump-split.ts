// Scenario 1: dump + split of N idle sockets (SockDiagDumper.dump, empty visitor) against
// the C floor making the same dumps (all states, both families in one walk, every extension).
import { median, quantile } from "../lib/stats.ts";
import { runWorkerInNs } from "../lib/proc.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import type { PopulatedContext } from "./context.ts";

interface Result {
  subjectMs: number[];
  floorMs: number[];
  subjectCpuMsPerCycle: number;
  floorCpuMsPerCycle: number;
  sockets: number;
  floorSockets: number;
  bytes: number;
  chunks: number;
}

export async function dumpSplit(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { sizes } = ctx;
  const r = (await runWorkerInNs(ctx.tb, "dump-split", ["--floor", ctx.bins.floor, "--rounds", String(sizes.rounds), "--reps", String(sizes.reps)], 120_000)) as unknown as Result;
  const name = `dump+split ${sizes.conns / 1000}k idle`;
  const details = {
    sockets: r.sockets,
    floorSockets: r.floorSockets,
    bytesPerDump: r.bytes,
    chunksPerDump: r.chunks,
    samples: r.subjectMs.length,
    subjectP90Ms: quantile(r.subjectMs, 0.9),
    floorP90Ms: quantile(r.floorMs, 0.9),
  };
  return {
    rows: [
      row({ scenario: 1, key: "s1.dump-split.wall", name, metric: "wall/cycle (median)", unit: "ms", value: median(r.subjectMs), floor: median(r.floorMs), target: { op: "<=", value: 1.15, on: "ratio" }, details }),
      row({ scenario: 1, key: "s1.dump-split.cpu", name, metric: "CPU/cycle (mean)", unit: "ms", value: r.subjectCpuMsPerCycle, floor: r.floorCpuMsPerCycle, target: null }),
    ],
    notes: [
      `s1: ${r.sockets} sockets per dump (floor: ${r.floorSockets}), ${r.bytes} bytes in ${r.chunks} chunks; ${sizes.rounds} interleaved rounds of ${sizes.reps} cycles per side, in one bun process in nsA (floor run as its child). Cycle = IPv4 + IPv6 dump.`,
    ],
  };
}
