// Hands each poll cycle's report to everything that records it: the eventsocket (at once,
// so sidecars hear of connections within a cycle), the SQLite index (reports batched into
// one transaction every few hundred ms, which keeps index writes a small share of the
// poll budget), Prometheus metrics and /healthz status.
import type { Collector } from "../collector/collector.ts";
import type { CycleReport } from "../model/report.ts";
import type { ConnectionIndex } from "../index-db/index.ts";
import type { EventSocketServer } from "../api/eventsocket.ts";
import type { CollectorMetrics } from "../api/metrics.ts";
import { recordError, recordPoll, type CollectorStatus } from "../api/status.ts";
import { AF_INET } from "../diag/constants.ts";
import type { CycleSink } from "./loop.ts";

export interface FanoutDeps {
  collector: Collector;
  index: ConnectionIndex | null;
  events: EventSocketServer | null;
  metrics: CollectorMetrics;
  status: CollectorStatus;
  /** Reports are written to the index at least this often (ms). */
  indexBatchMs: number;
  /** Index rows of connections closed longer ago than this are deleted; 0 keeps them. */
  indexRetentionMs: number;
  log: (line: string) => void;
}

const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 10_000;

/** Pending reports kept through index write failures before the oldest are dropped. */
const MAX_PENDING_REPORTS = 10_000;

export class ReportFanout implements CycleSink {
  private pending: CycleReport[] = [];
  /** Cycle reports never written to the index (backlog bound, or still failing at shutdown). */
  lostReports = 0;
  private lastIndexWrite = 0;
  private lastPrune = 0;
  private lastPollTime = 0;
  private lastSnapshots = 0;
  private lastFiles = 0;
  private lastRemnants = 0;
  private readonly lastLost = new Map<string, number>();
  private readonly lastErrors = new Map<string, number>();

  constructor(private readonly deps: FanoutDeps) {}

  onReport(report: CycleReport, _cycleMs: number): void {
    const { events, metrics } = this.deps;
    if (events) {
      for (const o of report.opened) events.open(o);
      for (const c of report.closed) events.close(c.uuid, c.closedAt, c.closedAtSubMs);
    }
    if (report.opened.length + report.updated.length + report.closed.length + report.files.length > 0) this.pending.push(report);
    if (this.pending.length > MAX_PENDING_REPORTS) this.lose(this.pending.length - MAX_PENDING_REPORTS, "index write failing and backlog bound reached");
    if (report.time - this.lastIndexWrite >= this.deps.indexBatchMs) this.flushIndex(report.time);
    this.updateMetrics(report);
    recordPoll(this.deps.status, report.time);
    metrics.cacheCount.observe(this.deps.collector.tracked);
  }

  /** Drops the oldest `n` pending reports, counted and logged. */
  private lose(n: number, why: string): void {
    if (n <= 0) return;
    this.pending.splice(0, n);
    this.lostReports += n;
    this.deps.metrics.indexReportsLost.inc(n);
    this.countError("index_backlog_dropped");
    this.deps.log(`index: ${n} cycle reports LOST (${why}); ${this.lostReports} in all`);
  }

  /** At shutdown: what could not be written is lost; returns how many reports that was. */
  abandonPending(): number {
    const n = this.pending.length;
    this.lose(n, "still failing at shutdown");
    return n;
  }

  /** Writes every pending report to the index in one transaction. False if that failed (they are kept). */
  flushIndex(now: number): boolean {
    this.lastIndexWrite = now;
    const index = this.deps.index;
    if (!index || this.pending.length === 0) return true;
    try {
      const r = index.applyCycles(this.pending);
      this.pending = [];
      this.deps.metrics.indexWriteSeconds.observe(r.seconds);
      this.prune(index, now);
      this.deps.metrics.indexRows.set(index.rowCount);
      return true;
    } catch (e) {
      // Kept for the next try: a locked or full database must not lose lifecycle rows.
      this.countError("index_write");
      recordError(this.deps.status, e, now);
      this.deps.log(`index write failed (${this.pending.length} reports kept for retry): ${(e as Error).message}`);
      return false;
    }
  }

  /** Retention, a bounded batch at a time: once a minute, or on the next write while a batch came back full. */
  private prune(index: ConnectionIndex, now: number): void {
    const keep = this.deps.indexRetentionMs;
    if (keep <= 0 || now - this.lastPrune < PRUNE_EVERY_MS) return;
    const deleted = index.pruneClosedBefore(now - keep, PRUNE_BATCH);
    this.lastPrune = deleted === PRUNE_BATCH ? 0 : now;
  }

  private countError(type: string): void {
    this.deps.metrics.errors.inc({ type });
    this.deps.status.errors++;
  }

  private updateMetrics(report: CycleReport): void {
    const { collector, metrics } = this.deps;
    if (this.lastPollTime > 0) metrics.pollingInterval.observe((report.time - this.lastPollTime) / 1000);
    this.lastPollTime = report.time;
    const dump = collector.lastDump;
    for (let i = 0; i < dump.families.length; i++) {
      const af = dump.families[i] === AF_INET ? "ipv4" : "ipv6";
      metrics.connectionCount.observe({ af }, dump.messages[i]);
      metrics.syscallTime.observe({ af }, dump.seconds[i]);
    }
    const s = collector.stats;
    metrics.snapshots.inc(s.snapshots - this.lastSnapshots);
    this.lastSnapshots = s.snapshots;
    const a = collector.archiveStats();
    metrics.newFiles.inc(a.filesCreated - this.lastFiles);
    this.lastFiles = a.filesCreated;
    metrics.timewaitRemnants.inc(s.remnants - this.lastRemnants);
    this.lastRemnants = s.remnants;
    for (const [reason, n] of Object.entries(a.lostByReason)) {
      const before = this.lastLost.get(reason) ?? 0;
      if (n > before) metrics.archiveLinesLost.inc({ reason }, n - before);
      this.lastLost.set(reason, n);
    }
    this.errorDeltas(s.errors.entries(), "");
    this.errorDeltas(Object.entries(a.errors), "archive_");
  }

  private errorDeltas(entries: Iterable<[string, number]>, prefix: string): void {
    for (const [type, n] of entries) {
      const key = prefix + type;
      const before = this.lastErrors.get(key) ?? 0;
      if (n > before) {
        this.deps.metrics.errors.inc({ type: key }, n - before);
        this.deps.status.errors += n - before;
        this.lastErrors.set(key, n);
      }
    }
  }
}
