// Driving bench/load.c from the benchmark: pools of server/client pairs, and churn runs.
// One load process can hold about 19.9k descriptors (RLIMIT_NOFILE hard limit 20,000,
// not raisable here), so a pool splits its connections into pairs of at most
// MAX_PER_CLIENT, each pair with its own server and its own 4 ports.
import type { Subprocess } from "bun";
import { LineReader, type Testbed } from "../netns.ts";
import { withTimeout } from "./stats.ts";

export const MAX_PER_CLIENT = 19_000;
/** Every pair gets ports BASE_PORT + 4k .. +3; never reused within a run. */
const BASE_PORT = 5001;
const PORTS_PER_PAIR = 4;
/** Upper bound on any load process's life, in case the driver dies without cleanup. */
const SAFETY_SECONDS = "1800";

let nextPair = 0;

function portRange(): string {
  const lo = BASE_PORT + PORTS_PER_PAIR * nextPair++;
  if (lo + PORTS_PER_PAIR - 1 > 65535) throw new Error("out of server ports");
  return `${lo}-${lo + PORTS_PER_PAIR - 1}`;
}

type Proc = Subprocess<"ignore", "pipe", "inherit">;

interface Running {
  proc: Proc;
  out: LineReader;
}

function start(tb: Testbed, ns: string, argv: string[]): Running {
  const proc = tb.exec(ns, argv, { stdout: "pipe", stderr: "inherit" });
  return { proc, out: new LineReader(proc.stdout) };
}

/** SIGTERM (load prints its summary then), wait at most `ms`, return the summary. */
async function stop(r: Running, ms = 10_000): Promise<Record<string, unknown> | null> {
  if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill("SIGTERM");
  await withTimeout(Promise.all([r.proc.exited, r.out.done]), ms, null);
  if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill("SIGKILL");
  return r.out.lastJson();
}

export interface PoolOptions {
  mode: "idle" | "active";
  /** Server address in nsB (IPv4 or IPv6). */
  connect: string;
  /** active: write period per connection, and payload per write. */
  periodMs?: number;
  bytes?: number;
  /** Upper bound on the pair's life (s); default SAFETY_SECONDS. Longer for soaks. */
  seconds?: number;
}

/** A growing population of long-lived connections from nsA to nsB. */
export class LoadPool {
  private readonly pairs: { server: Running; client: Running; conns: number }[] = [];
  established = 0;

  constructor(
    private readonly tb: Testbed,
    private readonly bin: string,
    private readonly opts: PoolOptions,
  ) {}

  /** Adds `n` connections; resolves once every one of them is established. */
  async add(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const conns = Math.min(left, MAX_PER_CLIENT);
      await this.addPair(conns);
      left -= conns;
    }
  }

  private async addPair(conns: number): Promise<void> {
    const ports = portRange();
    const life = String(this.opts.seconds ?? SAFETY_SECONDS);
    const server = start(this.tb, this.tb.nsB, [this.bin, "server", "--bind", this.opts.connect, "--ports", ports, "--seconds", life]);
    await server.out.waitFor(/^READY \d+/, 10_000);
    const argv = [this.bin, "client", "--connect", this.opts.connect, "--ports", ports, "--mode", this.opts.mode, "--conns", String(conns), "--seconds", life];
    if (this.opts.mode === "active") argv.push("--period-ms", String(this.opts.periodMs ?? 10), "--bytes", String(this.opts.bytes ?? 100));
    const client = start(this.tb, this.tb.nsA, argv);
    this.pairs.push({ server, client, conns });
    const m = await client.out.waitFor(/^READY (\d+)/, 60_000 + conns * 5);
    const got = Number(m[1]);
    this.established += got;
    if (got !== conns) throw new Error(`load client established ${got} of ${conns} connections`);
  }

  /** Stops every pair; returns the clients' JSON summaries. */
  async stop(): Promise<Record<string, unknown>[]> {
    const clients = await Promise.all(this.pairs.map((p) => stop(p.client)));
    await Promise.all(this.pairs.map((p) => stop(p.server)));
    this.pairs.length = 0;
    return clients.filter((c): c is Record<string, unknown> => c !== null);
  }
}

export interface ChurnSummary {
  created: number;
  established: number;
  failed: number;
  seconds: number;
  raw: Record<string, unknown>;
}

/** A churn run in the background (see startChurn). */
export interface ChurnRun {
  /** Resolves when the client has exited on its own (its --seconds are up). */
  readonly exited: Promise<number>;
  /** Ends the run early if it is still going (SIGTERM: load prints its summary), stops the server, returns the summary. */
  stop(timeoutMs?: number): Promise<ChurnSummary>;
}

function churnSummary(raw: Record<string, unknown>): ChurnSummary {
  const num = (k: string): number => (typeof raw[k] === "number" ? (raw[k] as number) : Number.NaN);
  return { created: num("created"), established: num("established"), failed: num("failed"), seconds: num("seconds"), raw };
}

/**
 * Starts `rate` short connections/s for `seconds` from nsA to a fresh server in nsB, each
 * closed by the client as soon as its handshake completes; returns once they have begun.
 */
export async function startChurn(tb: Testbed, bin: string, connect: string, rate: number, seconds: number): Promise<ChurnRun> {
  const ports = portRange();
  const server = start(tb, tb.nsB, [bin, "server", "--bind", connect, "--ports", ports, "--seconds", String(Math.max(Number(SAFETY_SECONDS), Math.ceil(seconds) + 120))]);
  try {
    await server.out.waitFor(/^READY \d+/, 10_000);
  } catch (e) {
    await stop(server);
    throw e;
  }
  const client = start(tb, tb.nsA, [bin, "client", "--connect", connect, "--ports", ports, "--mode", "churn", "--rate", String(rate), "--seconds", String(seconds)]);
  return {
    exited: client.proc.exited,
    async stop(timeoutMs = 30_000): Promise<ChurnSummary> {
      try {
        const raw = await stop(client, timeoutMs);
        const code = client.proc.exitCode;
        if (raw === null) throw new Error(`churn client failed (exit ${String(code ?? client.proc.signalCode)})`);
        return churnSummary(raw);
      } finally {
        await stop(server);
      }
    },
  };
}

/**
 * Runs `rate` short connections/s for `seconds` from nsA to a fresh server in nsB, each
 * closed by the client as soon as its handshake completes. Resolves with load's summary.
 */
export async function runChurn(tb: Testbed, bin: string, connect: string, rate: number, seconds: number): Promise<ChurnSummary> {
  const run = await startChurn(tb, bin, connect, rate, seconds);
  const code = await withTimeout(run.exited, seconds * 1000 + 30_000, -1);
  const summary = await run.stop(10_000);
  if (code !== 0) throw new Error(`churn client failed (exit ${code})`);
  return summary;
}

/** Sum of a numeric field over load summaries. */
export function sumField(summaries: readonly Record<string, unknown>[], key: string): number {
  let t = 0;
  for (const s of summaries) if (typeof s[key] === "number") t += s[key] as number;
  return t;
}
