// `collector`: reconciles the index with the archives a previous run left, runs the poll
// loop until SIGINT/SIGTERM or --reps, then writes and closes every archive (within a
// bound) and says what was written and what, if anything, was lost.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { ArchiveSet } from "../archive/archive-set.ts";
import { Collector, type ResumeInfo } from "../collector/collector.ts";
import { runLoop, statusLine, type CycleSink } from "./loop.ts";
import type { CollectorCliOptions } from "../cli/collector-options.ts";
import { makeUuid } from "../archive/naming.ts";
import { readSnapshots } from "../archive/decode-entry.ts";
import { readMetadata } from "../archive/repair.ts";
import { ConnectionIndex } from "../index-db/index.ts";
import { startApiServer } from "../api/http.ts";
import { EventSocketServer } from "../api/eventsocket.ts";
import { createMetrics } from "../api/metrics.ts";
import { createStatus } from "../api/status.ts";
import { ReportFanout } from "./report-fanout.ts";
import { reconcileArchives, reconcileSummary, type ReconcileResult } from "./reconcile.ts";
import { uuidPrefixFor } from "../cli/uuid-prefix.ts";

/** Exit status of a shutdown that lost archive lines or index reports (0: nothing lost). */
export const EXIT_DATA_LOST = 3;

export interface CollectorRun {
  collector: Collector;
  /** 0, or EXIT_DATA_LOST. */
  exitCode: number;
}

/** Runs a start-up step, naming what failed in the error. */
function startup<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/**
 * Connections the index still has open from a previous run, split into those this run can
 * resume and the rest. A resumed connection keeps its UUID, its exact StartTime (from its
 * archive's Metadata line) and its snapshot count, and continues at the next sequence.
 */
function planResume(index: ConnectionIndex, uuidPrefix: string, outputDir: string, rec: ReconcileResult): { resume: Map<bigint, ResumeInfo>; stale: string[] } {
  const resume = new Map<bigint, ResumeInfo>();
  const stale: string[] = [];
  for (const o of index.openConnections()) {
    // Cookies restart at boot: only a UUID this run would give the same cookie is the same connection.
    if (o.uuid !== makeUuid(uuidPrefix, o.cookie)) {
      stale.push(o.uuid);
      continue;
    }
    let start = rec.startTimes.get(o.uuid) ?? null;
    if (start === null && o.highestPath !== null) {
      const m = readMetadata(join(outputDir, o.highestPath));
      if (m !== null) start = { ms: m.startTime, subMs: m.startTimeSubMs };
    }
    resume.set(o.cookie, {
      uuid: o.uuid,
      startMs: start?.ms ?? o.firstSeen,
      startSubMs: start?.subMs ?? 0,
      nextSeq: (o.highestSeq ?? -1) + 1,
      snapshots: o.snapshots,
    });
  }
  return { resume, stale };
}

/** Runs the collector as the `collector` command does; resolves when it has shut down. */
export async function runCollector(opts: CollectorCliOptions, log = (l: string) => process.stderr.write(l + "\n")): Promise<CollectorRun> {
  const output = resolve(opts.output);
  startup(`cannot create the output folder ${output}`, () => mkdirSync(output, { recursive: true }));
  const uuidPrefix = uuidPrefixFor(opts.uuidPrefixFile);
  const archive = new ArchiveSet({ outputDir: output, rotateMinutes: opts.rotateMinutes, flushIntervalMs: opts.flushMs });
  const metrics = createMetrics();
  const status = createStatus();

  const index = startup(`cannot open the index ${resolve(opts.db)}`, () => ConnectionIndex.open(resolve(opts.db)));
  await index.startBackgroundCheckpoints(200, (m) => log(`index checkpoint: ${m}`));
  const recovery = index.recovery();
  const reconciled = startup(`cannot reconcile the index with ${output}`, () => reconcileArchives(recovery, output, Date.now()));
  if (reconciled.checked + reconciled.filesAdded + reconciled.missing + reconciled.staleTemp > 0) log(reconcileSummary(reconciled));
  metrics.reconciledFiles.inc({ action: "truncated" }, reconciled.truncated);
  metrics.reconciledFiles.inc({ action: "removed" }, reconciled.removed);
  metrics.reconciledFiles.inc({ action: "added" }, reconciled.filesAdded);
  const { resume, stale } = planResume(index, uuidPrefix, output, reconciled);
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
        log(`restart: resumed ${resume.size - gone.length} connections, closed ${gone.length + stale.length} that ended while the collector was down as 'restart'`);
      }
    },
  };

  const stop = new AbortController();
  const force = new AbortController();
  const onSignal = (sig: string) => {
    if (!stop.signal.aborted) {
      log(`received ${sig}: stopping; writing buffered lines (at most ${opts.shutdownTimeoutSeconds} s; send it again to stop sooner)`);
      stop.abort();
    } else if (!force.signal.aborted) {
      log(`received ${sig} again: stopping now; lines not yet written are counted as lost`);
      force.abort();
    }
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
    await shutdown(collector, sink, force.signal, opts.shutdownTimeoutSeconds * 1000);
  }
  const indexLost = await finishIndex(fanout, index, collector, force.signal, log);
  await api?.stop();
  await events?.stop();
  await index.close();
  const lines = finalLines(collector, indexLost);
  log(`${statusLine(collector)}\n${lines.text}`);
  return { collector, exitCode: lines.lost ? EXIT_DATA_LOST : 0 };
}

/** Writes and closes every archive, yielding between steps so a second signal is heard; bounded by `boundMs`. */
async function shutdown(collector: Collector, sink: CycleSink, force: AbortSignal, boundMs: number): Promise<void> {
  const deadline = performance.now() + boundMs;
  collector.beginShutdown(Date.now());
  let left = Number.POSITIVE_INFINITY;
  while (!force.aborted && performance.now() < deadline) {
    const before = left;
    left = collector.finishWrites(Date.now(), 50);
    if (left === 0) break;
    // No progress (a full or failing disk): wait a little before trying again.
    await (left < before ? new Promise<void>((r) => setImmediate(r)) : Bun.sleep(100));
  }
  sink.onReport(collector.endShutdown(Date.now()), 0);
}

/** The last index write, retried a few times; returns the reports that could not be written. */
async function finishIndex(fanout: ReportFanout, index: ConnectionIndex, collector: Collector, force: AbortSignal, log: (l: string) => void): Promise<number> {
  for (let attempt = 0; attempt < 3 && !fanout.flushIndex(Date.now()); attempt++) {
    if (force.aborted) break;
    await Bun.sleep(200);
  }
  const lost = fanout.abandonPending();
  const a = collector.archiveStats();
  if (lost === 0 && a.droppedRecords === 0) {
    // Nothing is missing from the index: the next start need not scan the archive folders.
    try {
      index.recovery().setMeta("clean_stop", "1");
    } catch (e) {
      log(`index: could not record the clean stop: ${(e as Error).message}`);
    }
  }
  return fanout.lostReports;
}

/** The final log line: snapshots taken, lines written, lines and index reports lost and why. */
function finalLines(collector: Collector, indexLost: number): { text: string; lost: boolean } {
  const s = collector.stats;
  const a = collector.archiveStats();
  const reasons = Object.entries(a.lostByReason).map(([k, v]) => `${k}: ${v}`).join(", ");
  const linesLost = a.droppedRecords > 0 ? `; ${a.droppedRecords} lines LOST (${reasons})` : "; no line lost";
  const indexPart = indexLost > 0 ? `; ${indexLost} index reports LOST (the index misses what they held; the next start reconciles files)` : "";
  const text =
    `collector: stopped after ${s.cycles} cycles; ${s.snapshots} snapshots taken, ${a.recordsWritten} lines written to ` +
    `${a.filesCreated} files${linesLost}${indexPart}; ${collector.tracked} connections left open for the next run to resume`;
  return { text, lost: a.droppedRecords > 0 || indexLost > 0 };
}
