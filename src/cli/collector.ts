// `collector`: runs the polling loop until SIGINT/SIGTERM or --reps, then flushes and
// closes every archive so each file is a complete zstd stream.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { ArchiveSet } from "../archive/archive-set.ts";
import { Collector } from "../collector/collector.ts";
import type { CycleReport } from "../collector/events.ts";
import type { CollectorCliOptions } from "./collector-options.ts";
import { type ResumeInfo } from "../collector/collector.ts";
import { makeUuid } from "../archive/naming.ts";
import { readSnapshots } from "../archive/decode-entry.ts";
import { ConnectionIndex } from "../index-db/index.ts";
import { startApiServer } from "../api/http.ts";
import { EventSocketServer } from "../api/eventsocket.ts";
import { createMetrics } from "../api/metrics.ts";
import { createStatus } from "../api/status.ts";
import { ReportFanout } from "./report-fanout.ts";
import { uuidPrefixFor } from "./uuid-prefix.ts";

export interface CycleSink {
  /** Called with every cycle's report (index, eventsocket, metrics). */
  onReport(report: CycleReport, cycleMs: number): void;
}

export interface LoopOptions {
  intervalMs: number;
  reps: number;
  statusSeconds: number;
  log: (line: string) => void;
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
    await Bun.sleep(Math.min(left, 10));
    if (deadline - performance.now() > 1) collector.drainDestroyEvents(Date.now());
  }
}

/** The poll loop at a fixed rate; a cycle that overruns is followed at once, never by a burst. */
export async function runLoop(collector: Collector, sink: CycleSink, opts: LoopOptions, stop: AbortSignal): Promise<void> {
  let next = performance.now();
  let lastStatus = performance.now();
  for (let rep = 0; (opts.reps === 0 || rep < opts.reps) && !stop.aborted; rep++) {
    const t0 = performance.now();
    const report = collector.poll(Date.now());
    const cycleMs = performance.now() - t0;
    collector.stats.cycles++;
    collector.stats.lastPoll = report.time;
    collector.stats.lastCycleMs = cycleMs;
    sink.onReport(report, cycleMs);
    if (opts.statusSeconds > 0 && performance.now() - lastStatus >= opts.statusSeconds * 1000) {
      lastStatus = performance.now();
      opts.log(statusLine(collector));
    }
    if (opts.reps !== 0 && rep + 1 >= opts.reps) break;
    next += opts.intervalMs;
    if (next < performance.now()) next = performance.now();
    await waitUntil(next, collector, stop);
  }
}

export function statusLine(c: Collector): string {
  const s = c.stats;
  const a = c.archiveStats();
  const errs = [...s.errors].map(([k, v]) => `${k}=${v}`).join(",") || "0";
  return `status: cycles=${s.cycles} sockets=${s.sockets} tracked=${c.tracked} snapshots=${s.snapshots} opened=${s.opened} closed=${s.closed} files_open=${a.liveWriters} files_created=${a.filesCreated} destroy_events=${s.destroyEvents} last_cycle_ms=${s.lastCycleMs.toFixed(2)} errors=${errs} archive_errors=${Object.values(a.errors).reduce((x, y) => x + y, 0)}`;
}

/** Runs a start-up step, naming what failed in the error. */
function startup<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/** Connections the index still has open from a previous run, split into those this run can resume and the rest. */
function planResume(index: ConnectionIndex, uuidPrefix: string): { resume: Map<bigint, ResumeInfo>; stale: string[] } {
  const resume = new Map<bigint, ResumeInfo>();
  const stale: string[] = [];
  for (const o of index.openConnections()) {
    // Cookies restart at boot: only a UUID this run would give the same cookie is the same connection.
    if (o.uuid === makeUuid(uuidPrefix, o.cookie)) resume.set(o.cookie, { uuid: o.uuid, startMs: o.firstSeen, nextSeq: (o.highestSeq ?? -1) + 1 });
    else stale.push(o.uuid);
  }
  return { resume, stale };
}

/** Runs the collector as the `collector` command does; resolves when it has shut down. */
export async function runCollector(opts: CollectorCliOptions, log = (l: string) => process.stderr.write(l + "\n")): Promise<Collector> {
  const output = resolve(opts.output);
  startup(`cannot create the output folder ${output}`, () => mkdirSync(output, { recursive: true }));
  const uuidPrefix = uuidPrefixFor(opts.uuidPrefixFile);
  const archive = new ArchiveSet({ outputDir: output, rotateMinutes: opts.rotateMinutes, flushIntervalMs: opts.flushMs });
  const metrics = createMetrics();
  const status = createStatus();

  const index = startup(`cannot open the index ${resolve(opts.db)}`, () => ConnectionIndex.open(resolve(opts.db)));
  await index.startBackgroundCheckpoints(200, (m) => log(`index checkpoint: ${m}`));
  const { resume, stale } = planResume(index, uuidPrefix);
  if (stale.length > 0) index.closeConnections(stale, Date.now(), "restart");

  const collector = new Collector(
    {
      uuidPrefix,
      includeLocal: opts.includeLocal,
      excludeSrcPorts: opts.excludeSrcPorts,
      excludeDstIps: opts.excludeDstIps,
      anonymize: opts.anonymize,
      destroyEvents: opts.destroyEvents,
      vanishGraceMs: 250,
      flushBudgetMs: Math.max(1, opts.intervalMs / 4),
      resume,
    },
    archive,
  );
  const events = opts.eventsocket
    ? await EventSocketServer.start(opts.eventsocket, { metrics, log, maxQueueBytes: opts.eventsocketMaxQueue }).catch((e: Error) => {
        throw new Error(`cannot serve the eventsocket at ${opts.eventsocket}: ${e.message}`);
      })
    : null;
  const listen = opts.listen;
  const api = listen
    ? startup(`cannot listen on ${listen}`, () =>
        startApiServer({ listen, index, outputDir: output, readSnapshots, metrics, status, logError: (m, e) => log(`${m}: ${String(e)}`) }),
      )
    : null;
  const fanout = new ReportFanout({ collector, index, events, metrics, status, indexBatchMs: opts.indexBatchMs, indexRetentionMs: opts.indexRetentionHours * 3_600_000, log });
  const sink: CycleSink = {
    onReport(report, cycleMs) {
      fanout.onReport(report, cycleMs);
      if (report.cycle === 1 && resume.size > 0) {
        // The first dump has shown which connections of the previous run are still alive.
        const gone = collector.takeUnresumed().map((r) => r.uuid);
        fanout.flushIndex(report.time);
        index.closeConnections(gone, report.time, "restart");
        log(`restart: resumed ${resume.size - gone.length} connections, closed ${gone.length + stale.length} as 'restart'`);
      }
    },
  };

  const stop = new AbortController();
  const onSignal = (sig: string) => {
    if (!stop.signal.aborted) log(`received ${sig}: stopping, flushing archives`);
    stop.abort();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  log(
    `collector: writing ${opts.includeLocal ? "all" : "non-local"} TCP connections to ${output} ` +
      `every ${opts.intervalMs} ms (uuid prefix ${uuidPrefix}, destroy events ${opts.destroyEvents ? "on" : "off"}, ` +
      `anonymize ${opts.anonymize}, rotate every ${opts.rotateMinutes} min${opts.reps ? `, ${opts.reps} reps` : ""}); ` +
      `index ${resolve(opts.db)}; api ${api ? api.url : "off"}; eventsocket ${opts.eventsocket ?? "off"}`,
  );
  try {
    await runLoop(collector, sink, { intervalMs: opts.intervalMs, reps: opts.reps, statusSeconds: opts.statusSeconds, log }, stop.signal);
  } finally {
    const final = collector.shutdown(Date.now());
    sink.onReport(final, 0);
    fanout.flushIndex(Date.now());
    await api?.stop();
    await events?.stop();
    await index.close();
    const a = collector.archiveStats();
    log(`${statusLine(collector)}\ncollector: stopped; ${a.filesCreated} files, ${collector.stats.snapshots} snapshots written`);
  }
  return collector;
}
