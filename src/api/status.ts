// The collector's liveness as /healthz reports it. The collector owns one CollectorStatus
// and updates it in place; the API only reads it.
import { formatApiTime } from "./time.ts";

export interface CollectorStatus {
  /** Unix ms the collector started. */
  startedAt: number;
  /** Unix ms of the latest completed poll cycle; null before the first. */
  lastPollAt: number | null;
  /** Completed poll cycles. */
  cycles: number;
  /** Errors counted since start (every kind). */
  errors: number;
  lastError: { at: number; message: string } | null;
}

export function createStatus(now: number = Date.now()): CollectorStatus {
  return { startedAt: now, lastPollAt: null, cycles: 0, errors: 0, lastError: null };
}

export function recordPoll(status: CollectorStatus, at: number): void {
  status.lastPollAt = at;
  status.cycles++;
}

export function recordError(status: CollectorStatus, error: unknown, at: number = Date.now()): void {
  status.errors++;
  status.lastError = { at, message: error instanceof Error ? error.message : String(error) };
}

export type Health = "ok" | "starting" | "stale";

export interface HealthReport {
  status: Health;
  startedAt: string;
  lastPoll: string | null;
  cycles: number;
  errors: number;
  lastError: { at: string; message: string } | null;
}

/**
 * "stale" when no poll completed for `staleAfterMs` (since the last one, or since start
 * if there was none): the poll loop is stuck. "starting" before the first poll.
 */
export function healthReport(s: CollectorStatus, now: number, staleAfterMs: number): HealthReport {
  const since = s.lastPollAt ?? s.startedAt;
  const status: Health = now - since > staleAfterMs ? "stale" : s.lastPollAt === null ? "starting" : "ok";
  return {
    status,
    startedAt: formatApiTime(s.startedAt),
    lastPoll: s.lastPollAt === null ? null : formatApiTime(s.lastPollAt),
    cycles: s.cycles,
    errors: s.errors,
    lastError: s.lastError && { at: formatApiTime(s.lastError.at), message: s.lastError.message },
  };
}
