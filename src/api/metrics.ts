// Prometheus metrics. The tcpinfo_* / *_netlink_* names, help strings, labels and buckets
// are M-Lab tcp-info's (metrics/metrics.go) so existing dashboards keep working; the
// ones marked "ours" are additions for the index, the API and the eventsocket.
import { release } from "node:os";
import { Counter, Gauge, Histogram, Registry } from "./prom.ts";
import { CycleHistogram } from "./cycle-histogram.ts";
import { VERSION } from "../model/version.ts";
import { ARCHIVE_ERRORS, COLLECTOR_ERRORS, LARGE_NETLINK_TYPES, LOST_REASONS, NETLINK_SKIPPED_TYPES } from "../model/counted.ts";
import { registerProcessMetrics } from "./process-metrics.ts";

// Go's prometheus.LinearBuckets adds the width repeatedly; doing the same here gives the
// same float64 bounds (and so the same `le` labels) as M-Lab's 0.001 steps.
function goLinearBuckets(start: number, width: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v += width) out.push(v);
  return out;
}

const COUNT_BUCKETS = [
  1, 2, 3, 4, 5, 6, 8,
  10, 12.5, 16, 20, 25, 32, 40, 50, 63, 79,
  100, 125, 160, 200, 250, 320, 400, 500, 630, 790,
  1000, 1250, 1600, 2000, 2500, 3200, 4000, 5000, 6300, 7900,
  10000, 12500, 16000, 20000, 25000, 32000, 40000, 50000, 63000, 79000,
  10000000,
];

const RATE_BUCKETS = [
  0,
  1, 10, 100,
  1000, 1580, 2510, 3980, 6310,
  10000, 15800, 25100, 39800, 63100,
  100000, 158000, 251000, 398000, 631000,
  1000000, 1580000, 2510000, 3980000, 6310000,
  10000000, 15800000, 25100000, 39800000, 63100000,
  100000000, 158000000, 251000000, 398000000, 631000000,
  1000000000, 1260000000, 1580000000, 2000000000, 2510000000, 3160000000, 3980000000, 5010000000, 6310000000, 7940000000,
  10000000000,
  // M-Lab lists math.Inf(+1) last; Go's client drops it as the implicit +Inf bucket,
  // while prom-client would print a second one, so it is left out here.
];

export interface CollectorMetrics {
  readonly registry: Registry;
  /** Run before every scrape: whoever updates metrics in batches brings them up to date. */
  readonly beforeScrape: (() => void)[];

  // --- M-Lab tcp-info ---
  /** tcpinfo_syscall_time_histogram{af}: seconds spent in the netlink dump syscalls, per walk: af="all" when one walk returns both families (the default), else "ipv4" and "ipv6". */
  readonly syscallTime: CycleHistogram;
  /** tcpinfo_polling_interval_histogram: seconds between poll cycles. */
  readonly pollingInterval: CycleHistogram;
  /** tcpinfo_connection_count_histogram{af}: sockets returned by each dump. */
  readonly connectionCount: CycleHistogram;
  /** tcpinfo_cache_count_histogram: entries in the connection cache. */
  readonly cacheCount: CycleHistogram;
  /** tcpinfo_error_total{type} */
  readonly errors: Counter<"type">;
  /** tcpinfo_new_file_total */
  readonly newFiles: Counter;
  /** tcpinfo_send_rate_histogram (bits/s over one second, whole namespace). */
  readonly sendRate: Histogram;
  /** tcpinfo_receive_rate_histogram */
  readonly receiveRate: Histogram;
  /** tcpinfo_snapshot_total */
  readonly snapshots: Counter;
  /** large_netlink_total{type} */
  readonly largeNetlink: Counter<"type">;
  /** netlink_skipped_total{type} */
  readonly netlinkSkipped: Counter<"type">;
  /** tcpinfo_flow_events_total{type}: eventsocket events sent, type "open" | "close". */
  readonly flowEvents: Counter<"type">;

  // --- ours ---
  /** tcpinfo_index_rows: rows in the connections table. */
  readonly indexRows: Gauge;
  /** tcpinfo_index_write_seconds: duration of each cycle's index transaction. */
  readonly indexWriteSeconds: Histogram;
  /** tcpinfo_api_requests_total{route,status} */
  readonly apiRequests: Counter<"route" | "status">;
  /** tcpinfo_eventsocket_clients: connected eventsocket clients. */
  readonly eventsocketClients: Gauge;
  /** tcpinfo_eventsocket_dropped_clients_total: clients disconnected because their queue overflowed. */
  readonly eventsocketDroppedClients: Counter;
  /** tcpinfo_archive_lines_lost_total{reason}: snapshot lines that never reached their file, by the write error that kept them out. */
  readonly archiveLinesLost: Counter<"reason">;
  /** tcpinfo_archive_lines_buffered / _written_total: lines waiting for their file, and lines written. */
  readonly archiveLinesBuffered: Gauge;
  readonly archiveLinesWritten: Counter;
  /** tcpinfo_index_reports_lost_total: cycle reports never written to the index. */
  readonly indexReportsLost: Counter;
  /** tcpinfo_timewait_remnants_total: dump entries that were the kernel's remnant of an ended connection (not archived). */
  readonly timewaitRemnants: Counter;
  /** tcpinfo_reconciled_files_total{action}: archives repaired or added to the index at start-up. */
  readonly reconciledFiles: Counter<"action">;
  /** tcpinfo_connections_tracked: connections the collector follows now. */
  readonly connectionsTracked: Gauge;
  /** tcpinfo_archive_files_open: connections with an archive file being written. */
  readonly archiveFilesOpen: Gauge;
  /** tcpinfo_netns_polled / _scan_seconds_total: network namespaces polled now, and the cost of finding them (--netns). */
  readonly netnsPolled: Gauge;
  readonly netnsScanSeconds: Counter;
  /** tcpinfo_poll_duration_seconds: how long each poll cycle took (dump, diff, hand-off). */
  readonly pollDuration: CycleHistogram;
  /** tcpinfo_last_poll_timestamp_seconds: Unix time of the last successful poll. */
  readonly lastPoll: Gauge;
  /** tcpinfo_destroy_events_total / _overruns_total: kernel destroy events read, and times some were lost (ENOBUFS). */
  readonly destroyEvents: Counter;
  readonly destroyOverruns: Counter;
  /** tcpinfo_index_write_failures_total: index transactions that failed (retried later). */
  readonly indexWriteFailures: Counter;
}

export interface MetricsOptions {
  /** Export the process_* metrics (CPU, memory, fds, start time). Default true. */
  processMetrics?: boolean;
  /** tcpinfo_build_info's labels. Default: package.json's version, Bun's, the running kernel's. */
  build?: BuildInfo;
}

export interface BuildInfo {
  version: string;
  bun: string;
  kernel: string;
}

/**
 * A fresh registry holding every metric. The wiring makes one and hands it to the
 * collector (which updates it) and to the HTTP server (which serves it).
 */
export function createMetrics(options: MetricsOptions = {}): CollectorMetrics {
  const registry = new Registry();
  const registers = [registry];
  // prom-client's defaults describe Node (a Node version string, Node's handle and GC
  // counts) and are wrong under Bun: these read /proc instead.
  if (options.processMetrics ?? true) registerProcessMetrics(registry);
  const build = options.build ?? { version: VERSION, bun: Bun.version, kernel: release() };
  new Gauge({ name: "tcpinfo_build_info", help: "Version of the collector, of Bun and of the kernel it runs on; always 1.", labelNames: ["version", "bun", "kernel"], registers }).set({ ...build }, 1);

  const m: CollectorMetrics = {
    registry,
    beforeScrape: [],
    syscallTime: new CycleHistogram({
      name: "tcpinfo_syscall_time_histogram",
      help: "netlink syscall latency distribution (seconds)",
      labelName: "af",
      buckets: [
        0.001, 0.00125, 0.0016, 0.002, 0.0025, 0.0032, 0.004, 0.005, 0.0063, 0.0079,
        0.01, 0.0125, 0.016, 0.02, 0.025, 0.032, 0.04, 0.05, 0.063, 0.079,
        0.1, 0.125, 0.16, 0.2,
      ],
      registers,
    }),
    pollingInterval: new CycleHistogram({
      name: "tcpinfo_polling_interval_histogram",
      help: "netlink polling interval distribution (seconds)",
      buckets: goLinearBuckets(0, 0.001, 30),
      registers,
    }),
    connectionCount: new CycleHistogram({
      name: "tcpinfo_connection_count_histogram",
      help: "connection count histogram",
      labelName: "af",
      buckets: COUNT_BUCKETS,
      registers,
    }),
    cacheCount: new CycleHistogram({
      name: "tcpinfo_cache_count_histogram",
      help: "cache connection count histogram",
      buckets: COUNT_BUCKETS,
      registers,
    }),
    errors: new Counter({
      name: "tcpinfo_error_total",
      help: "The total number of errors encountered.",
      labelNames: ["type"],
      registers,
    }),
    newFiles: new Counter({ name: "tcpinfo_new_file_total", help: "Number of files created.", registers }),
    sendRate: new Histogram({ name: "tcpinfo_send_rate_histogram", help: "send rate histogram", buckets: RATE_BUCKETS, registers }),
    receiveRate: new Histogram({ name: "tcpinfo_receive_rate_histogram", help: "receive rate histogram", buckets: RATE_BUCKETS, registers }),
    snapshots: new Counter({ name: "tcpinfo_snapshot_total", help: "Number of snapshots taken.", registers }),
    largeNetlink: new Counter({
      name: "large_netlink_total",
      help: "Number of oversize netlink messages.",
      labelNames: ["type"],
      registers,
    }),
    netlinkSkipped: new Counter({
      name: "netlink_skipped_total",
      help: "Number of skipped netlink messages.",
      labelNames: ["type"],
      registers,
    }),
    // M-Lab's eventsocket increments FlowEventsCounter; its definition was not in the
    // sources we could consult, so the help text here is ours.
    flowEvents: new Counter({
      name: "tcpinfo_flow_events_total",
      help: "Number of flow events sent to eventsocket clients.",
      labelNames: ["type"],
      registers,
    }),

    indexRows: new Gauge({ name: "tcpinfo_index_rows", help: "Rows in the connection index.", registers }),
    indexWriteSeconds: new Histogram({
      name: "tcpinfo_index_write_seconds",
      help: "Duration of each poll cycle's connection index transaction (seconds).",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    apiRequests: new Counter({
      name: "tcpinfo_api_requests_total",
      help: "HTTP API requests by route and status code.",
      labelNames: ["route", "status"],
      registers,
    }),
    eventsocketClients: new Gauge({ name: "tcpinfo_eventsocket_clients", help: "Connected eventsocket clients.", registers }),
    eventsocketDroppedClients: new Counter({
      name: "tcpinfo_eventsocket_dropped_clients_total",
      help: "Eventsocket clients disconnected because they fell too far behind.",
      registers,
    }),
    archiveLinesLost: new Counter({
      name: "tcpinfo_archive_lines_lost_total",
      help: "Snapshot lines that never reached their archive file, by the error that kept them out (ENOSPC, EACCES, ...).",
      labelNames: ["reason"],
      registers,
    }),
    archiveLinesBuffered: new Gauge({ name: "tcpinfo_archive_lines_buffered", help: "Snapshot lines waiting in memory for their archive file.", registers }),
    archiveLinesWritten: new Counter({ name: "tcpinfo_archive_lines_written_total", help: "Snapshot lines written to archive files.", registers }),
    indexReportsLost: new Counter({
      name: "tcpinfo_index_reports_lost_total",
      help: "Poll cycle reports that could not be written to the connection index.",
      registers,
    }),
    timewaitRemnants: new Counter({
      name: "tcpinfo_timewait_remnants_total",
      help: "Dump entries that were the kernel's remnant (timewait) of a connection already ended by a destroy event; not archived.",
      registers,
    }),
    reconciledFiles: new Counter({
      name: "tcpinfo_reconciled_files_total",
      help: "Archive files repaired (truncated, removed) or added to the index at start-up.",
      labelNames: ["action"],
      registers,
    }),
    connectionsTracked: new Gauge({ name: "tcpinfo_connections_tracked", help: "Connections the collector follows now.", registers }),
    archiveFilesOpen: new Gauge({ name: "tcpinfo_archive_files_open", help: "Connections with an archive file being written.", registers }),
    netnsPolled: new Gauge({ name: "tcpinfo_netns_polled", help: "Network namespaces polled (1 with --netns host).", registers }),
    netnsScanSeconds: new Counter({ name: "tcpinfo_netns_scan_seconds_total", help: "Seconds spent finding network namespaces (--netns all or paths), apart from polling them.", registers }),
    pollDuration: new CycleHistogram({
      name: "tcpinfo_poll_duration_seconds",
      help: "Duration of each poll cycle: the dumps, the diff and the hand-off of its snapshots (seconds).",
      buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    lastPoll: new Gauge({ name: "tcpinfo_last_poll_timestamp_seconds", help: "Unix time of the last successful poll.", registers }),
    destroyEvents: new Counter({ name: "tcpinfo_destroy_events_total", help: "Kernel TCP destroy events read.", registers }),
    destroyOverruns: new Counter({ name: "tcpinfo_destroy_event_overruns_total", help: "Times the kernel reported destroy events lost (ENOBUFS); their sockets end as vanished.", registers }),
    indexWriteFailures: new Counter({ name: "tcpinfo_index_write_failures_total", help: "Connection index transactions that failed (their reports are retried).", registers }),
  };
  exportAtZero(m);
  return m;
}

/** The Prometheus text of every metric, brought up to date first. */
export function scrape(m: CollectorMetrics): Promise<string> {
  for (const f of m.beforeScrape) f();
  return m.registry.metrics();
}

/** Every label value the collector can count, exported at 0 from the start. */
function exportAtZero(m: CollectorMetrics): void {
  for (const type of COLLECTOR_ERRORS) m.errors.inc({ type }, 0);
  for (const type of ARCHIVE_ERRORS) m.errors.inc({ type: `archive_${type}` }, 0);
  for (const reason of LOST_REASONS) m.archiveLinesLost.inc({ reason }, 0);
  for (const type of ["open", "close"]) m.flowEvents.inc({ type }, 0);
  for (const type of LARGE_NETLINK_TYPES) m.largeNetlink.inc({ type }, 0);
  for (const type of NETLINK_SKIPPED_TYPES) m.netlinkSkipped.inc({ type }, 0);
  for (const action of ["truncated", "removed", "added"]) m.reconciledFiles.inc({ action }, 0);
  for (const af of ["ipv4", "ipv6"]) {
    m.syscallTime.zero(af);
    m.connectionCount.zero(af);
  }
  // One walk for every family (the default dump) is timed as one.
  m.syscallTime.zero("all");
}
