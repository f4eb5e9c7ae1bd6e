// Interleaved A/B measurement inside one worker process: rounds of `reps` floor cycles
// (the C floor, run as a child in the same namespace) alternating with rounds of `reps`
// cycles of the code under test, the order flipping every round, so that slow drift of
// the machine (other tenants, CPU frequency, page cache) lands on both sides equally.
import { runFloorHere, type FloorArgs } from "./floor.ts";
import { cpuMs } from "./stats.ts";

export interface InterleaveOptions {
  floorBin: string;
  floor: Omit<FloorArgs, "reps">;
  rounds: number;
  reps: number;
  /** One cycle of the code under test. */
  cycle: () => void;
}

export interface InterleaveResult {
  /** Wall time of each subject cycle, ms. */
  subjectMs: number[];
  /** Wall time of each floor cycle, ms. */
  floorMs: number[];
  /** CPU (user + system, whole process) per subject cycle, ms. */
  subjectCpuMsPerCycle: number;
  /** CPU per floor cycle, ms (the floor's whole-process CPU over its cycles). */
  floorCpuMsPerCycle: number;
  floorSockets: number;
  floorBytes: number;
}

export function interleave(o: InterleaveOptions): InterleaveResult {
  const subjectMs: number[] = [];
  const floorMs: number[] = [];
  let subjectCpu = 0;
  let floorCpu = 0;
  let floorSockets = 0;
  let floorBytes = 0;
  const runFloor = (): void => {
    const f = runFloorHere(o.floorBin, { ...o.floor, reps: o.reps });
    for (const ns of f.cycleNs) floorMs.push(ns / 1e6);
    floorCpu += f.cpuNs / 1e6;
    floorSockets = f.sockets;
    floorBytes = f.bytes;
  };
  const runSubject = (): void => {
    const c0 = cpuMs();
    for (let i = 0; i < o.reps; i++) {
      const t0 = performance.now();
      o.cycle();
      subjectMs.push(performance.now() - t0);
    }
    subjectCpu += cpuMs() - c0;
  };
  for (let r = 0; r < o.rounds; r++) {
    if (r % 2 === 0) {
      runFloor();
      runSubject();
    } else {
      runSubject();
      runFloor();
    }
  }
  const n = o.rounds * o.reps;
  return {
    subjectMs,
    floorMs,
    subjectCpuMsPerCycle: subjectCpu / n,
    floorCpuMsPerCycle: floorCpu / n,
    floorSockets,
    floorBytes,
  };
}
