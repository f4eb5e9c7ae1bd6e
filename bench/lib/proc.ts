// Running things inside the test bed's namespaces and measuring them from outside.
import { join } from "node:path";
import type { ResourceUsage } from "bun";
import { BENCH_DIR, LineReader, type Testbed } from "../netns.ts";
import { withTimeout } from "./stats.ts";

export const REPO_DIR: string = join(BENCH_DIR, "..");
/** The bun binary running this driver: workers and the CLI use the same one. */
export const BUN: string = process.execPath;

export function workerPath(name: string): string {
  return join(BENCH_DIR, "workers", `${name}.ts`);
}

/** A bun worker from bench/workers/ running in nsA; its stdout is read line by line. */
export interface WorkerHandle {
  out: LineReader;
  /** Resolves with the worker's result (its last JSON line); rejects on failure or timeout. */
  result: Promise<Record<string, unknown>>;
}

export function startWorker(tb: Testbed, name: string, args: readonly string[], timeoutMs: number): WorkerHandle {
  const proc = tb.exec(tb.nsA, [BUN, workerPath(name), ...args], { stdout: "pipe", stderr: "inherit" });
  const out = new LineReader(proc.stdout);
  const result = (async (): Promise<Record<string, unknown>> => {
    const code = await withTimeout(proc.exited, timeoutMs, "timeout" as const);
    if (code === "timeout") {
      proc.kill("SIGKILL");
      throw new Error(`worker ${name} timed out after ${timeoutMs} ms`);
    }
    await out.done;
    const json = out.lastJson();
    if (code !== 0 || json === null) throw new Error(`worker ${name} failed (exit ${String(code)})`);
    return json;
  })();
  // The caller may be waiting on progress lines when the worker fails: keep the
  // rejection from being reported as unhandled before the caller awaits it.
  result.catch(() => {});
  return { out, result };
}

export async function runWorkerInNs(tb: Testbed, name: string, args: readonly string[], timeoutMs: number): Promise<Record<string, unknown>> {
  return startWorker(tb, name, args, timeoutMs).result;
}

export interface TimedRun {
  code: number;
  wallMs: number;
  /** user + system CPU of the process (and its waited-for children), ms. */
  cpuMs: number;
  userMs: number;
  sysMs: number;
  maxRssBytes: number;
  stdoutBytes: number;
  stderr: string;
}

function cpu(u: ResourceUsage | undefined): { user: number; sys: number } {
  if (u === undefined) return { user: Number.NaN, sys: Number.NaN };
  return { user: Number(u.cpuTime.user) / 1000, sys: Number(u.cpuTime.system) / 1000 };
}

/**
 * Runs `argv` in namespace `ns` to completion, timing it from spawn to exit (so process
 * start-up counts) and reading its CPU from the kernel's rusage of the child. `ip netns
 * exec` execs the command in place, so the rusage is the command's own.
 */
export async function timedRun(tb: Testbed, ns: string, argv: readonly string[], timeoutMs: number): Promise<TimedRun> {
  const t0 = performance.now();
  const proc = tb.exec(ns, argv, { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    // Drain both pipes while waiting, so a chatty child never blocks on a full pipe.
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).arrayBuffer(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    const wallMs = performance.now() - t0;
    const u = proc.resourceUsage();
    const c = cpu(u);
    return { code, wallMs, cpuMs: c.user + c.sys, userMs: c.user, sysMs: c.sys, maxRssBytes: u?.maxRSS ?? Number.NaN, stdoutBytes: stdout.byteLength, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** A `/proc/<pid>/status` line's value in kB (VmRSS, VmHWM, RssAnon, ...); NaN if absent. */
export function statusKiB(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) : Number.NaN;
}
