// Scenario 10 worker (runs inside nsA): HTTP clients of the running collector's API.
// First waits until the index lists the load's connections: picks the server port P of
// one of them (connections to --dst) unless --port is given, and waits until
// `GET /connections?port=P&limit=100` returns --expect rows. Then, over --seconds:
// --clients concurrent loops each send `GET /connections?port=P&limit=100`, one request
// after the other (0 clients: it only waits). /healthz is read at both ends of the window:
// the collector's poll cycles and the time of its last poll give its polls per second.
// A request's latency runs from fetch() to its whole body read; each response is then
// checked (200, JSON, 1..100 rows, each with P at one end) and any other outcome counted.
// The CPU used over the window by the collector (all its threads; --pid) and by this
// process is reported too: both share the machine's cores.
// Args: --base URL --dst IP --clients N --seconds S [--port P] [--expect ROWS] [--pid PID]
import { readFileSync } from "node:fs";
import { cpuMs, quantile } from "../lib/stats.ts";
import { argNumber, argString, emitLine, emitResult, runWorker } from "../lib/worker-io.ts";

interface Health {
  cycles: number;
  /** The collector's last poll, unix ms (the API's times have ms resolution). */
  lastPollMs: number;
  /** When the worker read it, performance.now(). */
  readAt: number;
}

interface Row {
  src?: { port?: unknown };
  dst?: { port?: unknown };
}

async function health(base: string): Promise<Health> {
  const r = await fetch(`${base}/healthz`);
  const j = (await r.json()) as { cycles?: number; lastPoll?: string | null };
  if (r.status !== 200 || typeof j.cycles !== "number" || typeof j.lastPoll !== "string") throw new Error(`/healthz: ${r.status} ${JSON.stringify(j)}`);
  return { cycles: j.cycles, lastPollMs: Date.parse(j.lastPoll), readAt: performance.now() };
}

/** user + system CPU of every thread of `pid`, ms (NaN without a pid). */
function processCpuMs(pid: number): number {
  if (pid <= 0) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ ticks
}

async function rows(url: string): Promise<Row[]> {
  const r = await fetch(url);
  const j = (await r.json()) as { connections?: Row[] };
  if (r.status !== 200 || !Array.isArray(j.connections)) throw new Error(`${url}: ${r.status} ${JSON.stringify(j).slice(0, 200)}`);
  return j.connections;
}

/** Why a /connections response is not the expected page, or null when it is. */
function check(status: number, body: string, port: number): string | null {
  if (status !== 200) return `status ${status}`;
  let j: { connections?: Row[] };
  try {
    j = JSON.parse(body) as { connections?: Row[] };
  } catch {
    return "not JSON";
  }
  const cs = j.connections;
  if (!Array.isArray(cs)) return "no connections array";
  if (cs.length === 0 || cs.length > 100) return `${cs.length} rows`;
  for (const c of cs) if (c.src?.port !== port && c.dst?.port !== port) return "row without the port";
  return null;
}

runWorker("api-clients", async () => {
  const base = argString("base");
  const dst = argString("dst");
  const clients = argNumber("clients");
  const seconds = argNumber("seconds");
  const expect = argNumber("expect", 1);
  let port = argNumber("port", 0);
  const pid = argNumber("pid", 0);

  const ready = performance.now() + 60_000;
  for (;;) {
    try {
      if (port === 0) {
        const p = (await rows(`${base}/connections?dst=${dst}&limit=1`))[0]?.dst?.port;
        if (typeof p === "number") port = p;
      }
      if (port !== 0 && (await rows(`${base}/connections?port=${port}&limit=100`)).length >= expect) break;
    } catch (e) {
      if (performance.now() > ready) throw e;
    }
    if (performance.now() > ready) throw new Error(`the index did not list ${expect} connections on a port of ${dst} within 60 s`);
    await Bun.sleep(100);
  }
  emitLine(`PORT ${port}`);

  const url = `${base}/connections?port=${port}&limit=100`;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const fail = (why: string): void => {
    errors[why] = (errors[why] ?? 0) + 1;
  };
  const h0 = await health(base);
  const cpu0 = { collector: processCpuMs(pid), self: cpuMs() };
  const end = h0.readAt + seconds * 1000;
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const r = await fetch(url);
        const body = await r.text();
        latencies.push(performance.now() - t);
        const why = check(r.status, body, port);
        if (why !== null) fail(why);
      } catch (e) {
        fail(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      }
    }
  };
  if (clients > 0) await Promise.all(Array.from({ length: clients }, client));
  else await Bun.sleep(seconds * 1000);
  const h1 = await health(base);
  const cpu1 = { collector: processCpuMs(pid), self: cpuMs() };

  const windowS = (h1.readAt - h0.readAt) / 1000;
  const cycles = h1.cycles - h0.cycles;
  const q = (p: number): number => quantile(latencies, p);
  emitResult({
    port,
    clients,
    windowS,
    cycles,
    // Both ends from the collector's own clock (its last poll), and from this worker's.
    pollsPerSec: cycles / ((h1.lastPollMs - h0.lastPollMs) / 1000),
    pollsPerSecWall: cycles / windowS,
    requests: latencies.length,
    requestsPerSec: latencies.length / windowS,
    errors: Object.values(errors).reduce((a, b) => a + b, 0),
    errorKinds: errors,
    latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) },
    // CPU over the window, in cores (CPU seconds per second).
    collectorCores: (cpu1.collector - cpu0.collector) / 1000 / windowS,
    clientCores: (cpu1.self - cpu0.self) / 1000 / windowS,
  });
});
