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

/**
 * A CollectorStatus's numbers in shared memory: the poll thread writes them after every
 * cycle and the API worker reads them when /healthz is asked, with no message between
 * (posting the status 20 times a second cost the poll thread ~0.1 ms each). Each number
 * is one aligned 8-byte slot: a reader may see one cycle's count with the next one's
 * poll time, never a torn number. The last error, which rarely changes, goes by message.
 */
export class SharedStatusNumbers {
  private readonly v: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4 * 8)) {
    this.v = new Float64Array(buffer);
  }

  write(s: CollectorStatus): void {
    const v = this.v;
    v[0] = s.startedAt;
    v[1] = s.lastPollAt ?? Number.NaN;
    v[2] = s.cycles;
    v[3] = s.errors;
  }

  /** A status whose numbers are read from shared memory at each access; `lastError` is set by its owner. */
  view(): CollectorStatus {
    const v = this.v;
    return {
      get startedAt() {
        return v[0];
      },
      get lastPollAt() {
        return Number.isNaN(v[1]) ? null : v[1];
      },
      get cycles() {
        return v[2];
      },
      get errors() {
        return v[3];
      },
      lastError: null,
    };
  }
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
