// A collector run as a child process, seen from outside: its API (found in the first
// stderr line), /healthz cycles and /metrics to wait on, and the status and final lines
// it prints when it stops, parsed.
import { startCli, type CliRun } from "./run-cli.ts";

export interface RunningCollector {
  run: CliRun;
  /** http://127.0.0.1:PORT */
  api: string;
}

/** Starts `collector` with the given flags (plus `--listen 127.0.0.1:0 --status-seconds 0` unless given) and waits for its API. */
export async function startCollector(args: string[], env: Record<string, string> = {}, wrap: string[] = []): Promise<RunningCollector> {
  const full = ["collector", ...args];
  if (!args.includes("--listen")) full.push("--listen", "127.0.0.1:0");
  if (!args.includes("--status-seconds")) full.push("--status-seconds", "0");
  const run = startCli(full, env, wrap);
  let line: string;
  try {
    line = await run.waitForStderr(/^collector: writing/, 20_000);
  } catch (e) {
    run.proc.kill("SIGKILL");
    await run.exited;
    throw e;
  }
  const api = /api (http:\/\/[^;]+);/.exec(line)?.[1];
  if (api === undefined) {
    run.proc.kill("SIGKILL");
    await run.exited;
    throw new Error(`no API address in: ${line}`);
  }
  return { run, api };
}

/** Polls `get` every `stepMs` until it returns something other than undefined. */
export async function waitUntil<T>(what: string, get: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, stepMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(stepMs);
  }
}

/** Completed poll cycles, from GET /healthz. */
export async function healthCycles(api: string): Promise<number> {
  const r = await fetch(`${api}/healthz`);
  const body = (await r.json()) as { cycles: number };
  return body.cycles;
}

/** What the process has said and whether it is still running: for failure messages. */
export function describeRun(run: CliRun, tail = 20): string {
  const state = run.proc.exitCode !== null ? `exited with status ${run.proc.exitCode}` : run.proc.signalCode !== null ? `killed by ${run.proc.signalCode}` : "running";
  return `collector ${state}; last stderr lines:\n${run.stderrLines.slice(-tail).join("\n")}`;
}

/** Waits until the collector has completed `n` more poll cycles than now. */
export async function waitCycles(c: RunningCollector, n: number, timeoutMs = 15_000): Promise<number> {
  const cycles = async () => {
    try {
      return await healthCycles(c.api);
    } catch (e) {
      throw new Error(`GET /healthz failed (${(e as Error).message}); ${describeRun(c.run)}`);
    }
  };
  const target = (await cycles()) + n;
  try {
    return await waitUntil(`${n} more poll cycles`, async () => {
      const now = await cycles();
      return now >= target ? now : undefined;
    }, timeoutMs, 10);
  } catch (e) {
    if ((e as Error).message.startsWith("GET /healthz")) throw e;
    throw new Error(`${(e as Error).message}; ${describeRun(c.run)}`);
  }
}

export async function metricsText(api: string): Promise<string> {
  return (await fetch(`${api}/metrics`)).text();
}

/**
 * The sum of every sample of metric `name` (exact name, so `_total` must be given) whose
 * labels include all of `labels`; 0 when there is none.
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(l[1], l[2]);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

/** The collector's last stderr line, parsed. */
export interface FinalLine {
  cycles: number;
  snapshots: number;
  written: number;
  files: number;
  /** Archive lines counted lost (0 when the line says "no line lost"). */
  lost: number;
  /** Lost lines by reason, as the line lists them ("ENOSPC" → n). */
  lostBy: Record<string, number>;
  /** Index reports counted lost (0 when the line does not mention any). */
  indexLost: number;
  leftOpen: number;
}

const FINAL_RE =
  /^collector: stopped after (\d+) cycles; (\d+) snapshots taken, (\d+) lines written to (\d+) files(?:; no line lost|; (\d+) lines LOST \(([^)]*)\))(?:; (\d+) index reports LOST \([^)]*\))?; (\d+) connections left open/;

export function parseFinalLine(line: string): FinalLine {
  const m = FINAL_RE.exec(line);
  if (m === null) throw new Error(`not the collector's final line: ${line}`);
  const lostBy: Record<string, number> = {};
  if (m[6] !== undefined) {
    for (const part of m[6].split(", ")) {
      const r = /^(.+): (\d+)$/.exec(part);
      if (r === null) throw new Error(`unreadable loss reason "${part}" in: ${line}`);
      lostBy[r[1]] = Number(r[2]);
    }
  }
  return {
    cycles: Number(m[1]),
    snapshots: Number(m[2]),
    written: Number(m[3]),
    files: Number(m[4]),
    lost: m[5] === undefined ? 0 : Number(m[5]),
    lostBy,
    indexLost: m[7] === undefined ? 0 : Number(m[7]),
    leftOpen: Number(m[8]),
  };
}

/** `status: key=value …` as a map of its fields. */
export function parseStatusLine(line: string): Map<string, string> {
  if (!line.startsWith("status: ")) throw new Error(`not a status line: ${line}`);
  const out = new Map<string, string>();
  for (const tok of line.slice("status: ".length).split(" ")) {
    const i = tok.indexOf("=");
    if (i > 0) out.set(tok.slice(0, i), tok.slice(i + 1));
  }
  return out;
}

export interface Stopped {
  code: number;
  final: FinalLine;
  finalText: string;
  /** The status line printed just before the final line. */
  status: Map<string, string>;
  /** From the (first) signal to the exit. */
  elapsedMs: number;
}

/** Waits for the process to exit and for its final line; checks that it is the last stderr line, preceded by a status line. */
export async function awaitStopped(run: CliRun, since: number, exitTimeoutMs = 20_000): Promise<Stopped> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    run.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`collector still running ${exitTimeoutMs} ms after the signal; stderr:\n${run.stderrLines.slice(-20).join("\n")}`)), exitTimeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const elapsedMs = performance.now() - since;
  // The exit can be seen before the last bytes of stderr are read.
  await run.waitForStderr(/^collector: stopped after/, 5_000);
  const lines = run.stderrLines;
  const at = lines.findLastIndex((l) => l.startsWith("collector: stopped after"));
  if (at !== lines.length - 1) throw new Error(`the final line is not the last stderr line:\n${lines.slice(at).join("\n")}`);
  const finalText = lines[at];
  const statusText = lines[at - 1] ?? "";
  return { code, final: parseFinalLine(finalText), finalText, status: parseStatusLine(statusText), elapsedMs };
}

/** Sends SIGTERM and waits for the exit (see awaitStopped). */
export async function stopWith(run: CliRun, signal: "SIGTERM" | "SIGINT" = "SIGTERM", exitTimeoutMs = 20_000): Promise<Stopped> {
  const since = performance.now();
  run.proc.kill(signal);
  return awaitStopped(run, since, exitTimeoutMs);
}

/** Kills a run that is still going (cleanup after a failure). */
export async function killIfRunning(run: CliRun | undefined): Promise<void> {
  if (run === undefined || run.proc.exitCode !== null || run.proc.signalCode !== null) return;
  run.proc.kill("SIGKILL");
  await run.exited;
}
