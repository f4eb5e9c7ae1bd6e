// Scenario 6: `ss -tinm` over the same sockets, per run (process start-up and text
// formatting included, output read through a pipe), next to the C floor run the same way
// for one cycle: the cost of asking "what are my sockets doing" with the standard tool.
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { floorArgv } from "../lib/floor.ts";
import { timedRun, type TimedRun } from "../lib/proc.ts";
import { median } from "../lib/stats.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import type { PopulatedContext } from "./context.ts";

export async function ssScenario(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { tb, sizes } = ctx;
  if (Bun.which("ss") === null) throw new Error("`ss` (iproute2) not found");
  const ss: TimedRun[] = [];
  const floor: TimedRun[] = [];
  // ss's default state filter (all but LISTEN, CLOSE, TIME_WAIT, SYN_RECV) is the
  // collector's mask but for NEW_SYN_RECV, which never matches an established socket.
  const floorCmd = floorArgv(ctx.bins.floor, { reps: 1, states: COLLECTOR_STATES });
  for (let i = 0; i < sizes.ssRuns; i++) {
    const a = await timedRun(tb, tb.nsA, ["ss", "-tinm"], 60_000);
    const b = await timedRun(tb, tb.nsA, floorCmd, 60_000);
    if (a.code !== 0) throw new Error(`ss exited ${a.code}: ${a.stderr.trim()}`);
    if (b.code !== 0) throw new Error(`floor exited ${b.code}: ${b.stderr.trim()}`);
    ss.push(a);
    floor.push(b);
  }
  const name = `ss -tinm, ${sizes.conns / 1000}k sockets`;
  return {
    rows: [
      row({ scenario: 6, key: "s6.ss.wall", name, metric: "wall/run (median)", unit: "ms", value: median(ss.map((r) => r.wallMs)), floor: median(floor.map((r) => r.wallMs)), target: null, details: { outputBytes: median(ss.map((r) => r.stdoutBytes)), runs: ss.length } }),
      row({ scenario: 6, key: "s6.ss.cpu", name, metric: "CPU/run (median)", unit: "ms", value: median(ss.map((r) => r.cpuMs)), floor: median(floor.map((r) => r.cpuMs)), target: null }),
    ],
    notes: [
      `s6: ${ss.length} runs each of \`ip netns exec nsA ss -tinm\` (stdout piped to the driver, ${(median(ss.map((r) => r.stdoutBytes)) / 1024).toFixed(0)} KiB/run) and of the floor process with --reps 1, spawned the same way; floor column = one-shot floor process.`,
    ],
  };
}
