// Cycle reports to the SQLite index, batched: one transaction every `batchMs`, which keeps
// index writes a small share of the time. A report that cannot be written is kept and
// retried; past MAX_PENDING_REPORTS the oldest are dropped, counted and logged. Runs in
// the storage worker, off the poll thread.
import type { ConnectionIndex, EndReason } from "../index-db/index.ts";
import type { LogLevel } from "./logger.ts";
import type { CycleReport } from "../model/report.ts";

const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 10_000;
const MAX_BACKOFF_MS = 5_000;

/** Pending reports kept through index write failures before the oldest are dropped. */
export const MAX_PENDING_REPORTS = 10_000;

export interface IndexCounters {
  /** Reports never written (backlog bound, or still failing at shutdown). */
  lostReports: number;
  writeFailures: number;
  /** Rows in the connections table after the last write. */
  rows: number;
  /** Durations (s) of the writes since the last takeWriteSeconds(). */
  writeSeconds: number[];
}

export class IndexBatcher {
  private pending: CycleReport[] = [];
  private lastWrite = 0;
  private lastPrune = 0;
  /** After failed writes, the next try waits: batchMs doubled per failure, up to MAX_BACKOFF_MS. */
  private backoffMs = 0;
  private failedInARow = 0;
  readonly counters: IndexCounters = { lostReports: 0, writeFailures: 0, rows: 0, writeSeconds: [] };

  constructor(
    private readonly index: ConnectionIndex,
    private readonly batchMs: number,
    /** Rows of connections closed longer ago than this are deleted; 0 keeps them. */
    private readonly retentionMs: number,
    private readonly log: (line: string, level?: LogLevel) => void,
  ) {
    this.counters.rows = index.rowCount;
  }

  get pendingReports(): number {
    return this.pending.length;
  }

  /** Queues a report; writes the batch when it is due. */
  add(report: CycleReport): void {
    if (report.opened.length + report.updated.length + report.closed.length + report.files.length > 0) this.pending.push(report);
    if (this.pending.length > MAX_PENDING_REPORTS) this.lose(this.pending.length - MAX_PENDING_REPORTS, "index write failing and backlog bound reached");
    this.flushIfDue(report.time);
  }

  /** When flushIfDue next writes (Unix ms, as its `now`); +Infinity with nothing pending. */
  nextDueMs(): number {
    return this.pending.length === 0 ? Number.POSITIVE_INFINITY : this.lastWrite + Math.max(this.batchMs, this.backoffMs);
  }

  /** Writes the batch if `batchMs` have passed since the last write. */
  flushIfDue(now: number): void {
    if (now - this.lastWrite >= Math.max(this.batchMs, this.backoffMs)) this.flush(now);
  }

  /** Writes every pending report in one transaction. False if that failed (they are kept for a retry). */
  flush(now: number): boolean {
    this.lastWrite = now;
    if (this.pending.length === 0) return true;
    try {
      const r = this.index.applyCycles(this.pending);
      this.pending = [];
      this.counters.writeSeconds.push(r.seconds);
      this.prune(now);
      this.counters.rows = this.index.rowCount;
      this.backoffMs = 0;
      this.failedInARow = 0;
      return true;
    } catch (e) {
      // Kept for the next try: a locked or full database must not lose lifecycle rows. A
      // full disk fails every try, and each re-applies the whole backlog: back off.
      this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(this.batchMs, 50) * 2 ** Math.min(10, this.failedInARow++));
      this.counters.writeFailures++;
      this.log(`index write failed (${this.pending.length} reports kept for retry): ${(e as Error).message}`, "warn");
      return false;
    }
  }

  /** Ends connections of an earlier run that the first dump did not find. */
  closeConnections(uuids: string[], at: number, reason: EndReason): void {
    this.flush(at);
    try {
      this.index.closeConnections(uuids, at, reason);
    } catch (e) {
      this.counters.writeFailures++;
      this.log(`index: could not close ${uuids.length} connections as '${reason}': ${(e as Error).message}`);
    }
  }

  /** At shutdown: what could not be written is lost; returns how many reports that was. */
  abandon(): number {
    const n = this.pending.length;
    this.lose(n, "still failing at shutdown");
    return n;
  }

  /** Records a clean stop (nothing lost), so the next start need not scan the archive folders. */
  markCleanStop(): void {
    try {
      this.index.recovery().setMeta("clean_stop", "1");
    } catch (e) {
      this.log(`index: could not record the clean stop: ${(e as Error).message}`);
    }
  }

  private lose(n: number, why: string): void {
    if (n <= 0) return;
    this.pending.splice(0, n);
    this.counters.lostReports += n;
    this.log(`index: ${n} cycle reports LOST (${why}); ${this.counters.lostReports} in all`, "error");
  }

  /** Retention, a bounded batch at a time: once a minute, or on the next write while a batch came back full. */
  private prune(now: number): void {
    if (this.retentionMs <= 0 || now - this.lastPrune < PRUNE_EVERY_MS) return;
    const deleted = this.index.pruneClosedBefore(now - this.retentionMs, PRUNE_BATCH);
    this.lastPrune = deleted === PRUNE_BATCH ? 0 : now;
  }
}
