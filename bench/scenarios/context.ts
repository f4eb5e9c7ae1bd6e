// What every scenario gets from the driver.
import type { BenchBinaries, Testbed } from "../netns.ts";

export interface Sizes {
  /** Connections for the 10k scenarios (2k with --quick). */
  conns: number;
  /** Repetitions per interleaved round, and rounds. */
  reps: number;
  rounds: number;
  /** Scenario 3: seconds of active polling measured, after a warm-up. */
  activeSeconds: number;
  /** Scenario 3 ceiling: replayed cycles measured, after warm-up cycles. */
  ceilingWarmCycles: number;
  ceilingCycles: number;
  /** Scenario 4: flood rate (new connections/s) and duration. */
  churnRate: number;
  churnSeconds: number;
  /** Scenario 5: connection counts at which memory is read. */
  memoryTargets: number[];
  /** Scenario 6: runs of ss. */
  ssRuns: number;
  /** Scenario 7: seconds settled before and measured after, rounds, idle sizes, active connections. */
  process: { settleS: number; measureS: number; rounds: number; idleSizes: number[]; activeConns: number };
  /** Scenario 10: idle tracked connections, concurrent API clients, seconds per phase. */
  apiLoad: { conns: number; clients: number; seconds: number };
}

export interface BenchContext {
  bins: BenchBinaries;
  quick: boolean;
  sizes: Sizes;
  log: (line: string) => void;
  /** µs to create one file in the scratch folder (measured at start; see lib/env-probe.ts). */
  fileCreateUs: number;
}

/** A scenario that needs a population: the driver owns the test bed. */
export interface PopulatedContext extends BenchContext {
  tb: Testbed;
}

export const FULL: Sizes = {
  conns: 10_000,
  reps: 20,
  rounds: 6,
  activeSeconds: 5,
  ceilingWarmCycles: 110,
  ceilingCycles: 200,
  churnRate: 5000,
  churnSeconds: 10,
  memoryTargets: [1_000, 10_000, 50_000],
  ssRuns: 7,
  process: { settleS: 2, measureS: 8, rounds: 3, idleSizes: [1_000, 3_000, 10_000], activeConns: 1_000 },
  apiLoad: { conns: 1_000, clients: 8, seconds: 10 },
};

export const QUICK: Sizes = {
  conns: 2_000,
  // Cycles are short at 2k sockets: more of them keep the medians steady on a noisy VM.
  reps: 30,
  rounds: 6,
  activeSeconds: 2,
  ceilingWarmCycles: 101,
  ceilingCycles: 100,
  churnRate: 1000,
  churnSeconds: 3,
  memoryTargets: [1_000, 2_000],
  ssRuns: 5,
  process: { settleS: 1, measureS: 4, rounds: 2, idleSizes: [1_000, 2_000], activeConns: 1_000 },
  apiLoad: { conns: 1_000, clients: 8, seconds: 3 },
};
