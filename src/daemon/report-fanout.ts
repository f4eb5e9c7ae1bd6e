// Hands each poll cycle's report to everything that records it: the eventsocket (at once,
// so sidecars hear of connections within a cycle), the storage worker (which batches
// reports into the SQLite index off the poll thread), Prometheus metrics and /healthz.
// Per cycle only the cycle histograms are observed (cheap, see cycle-histogram.ts);
// counters and gauges follow the collector's totals every SYNC_EVERY_MS and before every
// scrape: turning totals into increments costs tens of map lookups and label hashes, which
// an idle host paid a hundred times a second for no reader.
import type { Collector } from "../collector/collector.ts";
import type { ByteTotals } from "../collector/connection.ts";
import { NETLINK_SKIPPED_TYPES, type CollectorError } from "../model/counted.ts";
import type { CycleReport } from "../model/report.ts";
import type { EventSocketServer } from "../api/eventsocket.ts";
import type { CollectorMetrics } from "../api/metrics.ts";
import { recordPoll, type CollectorStatus } from "../api/status.ts";
import { AF_INET, AF_INET6 } from "../diag/constants.ts";
import type { CycleSink } from "./loop.ts";
import type { StorageClient } from "./storage-client.ts";
import type { ApiThread } from "../api/api-thread.ts";

const SYNC_EVERY_MS = 250;

export interface FanoutDeps {
  collector: Collector;
  storage: StorageClient | null;
  events: EventSocketServer | null;
  metrics: CollectorMetrics;
  status: CollectorStatus;
  /** The API worker, told the status /healthz reports. */
  api: ApiThread | null;
}

/** Turns totals into counter increments: what each moved since it was last seen. */
class Deltas {
  private readonly last = new Map<string, number>();

  inc(key: string, total: number, add: (n: number) => void): void {
    const before = this.last.get(key) ?? 0;
    if (total > before) add(total - before);
    this.last.set(key, total);
  }
}

/**
 * M-Lab's tcpinfo_send_rate_histogram and _receive_rate_histogram: at the first poll of
 * each second (and the very first poll), the bits all connections sent and received
 * since the previous observation, a new connection's from 0. Over a minute, 60
 * observations; their sum is the namespace's traffic.
 */
class RateObserver {
  private second = -1;
  private sent = 0;
  private received = 0;

  update(timeMs: number, bytes: ByteTotals, metrics: CollectorMetrics): void {
    const second = Math.floor(timeMs / 1000);
    if (second === this.second) return;
    this.second = second;
    metrics.sendRate.observe((bytes.sent - this.sent) * 8);
    metrics.receiveRate.observe((bytes.received - this.received) * 8);
    this.sent = bytes.sent;
    this.received = bytes.received;
  }
}

/** M-Lab's af label; "all" for one walk over every family. */
function afLabel(family: number): string {
  return family === AF_INET ? "ipv4" : family === AF_INET6 ? "ipv6" : "all";
}

export class ReportFanout implements CycleSink {
  private readonly since = new Deltas();
  private readonly rates = new RateObserver();
  private lastPollTime = 0;
  private lastSync = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: FanoutDeps) {
    deps.metrics.beforeScrape.push(() => this.sync());
  }

  onReport(report: CycleReport, cycleMs: number): void {
    const { events } = this.deps;
    if (events) {
      for (const o of report.opened) events.open(o);
      for (const c of report.closed) events.close(c.uuid, c.closedAt, c.closedAtSubMs);
    }
    this.deps.storage?.submit(report);
    this.observeCycle(report, cycleMs);
    recordPoll(this.deps.status, report.time);
    const now = performance.now();
    if (now - this.lastSync >= SYNC_EVERY_MS) this.sync(now);
    this.deps.api?.pushStatus();
  }

  /** Counters and gauges brought up to the collector's and the storage worker's totals. */
  sync(now = performance.now()): void {
    this.lastSync = now;
    const { collector, metrics } = this.deps;
    const s = collector.stats;
    this.since.inc("snapshots", s.snapshots, (n) => metrics.snapshots.inc(n));
    if (this.lastPollTime > 0) metrics.lastPoll.set(this.lastPollTime / 1000);
    metrics.connectionsTracked.set(collector.tracked);
    metrics.netnsPolled.set(collector.namespaceCount);
    this.since.inc("netnsScan", s.netnsScanSeconds, (n) => metrics.netnsScanSeconds.inc(n));
    this.since.inc("destroy", s.destroyEvents, (n) => metrics.destroyEvents.inc(n));
    this.since.inc("overrun", s.errors.get("destroy_overrun") ?? 0, (n) => metrics.destroyOverruns.inc(n));
    for (const [type, n] of s.oversize) this.since.inc(`large:${type}`, n, (d) => metrics.largeNetlink.inc({ type }, d));
    for (const type of NETLINK_SKIPPED_TYPES) this.since.inc(`skipped:${type}`, s.errors.get(type) ?? 0, (d) => metrics.netlinkSkipped.inc({ type }, d));
    const a = collector.archiveStats();
    metrics.archiveFilesOpen.set(a.liveWriters);
    this.since.inc("files", a.filesCreated, (n) => metrics.newFiles.inc(n));
    this.since.inc("written", a.recordsWritten, (n) => metrics.archiveLinesWritten.inc(n));
    metrics.archiveLinesBuffered.set(a.pendingRecords);
    this.since.inc("remnants", s.remnants, (n) => metrics.timewaitRemnants.inc(n));
    for (const [reason, n] of Object.entries(a.lostByReason)) this.since.inc(`lost:${reason}`, n, (d) => metrics.archiveLinesLost.inc({ reason }, d));
    this.errorDeltas(s.errors.entries(), "");
    this.errorDeltas(Object.entries(a.errors), "archive_");
    this.indexMetrics();
  }

  private countError(type: CollectorError, n = 1): void {
    this.deps.metrics.errors.inc({ type }, n);
    this.deps.status.errors += n;
  }

  /** The storage worker's index counters, as deltas since the last report. */
  private indexMetrics(): void {
    const storage = this.deps.storage;
    if (!storage) return;
    const ix = storage.takeIndexStats();
    const metrics = this.deps.metrics;
    for (const s of ix.writeSeconds) metrics.indexWriteSeconds.observe(s);
    metrics.indexRows.set(ix.rows);
    this.since.inc("index-lost", ix.lostReports, (n) => {
      metrics.indexReportsLost.inc(n);
      this.countError("index_backlog_dropped", n);
    });
    this.since.inc("index-failed", ix.writeFailures, (n) => {
      metrics.indexWriteFailures.inc(n);
      this.countError("index_write", n);
    });
  }

  /** What M-Lab observes every poll: the interval, each dump's sockets and time, the cache's size. */
  private observeCycle(report: CycleReport, cycleMs: number): void {
    const { collector, metrics } = this.deps;
    metrics.pollDuration.observe(cycleMs / 1000);
    if (this.lastPollTime > 0) metrics.pollingInterval.observe((report.time - this.lastPollTime) / 1000);
    this.lastPollTime = report.time;
    const dump = collector.lastDump;
    for (let i = 0; i < dump.families.length; i++) metrics.connectionCount.observe(dump.messages[i], afLabel(dump.families[i]));
    for (let i = 0; i < dump.walks.length; i++) metrics.syscallTime.observe(dump.seconds[i], afLabel(dump.walks[i]));
    metrics.cacheCount.observe(collector.tracked);
    this.rates.update(report.time, collector.stats.bytes, metrics);
  }

  private errorDeltas(entries: Iterable<[string, number]>, prefix: string): void {
    for (const [type, n] of entries) {
      const key = prefix + type;
      this.since.inc(`error:${key}`, n, (d) => {
        this.deps.metrics.errors.inc({ type: key }, d);
        this.deps.status.errors += d;
      });
    }
  }
}
