// Reading the CLI collector's stderr: its status line ("status: cycles=… cycle_ms=P50/P99/MAX
// period_ms=P50/P99/MAX …", quantiles over its last 4,096 cycles) and the lines it is
// waited for by.
import type { Subprocess } from "bun";
import type { LineReader } from "../netns.ts";
import { withTimeout } from "./stats.ts";

export interface Cadence {
  p50: number;
  p99: number;
  max: number;
}

/** An integer field of a status line (NaN when absent). */
export function statusField(status: string, key: string): number {
  const m = new RegExp(`\\b${key}=(\\d+)`).exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

/** `cycle_ms` or `period_ms` of a status line: p50/p99/max, ms (null when absent). */
export function statusCadence(status: string, key: "cycle_ms" | "period_ms"): Cadence | null {
  const m = new RegExp(`\\b${key}=([\\d.]+)/([\\d.]+)/([\\d.]+)`).exec(status);
  return m ? { p50: Number(m[1]), p99: Number(m[2]), max: Number(m[3]) } : null;
}

/** The status lines among `lines[from, to)`. */
export function statusLines(lines: readonly string[], from: number, to = lines.length): string[] {
  return lines.slice(from, to).filter((l) => l.startsWith("status:"));
}

/**
 * Waits (at most `timeoutMs`) for a status line at index `from` or later of `reader`'s
 * lines; returns the index just past it, or null on timeout or end of the stream.
 * Does not move the reader's own cursor.
 */
export async function statusLineAfter(reader: LineReader, from: number, timeoutMs: number): Promise<number | null> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (let i = from; i < reader.lines.length; i++) if (reader.lines[i]?.startsWith("status:")) return i + 1;
    if (performance.now() >= deadline) return null;
    await Bun.sleep(20);
  }
}

/**
 * `err.waitFor(re, timeoutMs)` on the collector's stderr; when that fails (the collector
 * exited, or took too long), the error says how it exited and its last lines.
 */
export async function collectorLine(proc: Subprocess, err: LineReader, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  try {
    return await err.waitFor(re, timeoutMs);
  } catch (e) {
    await withTimeout(proc.exited, 2_000, null);
    const how = proc.exitCode !== null || proc.signalCode !== null ? `exited (${String(proc.exitCode ?? proc.signalCode)})` : "running";
    throw new Error(`${e instanceof Error ? e.message : String(e)}; collector ${how}: ${err.lines.slice(-5).join(" | ")}`);
  }
}
