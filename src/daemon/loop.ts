// The daemon's poll loop: one Collector.poll() every interval, its report handed to the
// sink (index, eventsocket, metrics), idle time spent writing archives and reading
// destroy events. No exception ends it: a cycle that throws is counted and logged (at
// most every LOG_EVERY_MS per kind, with how many were not logged) and the next one runs.
import { realtime, unixMs, type RealTime } from "../ffi/clock.ts";
import type { Collector } from "../collector/collector.ts";
import { AF_UNSPEC } from "../diag/constants.ts";
import type { CycleReport } from "../model/report.ts";
import { formatQuantiles, type CycleTimes } from "./cycle-times.ts";
import type { LogFn } from "./logger.ts";

export interface CycleSink {
  /** Called with every cycle's report (index, eventsocket, metrics). */
  onReport(report: CycleReport, cycleMs: number): void;
}

export interface LoopOptions {
  intervalMs: number;
  reps: number;
  statusSeconds: number;
  log: LogFn;
  /** Where each cycle's duration and start time go (the status line reports them). */
  times?: CycleTimes;
  /** Runs before each poll, outside its timing (the namespace rescan of --netns). */
  beforePoll?: () => void;
}

const LOG_EVERY_MS = 10_000;

/** Logs a recurring failure once, then at most every LOG_EVERY_MS with the count in between. */
class FailureLog {
  private last = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  constructor(private readonly what: string, private readonly log: LogFn) {}

  report(cycle: number, e: unknown): void {
    const now = performance.now();
    if (now - this.last < LOG_EVERY_MS) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last report)` : "";
    const stack = e instanceof Error && e.stack ? ` at ${e.stack.split("\n").slice(1, 3).map((l) => l.trim()).join(" < ")}` : "";
    this.log(`${this.what} failed in cycle ${cycle}: ${e instanceof Error ? e.message : String(e)}${stack}${more}; continuing`, "error");
    this.last = now;
    this.suppressed = 0;
  }
}

/**
 * How long to sleep with `left` ms to the deadline: whole milliseconds, rounded up, at
 * most 10. Bun's timers drop the fraction, so a sleep of 5.6 ms woke after 5 and one
 * under 1 ms returned at once: the loop spun on the event loop until the deadline (~125
 * epoll calls a cycle at 1k idle sockets, a tenth of the dump's CPU). A cycle now starts
 * up to 1 ms late; the rate stays fixed (`next` is not moved by it).
 */
export function sleepMs(left: number): number {
  return Math.min(Math.max(1, Math.ceil(left)), 10);
}

/**
 * Waits until `deadline` (performance.now() ms), using the time: destroy events are read
 * every few ms, and archive writes that a busy cycle left over go out in idle time.
 */
async function waitUntil(deadline: number, collector: Collector, stop: AbortSignal): Promise<void> {
  // Always yield once, even when the cycle overran: timers, signals, HTTP requests and
  // eventsocket writes run only when the loop gives the event loop a turn.
  await new Promise<void>((resolve) => setImmediate(resolve));
  for (;;) {
    let left = deadline - performance.now();
    if (left <= 0 || stop.aborted) return;
    if (left > 2) collector.flushIdle(Date.now(), left - 1);
    left = deadline - performance.now();
    if (left <= 0) return;
    await Bun.sleep(sleepMs(left));
    if (deadline - performance.now() > 1) collector.drainDestroyEvents(Date.now());
  }
}

/** The poll loop at a fixed rate; a cycle that overruns is followed at once, never by a burst. */
export async function runLoop(collector: Collector, sink: CycleSink, opts: LoopOptions, stop: AbortSignal): Promise<void> {
  const pollFailures = new FailureLog("poll", opts.log);
  const reportFailures = new FailureLog("recording the cycle's report", opts.log);
  const idleFailures = new FailureLog("idle-time work", opts.log);
  const time: RealTime = { sec: 0, nsec: 0 };
  let next = performance.now();
  let lastStatus = performance.now();
  let announced = false;
  for (let rep = 0; (opts.reps === 0 || rep < opts.reps) && !stop.aborted; rep++) {
    const cycle = collector.stats.cycles + 1;
    try {
      opts.beforePoll?.();
    } catch (e) {
      collector.stats.error("poll_exception");
      pollFailures.report(cycle, e);
    }
    const t0 = performance.now();
    let report: CycleReport | null = null;
    try {
      realtime(time);
      report = collector.poll(unixMs(time), time);
    } catch (e) {
      collector.stats.error("poll_exception");
      pollFailures.report(cycle, e);
    }
    const cycleMs = performance.now() - t0;
    collector.stats.cycles++;
    collector.stats.lastCycleMs = cycleMs;
    opts.times?.record(t0, cycleMs);
    if (report !== null) {
      collector.stats.lastPoll = report.time;
      if (!announced) {
        announced = true;
        for (const line of firstPollLines(collector, cycleMs)) opts.log(line);
      }
      try {
        sink.onReport(report, cycleMs);
      } catch (e) {
        collector.stats.error("report_exception");
        reportFailures.report(cycle, e);
      }
    }
    if (opts.statusSeconds > 0 && performance.now() - lastStatus >= opts.statusSeconds * 1000) {
      lastStatus = performance.now();
      opts.log(statusLine(collector, opts.times));
    }
    if (opts.reps !== 0 && rep + 1 >= opts.reps) break;
    next += opts.intervalMs;
    if (next < performance.now()) next = performance.now();
    try {
      await waitUntil(next, collector, stop);
    } catch (e) {
      collector.stats.error("idle_exception");
      idleFailures.report(cycle, e);
    }
  }
}

/**
 * Said once, after the first poll: a new user sees at once that the collector works, what
 * it tracks and what it leaves out and why (the status line comes every --status-seconds).
 */
export function firstPollLines(c: Collector, cycleMs: number): string[] {
  const s = c.stats;
  const lines = [
    `first poll: sockets=${s.sockets} tracked=${c.tracked} excluded_local=${s.excluded.local} excluded_by_flags=${s.excluded.byFlags} cycle_ms=${cycleMs.toFixed(2)}`,
  ];
  if (s.excluded.local > 0) {
    lines.push(`${s.excluded.local} sockets with a loopback, link-local, multicast or unspecified address excluded: use --include-local to archive them`);
  }
  if (s.excluded.byFlags > 0) lines.push(`${s.excluded.byFlags} sockets excluded by --exclude-srcport / --exclude-dstip`);
  const walks = c.lastDump.walks;
  if (c.dumpFallback !== null) lines.push(`dump: ${c.dumpFallback}`);
  else if (walks.length === 1 && walks[0] === AF_UNSPEC) lines.push("dump: IPv4 and IPv6 sockets in one walk of the kernel's tables (TCPDIAG_GETSOCK)");
  else if (walks.length > 1) lines.push("dump: one walk of the kernel's tables per family (SOCK_DIAG_BY_FAMILY)");
  return lines;
}

export function statusLine(c: Collector, times?: CycleTimes): string {
  const s = c.stats;
  const a = c.archiveStats();
  const errs = [...s.errors].map(([k, v]) => `${k}=${v}`).join(",") || "0";
  return (
    `status: cycles=${s.cycles} sockets=${s.sockets} tracked=${c.tracked} snapshots=${s.snapshots} ` +
    `lines_written=${a.recordsWritten} lines_buffered=${a.pendingRecords} lines_lost=${a.droppedRecords} ` +
    `opened=${s.opened} resumed=${s.resumed} closed=${s.closed} timewait_remnants=${s.remnants} retakes=${s.retakes} ` +
    `files_open=${a.liveWriters} files_created=${a.filesCreated} destroy_events=${s.destroyEvents} ` +
    `last_cycle_ms=${s.lastCycleMs.toFixed(2)} ` +
    (times ? `cycle_ms=${formatQuantiles(times.duration())} period_ms=${formatQuantiles(times.period())} ` : "") +
    `errors=${errs} archive_errors=${Object.values(a.errors).reduce((x, y) => x + y, 0)}`
  );
}
