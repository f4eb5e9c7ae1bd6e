// Scenario 10: does API traffic slow the polling? The CLI collector (`--interval 10
// --status-seconds 1 --listen 0.0.0.0:9990`; its API runs in a worker thread) tracks 1,000
// idle connections in nsA. Once every connection is tracked and has its file, a worker
// process in nsA (bench/workers/api-clients.ts) measures the collector's polls per second
// over a window with no client (phase A), then over a window of the same length with 8
// clients sending `GET /connections?port=P&limit=100` back to back (phase B; P a server
// port of the load, so every page holds 100 rows), timing and checking every request.
// The clients talk to 127.0.0.1:9990: loopback, so the collector does not archive them.
import { cpus } from "node:os";
import { join } from "node:path";
import { LoadPool } from "../lib/load.ts";
import { BUN, REPO_DIR, runWorkerInNs } from "../lib/proc.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import { withTimeout } from "../lib/stats.ts";
import { collectorLine, statusField } from "../lib/status-line.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { LineReader } from "../netns.ts";
import type { PopulatedContext } from "./context.ts";

const API_PORT = 9990;

interface Phase {
  port: number;
  clients: number;
  windowS: number;
  cycles: number;
  pollsPerSec: number;
  pollsPerSecWall: number;
  requests: number;
  requestsPerSec: number;
  errors: number;
  errorKinds: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  collectorCores: number;
  clientCores: number;
}

export async function apiLoad(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { tb, log } = ctx;
  const { conns, clients, seconds } = ctx.sizes.apiLoad;
  const out = makeTmpDir("api-load");
  const pool = new LoadPool(tb, ctx.bins.load, { mode: "idle", connect: tb.addrB });
  const argv = [BUN, join(REPO_DIR, "src/index.ts"), "collector", "--output", join(out, "archive"), "--db", join(out, "index.sqlite"),
    "--interval", "10", "--status-seconds", "1", "--listen", `0.0.0.0:${API_PORT}`,
    // A bound on its life even if nobody stops it.
    "--reps", String(100 * (2 * seconds + 600))];
  let collector: ReturnType<typeof tb.exec<"ignore", "pipe">> | null = null;
  try {
    await pool.add(conns);
    collector = tb.exec(tb.nsA, argv, { stdout: "ignore", stderr: "pipe" });
    const proc = collector;
    const err = new LineReader(proc.stderr);
    const dead = (): Error => new Error(`collector exited (${String(proc.exitCode ?? proc.signalCode)}): ${err.lines.slice(-5).join(" | ")}`);
    await collectorLine(proc, err, /^collector: writing/, 30_000);
    // Settled: every connection tracked and given its file, and one more status line since.
    for (;;) {
      const l = await collectorLine(proc, err, /^status: .*/, 60_000);
      if (statusField(l[0], "tracked") >= conns && statusField(l[0], "files_created") >= conns) break;
    }
    await collectorLine(proc, err, /^status: /, 10_000);

    const base = `http://127.0.0.1:${API_PORT}`;
    // Each port of the pair holds about a quarter of the connections: a page is full.
    const expect = Math.min(100, Math.floor(conns / 4));
    const phase = async (n: number, port: number): Promise<Phase> => {
      const args = ["--base", base, "--dst", tb.addrB, "--clients", String(n), "--seconds", String(seconds), "--port", String(port), "--expect", String(expect), "--pid", String(proc.pid)];
      const r = (await runWorkerInNs(tb, "api-clients", args, 90_000 + seconds * 1000)) as unknown as Phase;
      if (proc.exitCode !== null || proc.signalCode !== null) throw dead();
      log(`s10: ${n} clients: ${r.pollsPerSec.toFixed(1)} polls/s, ${r.requestsPerSec.toFixed(0)} requests/s, p99 ${Number(r.latencyMs.p99).toFixed(2)} ms, ${r.errors} errors`);
      return r;
    };
    const a = await phase(0, 0);
    const b = await phase(clients, a.port);
    const status = err.lines.findLast((l) => l.startsWith("status:")) ?? "";

    proc.kill("SIGTERM");
    const code = await withTimeout(proc.exited, 90_000, -1);
    if (code === -1) proc.kill("SIGKILL");
    await withTimeout(err.done, 5_000, null);

    const name = `API load, ${conns} idle tracked, ${clients} clients`;
    const q = `GET /connections?port=${a.port}&limit=100`;
    const details = { without: a, with: b, status, exitCode: code };
    return {
      rows: [
        row({ scenario: 10, key: "s10.api-load.polls", name, metric: "polls/s with clients (floor: without)", unit: "/s", value: b.pollsPerSec, floor: a.pollsPerSec, target: { op: ">=", value: 0.95, on: "ratio" }, details }),
        row({ scenario: 10, key: "s10.api-load.latency-p99", name, metric: `p99 latency, ${q}`, unit: "ms", value: b.latencyMs.p99, floor: null, target: { op: "<=", value: 20, on: "value" }, details: { ...b.latencyMs, requests: b.requests, requestsPerSec: b.requestsPerSec } }),
        row({ scenario: 10, key: "s10.api-load.errors", name, metric: "failed requests (not 200 + JSON rows)", unit: "", value: b.errors, floor: null, target: { op: "<=", value: 0, on: "value" }, details: { errorKinds: b.errorKinds } }),
      ],
      notes: [
        `s10: ${seconds} s per phase; polls/s = cycles between two /healthz reads / time between the collector's last polls at those reads (wall-clock check: ${a.pollsPerSecWall.toFixed(1)} without, ${b.pollsPerSecWall.toFixed(1)} with); ` +
          `without clients ${a.pollsPerSec.toFixed(1)} polls/s (${a.cycles} cycles), with ${clients} clients ${b.pollsPerSec.toFixed(1)} polls/s (${b.cycles} cycles), ratio ${(b.pollsPerSec / a.pollsPerSec).toFixed(3)}; ` +
          `CPU (cores, of ${cpus().length}): collector ${a.collectorCores.toFixed(2)} without, ${b.collectorCores.toFixed(2)} with; the clients' process ${b.clientCores.toFixed(2)}`,
        `s10: ${q} from ${clients} clients back to back (one bun process in nsA, over loopback): ${b.requests} requests, ${b.requestsPerSec.toFixed(0)}/s; latency (fetch to body read) p50 ${b.latencyMs.p50.toFixed(2)} ms, p90 ${b.latencyMs.p90.toFixed(2)} ms, p99 ${b.latencyMs.p99.toFixed(2)} ms, max ${b.latencyMs.max.toFixed(2)} ms; ` +
          `${b.errors} failed${b.errors > 0 ? ` (${JSON.stringify(b.errorKinds)})` : ""}; collector exit status ${code}; at the end of phase B: ${status.replace(/^status: /, "")}`,
      ],
    };
  } finally {
    if (collector !== null && collector.exitCode === null && collector.signalCode === null) {
      collector.kill("SIGKILL");
      await collector.exited;
    }
    await pool.stop();
    removeTmp(out);
  }
}
