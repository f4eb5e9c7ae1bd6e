// `collector`: reconciles the index with the archives a previous run left, runs the poll
// loop until SIGINT/SIGTERM or --reps, then writes and closes every archive (within a
// bound) and says what was written and what, if anything, was lost.
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { COLLECTOR_STATES, Collector, type ResumeInfo } from "../collector/collector.ts";
import { NetnsWatch } from "../collector/netns-watch.ts";
import { runLoop, statusLine, type CycleSink } from "./loop.ts";
import { CycleTimes } from "./cycle-times.ts";
import type { CollectorCliOptions } from "../cli/collector-options.ts";
import { makeUuid } from "../archive/naming.ts";
import { readMetadata } from "../archive/repair.ts";
import { ConnectionIndex } from "../index-db/index.ts";
import { startApiWorker } from "../api/api-thread.ts";
import { isLoopbackHost, parseListen } from "../api/http.ts";
import { EventSocketServer } from "../api/eventsocket.ts";
import { createMetrics } from "../api/metrics.ts";
import { createStatus } from "../api/status.ts";
import { ReportFanout } from "./report-fanout.ts";
import { StorageClient } from "./storage-client.ts";
import { reconcileArchives, reconcileSummary, type ReconcileResult } from "./reconcile.ts";
import { uuidPrefixFor } from "../cli/uuid-prefix.ts";
import { createLogger, type LogFn } from "./logger.ts";
import { ExportTimer } from "./export-timer.ts";
import { effectiveCapabilities, netnsPrivilegeWarning, privilegeWarning } from "./privileges.ts";

/** Exit status of a shutdown that lost archive lines or index reports (0: nothing lost). */
export const EXIT_DATA_LOST = 3;

export interface CollectorRun {
  collector: Collector;
  /** 0, or EXIT_DATA_LOST. */
  exitCode: number;
}

/**
 * Fails (as the real listen later would) when `--listen`'s address cannot be bound: in
 * use, not an address of this host, or a privileged port. Port 0 always binds.
 */
async function probeListen(listen: string): Promise<void> {
  const { hostname, port } = parseListen(listen);
  if (port === 0) return;
  await new Promise<void>((resolveProbe, reject) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${listen}: ${e.code === "EADDRINUSE" ? "address in use" : e.message}`)));
    server.listen({ port, host: hostname, exclusive: true }, () => server.close(() => resolveProbe()));
  });
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
export async function runCollector(opts: CollectorCliOptions, logTo?: LogFn): Promise<CollectorRun> {
  const log = logTo ?? createLogger(opts.logFormat);
  const output = resolve(opts.output);
  // What can be known to fail is checked before anything is created on disk.
  if (opts.listen) await probeListen(opts.listen);
  startup(`cannot create the output folder ${output}`, () => mkdirSync(output, { recursive: true }));
  const uuidPrefix = uuidPrefixFor(opts.uuidPrefixFile);
  const metrics = createMetrics();
  const status = createStatus();

  // This thread's handle reconciles before polling starts, then only serves the API's
  // reads; every write while polling is the storage worker's, through its own handle.
  const index = startup(`cannot open the index ${resolve(opts.db)}`, () =>
    ConnectionIndex.open(resolve(opts.db), {
      onMigrate: (from, to, rows) => log(`index: migrating ${resolve(opts.db)} from schema version ${from} to ${to} (${rows} connections; about 30 s per million on a small host; once)`),
    }),
  );
  const recovery = index.recovery();
  const reconciled = startup(`cannot reconcile the index with ${output}`, () => reconcileArchives(recovery, output, Date.now()));
  if (reconciled.checked + reconciled.filesAdded + reconciled.missing + reconciled.staleTemp > 0) log(reconcileSummary(reconciled));
  metrics.reconciledFiles.inc({ action: "truncated" }, reconciled.truncated);
  metrics.reconciledFiles.inc({ action: "removed" }, reconciled.removed);
  metrics.reconciledFiles.inc({ action: "added" }, reconciled.filesAdded);
  const { resume, stale } = planResume(index, uuidPrefix, output, reconciled);
  if (stale.length > 0) index.closeConnections(stale, Date.now(), "restart");
  const storage = await StorageClient.start(
    {
      outputDir: output,
      rotateMinutes: opts.rotateMinutes,
      flushMs: opts.flushMs,
      maxBufferedBytes: opts.maxBufferMiB * 1024 * 1024,
      dbPath: resolve(opts.db),
      indexBatchMs: opts.indexBatchMs,
      indexRetentionMs: opts.indexRetentionHours * 3_600_000,
    },
    log,
  ).catch((e: Error) => {
    throw new Error(`cannot start the storage worker: ${e.message}`);
  });

  const collector = new Collector(
    {
      uuidPrefix,
      includeLocal: opts.includeLocal,
      excludeSrcPorts: opts.excludeSrcPorts,
      excludeDstIps: opts.excludeDstIps,
      anonymize: opts.anonymize,
      destroyEvents: opts.destroyEvents,
      perFamilyDumps: opts.perFamilyDumps,
      vanishGraceMs: 250,
      resume,
      // An open connection's progress (snapshots, bytes) reaches the index at most once a
      // second: each is a row update, and a thousand busy connections updated every
      // batch cost the storage worker an eighth of its time. Opens and closes are not held.
      progressEveryMs: Math.max(1000, opts.indexBatchMs),
    },
    storage,
    // --netns all / paths: the watch adds every namespace, this thread's own included.
    opts.netns.kind === "host" ? undefined : null,
  );
  const watch = opts.netns.kind === "host" ? null : new NetnsWatch({ mode: opts.netns, states: COLLECTOR_STATES, destroyEvents: opts.destroyEvents, perFamilyDumps: opts.perFamilyDumps, log }, collector);
  if (watch !== null) {
    watch.refresh();
    if (watch.count === 0 && opts.netns.kind === "paths") {
      throw new Error(`--netns: none of ${opts.netns.paths.join(", ")} names a network namespace this process can enter`);
    }
  }
  const events = opts.eventsocket
    ? await EventSocketServer.start(opts.eventsocket, { metrics, log, maxQueueBytes: opts.eventsocketMaxQueue, mode: opts.eventsocketMode }).catch((e: Error) => {
        throw new Error(`cannot serve the eventsocket at ${opts.eventsocket}: ${e.message}`);
      })
    : null;
  const listen = opts.listen;
  const api = listen
    ? await startApiWorker({ listen, dbPath: resolve(opts.db), outputDir: output, apiToken: opts.apiToken, metrics, status, log }).catch((e: Error) => {
        throw new Error(`cannot listen on ${listen}: ${e.message}`);
      })
    : null;
  const fanout = new ReportFanout({ collector, storage, events, metrics, status, api });
  const sink: CycleSink = {
    onReport(report, cycleMs) {
      fanout.onReport(report, cycleMs);
      if (report.cycle === 1 && resume.size > 0) {
        // The first dump has shown which connections of the previous run are still alive.
        const gone = collector.takeUnresumed().map((r) => r.uuid);
        storage.closeConnections(gone, report.time, "restart");
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
  const exposed = exposureWarning(opts.listen, opts.apiToken !== null);
  if (exposed) log(exposed, "warn");
  const caps = effectiveCapabilities();
  const unprivileged = privilegeWarning(caps);
  if (unprivileged) log(unprivileged, "warn");
  const noSetns = opts.netns.kind === "host" ? null : netnsPrivilegeWarning(caps);
  if (noSetns) log(noSetns, "warn");
  log(
    `collector: writing ${opts.includeLocal ? "all" : "non-local"} TCP connections to ${output} ` +
      `every ${opts.intervalMs} ms (uuid prefix ${uuidPrefix}, destroy events ${opts.destroyEvents ? "on" : "off"}, ` +
      `anonymize ${opts.anonymize}, netns ${opts.netns.kind === "paths" ? opts.netns.paths.join(",") : opts.netns.kind}` +
      `${watch !== null ? ` (${watch.count} now)` : ""}, rotate every ${opts.rotateMinutes} min${opts.reps ? `, ${opts.reps} reps` : ""}); ` +
      `index ${resolve(opts.db)}; api ${api ? api.url : "off"}; eventsocket ${opts.eventsocket ?? "off"}` +
      (opts.exportDir === null ? "" : `; export to ${resolve(opts.exportDir)} every ${opts.exportIntervalMs / 1000} s`),
  );
  const exporter = opts.exportDir === null ? null : new ExportTimer({ exportDir: resolve(opts.exportDir), intervalMs: opts.exportIntervalMs, outputDir: output, db: resolve(opts.db), log });
  exporter?.start();
  const times = new CycleTimes();
  try {
    const beforePoll = watch === null ? undefined : () => void watch.refresh();
    await runLoop(collector, sink, { intervalMs: opts.intervalMs, reps: opts.reps, statusSeconds: opts.statusSeconds, log, times, beforePoll }, stop.signal);
  } finally {
    // The last destroy events and every live connection's latest counters, then the
    // worker writes what it holds (bounded; a second signal stops it sooner).
    collector.beginShutdown(Date.now());
    sink.onReport(collector.endShutdown(Date.now()), 0);
  }
  await exporter?.stop();
  const stored = await storage.shutdown(opts.shutdownTimeoutSeconds * 1000, force.signal);
  await api?.stop();
  await events?.stop();
  await index.close();
  const lines = finalLines(collector, stored.index.lostReports);
  log(statusLine(collector, times));
  log(lines.text, lines.lost ? "warn" : "info");
  return { collector, exitCode: lines.lost ? EXIT_DATA_LOST : 0 };
}

/** A warning when the API listens beyond this machine with no token, else null. */
export function exposureWarning(listen: string | null, hasToken: boolean): string | null {
  if (listen === null || hasToken || isLoopbackHost(parseListen(listen).hostname)) return null;
  return (
    `warning: the API on ${listen} is reachable from other hosts without authentication (it lists every ` +
    `connection on this host): give --api-token-file, or --listen 127.0.0.1:PORT`
  );
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
