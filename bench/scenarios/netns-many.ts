// Scenario 12: every network namespace from one process. 100 namespaces (20 with --quick)
// with 100 idle loopback connections each, plus the host's own, polled by the whole
// collector (`--netns all --include-local --interval 10`) against the C floor dumping the
// same namespaces (one sock_diag socket made inside each) at the same period.
//
// Steady state as in scenario 7: once every connection has its file, the collector's CPU
// (all threads) and cycles are read twice, `measureS` apart. The namespace scan's cost
// (tcpinfo_netns_scan_seconds_total over the same window) is reported apart, per cycle.
import { join } from "node:path";
import { NetnsScanner } from "../../src/netns/discover.ts";
import { runFloorHere } from "../lib/floor.ts";
import { BUN, REPO_DIR } from "../lib/proc.ts";
import { median, withTimeout } from "../lib/stats.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { LineReader } from "../netns.ts";
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { field, processCpuMs } from "./process.ts";
import { startHolder, type Holder } from "../../test/helpers/netns-holder.ts";
import type { BenchContext } from "./context.ts";

const PORT = 5300;

function sh(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString().trim()}`);
}

async function scanSeconds(api: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const m = /^tcpinfo_netns_scan_seconds_total (\S+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

interface Run {
  cpuPerCycle: number;
  scanPerCycle: number;
  cycles: number;
  cycleP50: number;
  namespaces: number;
}

async function runCollector(ctx: BenchContext, expected: number, measureS: number): Promise<Run> {
  const out = makeTmpDir("netns");
  const proc = Bun.spawn([BUN, join(REPO_DIR, "src/index.ts"), "collector", "--netns", "all", "--include-local", "--output", out, "--interval", "10", "--status-seconds", "1", "--listen", "127.0.0.1:0"], { stdout: "ignore", stderr: "pipe" });
  const err = new LineReader(proc.stderr);
  try {
    const start = await err.waitFor(/^collector: writing .*api (http:\/\/[^;]+);/, 60_000);
    const api = /api (http:\/\/[^;]+);/.exec(start[0])![1];
    const settleBy = performance.now() + 300_000;
    for (;;) {
      const l = await err.waitFor(/^status: .*/, 300_000);
      if (field(l[0], "tracked") >= expected && field(l[0], "files_created") >= expected) break;
      if (performance.now() > settleBy) throw new Error(`not settled in 300 s: ${l[0]}`);
    }
    for (let i = 0; i < 2; i++) await err.waitFor(/^status: /, 30_000);
    const a = await err.waitFor(/^status: .*/, 30_000);
    const cpu0 = processCpuMs(proc.pid);
    const scan0 = await scanSeconds(api);
    for (let i = 1; i < measureS; i++) await err.waitFor(/^status: /, 30_000);
    const b = await err.waitFor(/^status: .*/, 30_000);
    const cpu1 = processCpuMs(proc.pid);
    const scan1 = await scanSeconds(api);
    const polled = /^tcpinfo_netns_polled (\S+)$/m.exec(await (await fetch(`${api}/metrics`)).text());
    const cycles = field(b[0], "cycles") - field(a[0], "cycles");
    const p50 = /\bcycle_ms=([\d.]+)\//.exec(b[0]);
    return {
      cpuPerCycle: (cpu1 - cpu0) / cycles,
      scanPerCycle: ((scan1 - scan0) * 1000) / cycles,
      cycles,
      cycleP50: p50 ? Number(p50[1]) : Number.NaN,
      namespaces: polled ? Number(polled[1]) : Number.NaN,
    };
  } finally {
    proc.kill("SIGTERM");
    if ((await withTimeout(proc.exited, 120_000, "timeout" as const)) === "timeout") proc.kill("SIGKILL");
    await withTimeout(err.done, 5_000, null);
    removeTmp(out);
  }
}

export async function manyNamespaces(ctx: BenchContext): Promise<ScenarioOutput> {
  const count = ctx.quick ? 20 : 100;
  const perNs = 100;
  // Cycles take seconds here (each namespace's dump walks the host's whole TCP hash
  // table): long windows, few floor cycles.
  const measureS = ctx.quick ? 6 : 20;
  const rounds = ctx.quick ? 1 : 2;
  const names = Array.from({ length: count }, (_, i) => `tibm-${process.pid}-${i}`);
  const made: string[] = [];
  const holders: Holder[] = [];
  const cleanup = (): void => {
    for (const h of holders) h.kill("SIGKILL");
    for (const n of made) Bun.spawnSync(["ip", "netns", "del", n]);
    made.length = 0;
  };
  process.once("exit", cleanup);
  try {
    for (const n of names) {
      sh(["ip", "netns", "add", n]);
      made.push(n);
      sh(["ip", "-n", n, "link", "set", "lo", "up"]);
    }
    // A few processes make the namespaces' connections (entering each) and hold them;
    // each holds 40 namespaces' sockets, well inside a 20,000 descriptor limit.
    for (let i = 0; i < names.length; i += 40) {
      const group = names.slice(i, i + 40).map((n) => `/var/run/netns/${n}`);
      await startHolder(group, perNs, PORT, { track: (h) => holders.push(h) });
    }
    ctx.log(`s12: ${count} namespaces with ${perNs} idle connections each`);

    // The floor dumps what the collector polls: every namespace the scan finds (the host's too).
    const paths = [...new NetnsScanner().scan().found.values()].map((f) => f.path);
    const expected = count * (2 * perNs + 1);
    const runs: Run[] = [];
    const floors: number[] = [];
    const floorReps = ctx.quick ? 20 : 10;
    for (let i = 0; i < rounds; i++) {
      const floor = (): void => {
        const f = runFloorHere(ctx.bins.floor, { reps: floorReps, states: COLLECTOR_STATES, periodMs: 10, netns: paths });
        floors.push(f.cpuNs / 1e6 / floorReps);
      };
      if (i % 2 === 0) floor();
      runs.push(await runCollector(ctx, expected, measureS));
      if (i % 2 === 1) floor();
    }
    const cpu = median(runs.map((r) => r.cpuPerCycle));
    const scan = median(runs.map((r) => r.scanPerCycle));
    const floorCpu = median(floors);
    const cycleP50 = median(runs.map((r) => r.cycleP50));
    const name = `${count} namespaces x ${perNs} idle + host, --netns all @10 ms`;
    return {
      rows: [
        row({ scenario: 12, key: "s12.netns.cpu", name, metric: "CPU/cycle, steady state", unit: "ms", value: cpu, floor: floorCpu, target: { op: "<=", value: 1.3, on: "ratio" }, details: { runs, floors, paths: paths.length } }),
        row({ scenario: 12, key: "s12.netns.scan", name, metric: "namespace scan CPU/cycle (in the above)", unit: "ms", value: scan, floor: null, target: null }),
        row({ scenario: 12, key: "s12.netns.cycle", name, metric: "median cycle", unit: "ms", value: cycleP50, floor: null, target: null }),
      ],
      notes: [
        `s12: ${paths.length} namespaces polled (${count} made + the host's${paths.length > count + 1 ? " + others found on this host" : ""}), ${expected} sockets in the made ones; ` +
          `collector ${cpu.toFixed(2)} ms CPU/cycle (scan ${scan.toFixed(3)} ms of it) vs floor ${floorCpu.toFixed(2)} ms (${(cpu / floorCpu).toFixed(2)}x); median cycle ${cycleP50.toFixed(1)} ms; ` +
          `medians of ${rounds} round(s) of ${measureS} s steady state. The floor makes one sock_diag socket inside each namespace and dumps each per cycle at --period-ms 10.`,
      ],
    };
  } finally {
    cleanup();
    process.removeListener("exit", cleanup);
  }
}
