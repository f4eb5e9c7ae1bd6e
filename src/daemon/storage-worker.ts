// The storage worker: archive writers (compression, file creation, appends, rotation,
// compaction) and the index's writes, off the poll thread. It applies each batch of the
// poll thread's operations in order, flushes due lines every few ms within a budget (so
// messages keep flowing while the disk is slow), and reports its counters back.
import { useBatchScheduling } from "../ffi/sched.ts";
import { ArchiveSet } from "../archive/archive-set.ts";
import { warmEncoder } from "../archive/record.ts";
import { formatTimeNs } from "../archive/time.ts";
import { AttributeIndex } from "../diag/attributes.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import type { ArchiveWriter } from "../archive/writer.ts";
import { ConnectionIndex } from "../index-db/index.ts";
import { IndexBatcher } from "./index-batcher.ts";
import { GcPacer } from "./gc-pacer.ts";
import type { LogLevel } from "./logger.ts";
import { Op, type FromStorage, type StorageConfig, type StorageStats, type ToStorage } from "./storage-protocol.ts";

declare const self: Worker;

/** Timer ticks are at least this far apart (a batch runs one at once). */
const TICK_MS = 5;
/** With nothing due, a tick this often all the same (the line pool's trimming, a safety net). */
const IDLE_TICK_MS = 1000;
const FLUSH_BUDGET_MS = 20;
const STATS_EVERY_MS = 50;
/** A full collection after this many bytes of snapshots, at most once a second, every 100 ms while pressed (see gc-pacer.ts). */
const gc = new GcPacer(8 * 1024 * 1024, 1000, 100, () => Bun.gc(true));

let archive: ArchiveSet;
let index: ConnectionIndex;
let batcher: IndexBatcher;
const writers = new Map<number, ArchiveWriter>();
/**
 * Connections whose archive is open here but whose "opened" report has not arrived (it
 * follows the cycle's batch): while there are any, file rows wait, so the index never
 * holds a file of a connection it does not have.
 */
const awaitingOpen = new Set<string>();
let acked = 0;
let lastStats = 0;
let stopping = false;
let forced = false;
let timer: ReturnType<typeof setTimeout> | null = null;
/** performance.now() when the armed timer fires. */
let timerAt = Number.POSITIVE_INFINITY;
/** Counters moved since they were last posted. */
let statsOwed = true;

const post = (m: FromStorage) => self.postMessage(m);
const log = (line: string, level: LogLevel = "info") => post({ kind: "log", line, level });

function stats(): StorageStats {
  const ix = batcher.counters;
  const s: StorageStats = { acked, archive: archive.stats(), index: { ...ix, writeSeconds: ix.writeSeconds.splice(0) }, pendingReports: batcher.pendingReports };
  return s;
}

function postStats(force = false): void {
  const now = performance.now();
  if (!force && (!statsOwed || now - lastStats < STATS_EVERY_MS)) return;
  lastStats = now;
  statsOwed = false;
  post({ kind: "stats", stats: stats() });
}

/**
 * Sets the timer for the next tick: when the earliest of buffered lines, the index batch
 * and owed counters is due, at most IDLE_TICK_MS away. An idle host's worker then wakes
 * once a second, not every TICK_MS.
 */
function arm(): void {
  if (stopping) return;
  const now = performance.now();
  const wall = Date.now();
  const due = Math.min(archive.nextDueMs(), batcher.nextDueMs()) - wall;
  const statsDue = statsOwed ? lastStats + STATS_EVERY_MS - now : Number.POSITIVE_INFINITY;
  const delay = Math.max(Math.min(IDLE_TICK_MS, due, statsDue), lastTick + TICK_MS - now, 0);
  const at = now + delay;
  if (timer !== null) {
    if (timerAt <= at) return;
    clearTimeout(timer);
  }
  timerAt = at;
  timer = setTimeout(onTimer, delay);
}

/** Something moved the counters and may have made writing due. */
function moved(): void {
  statsOwed = true;
  arm();
}

function onTimer(): void {
  timer = null;
  timerAt = Number.POSITIVE_INFINITY;
  tick();
}

/** File changes since the last report go to the index as a report of their own. */
function fileReport(now: number): void {
  if (awaitingOpen.size > 0) return;
  const files = archive.takeFileChanges();
  if (files.length > 0) batcher.add({ cycle: 0, time: now, opened: [], updated: [], closed: [], files });
}

const attrs = new AttributeIndex();
/** The Timestamp text of the last (seconds, nanoseconds) seen: a whole cycle shares one. */
const stamp = { sec: -1, nsec: -1, text: "" };

function stampOf(sec: number, nsec: number): typeof stamp {
  if (sec !== stamp.sec || nsec !== stamp.nsec) {
    stamp.sec = sec;
    stamp.nsec = nsec;
    stamp.text = formatTimeNs(sec, nsec);
  }
  return stamp;
}

function applyBatch(ops: Float64Array, count: number, uuids: string[], lines: Uint8Array): void {
  let at = 0;
  let pos = 0;
  while (at < count) {
    const op = ops[at];
    const id = ops[at + 1];
    if (op === Op.Open) {
      const uuid = uuids[ops[at + 5]];
      writers.set(id, archive.open(uuid, ops[at + 2], ops[at + 3], ops[at + 4]));
      awaitingOpen.add(uuid);
      at += 6;
    } else if (op === Op.Line) {
      const len = ops[at + 3];
      const w = writers.get(id);
      // The poll thread indexed this message before sending it; it indexes the same here.
      if (w !== undefined) {
        if (attrs.index(lines, pos + INET_DIAG_MSG_SIZE, pos + len)) w.appendRecord(stampOf(ops[at + 4], ops[at + 5]), lines, pos, attrs, ops[at + 2]);
        else archive.counters.lose(1, "malformed");
      }
      pos += (len + 3) & ~3;
      at += 6;
    } else {
      const w = writers.get(id);
      if (w !== undefined) archive.closeLater(w.uuid, ops[at + 2]);
      writers.delete(id);
      at += 3;
    }
  }
}

let lastTick = 0;

/**
 * Writes what is due, hands file changes and reports to the index, posts counters. Runs
 * from a timer and after every batch: while batches queue up back to back, the worker's
 * timers do not fire, and lines would pile up unwritten until the memory bound forced a
 * write per line.
 */
function tick(): void {
  if (stopping) return;
  lastTick = performance.now();
  const now = Date.now();
  if (archive.flushDue(now, FLUSH_BUDGET_MS) > 0 || batcher.pendingReports > 0) statsOwed = true;
  fileReport(now);
  batcher.flushIfDue(now);
  postStats();
  arm();
}

async function shutdown(boundMs: number): Promise<void> {
  stopping = true;
  if (timer) clearTimeout(timer);
  const deadline = performance.now() + boundMs;
  let left = Number.POSITIVE_INFINITY;
  while (!forced && performance.now() < deadline) {
    const before = left;
    left = archive.closeSome(Date.now(), 50);
    if (left === 0) break;
    statsOwed = true;
    postStats();
    // No progress (a full or failing disk): wait a little before trying again.
    await (left < before ? new Promise<void>((r) => setImmediate(r)) : Bun.sleep(100));
  }
  archive.abandon();
  // Every report was sent before the shutdown message: nothing is still to come.
  awaitingOpen.clear();
  fileReport(Date.now());
  for (let attempt = 0; attempt < 3 && !batcher.flush(Date.now()); attempt++) {
    if (forced) break;
    await Bun.sleep(200);
  }
  const lost = batcher.abandon();
  if (lost === 0 && archive.stats().droppedRecords === 0) batcher.markCleanStop();
  await index.close();
  post({ kind: "stopped", stats: stats() });
}

function init(config: StorageConfig): void {
  const sched = useBatchScheduling();
  if (sched !== null) log(`storage worker: not SCHED_BATCH (${sched}): its wake-ups may delay polls`, "warn");
  archive = new ArchiveSet({
    outputDir: config.outputDir,
    rotateMinutes: config.rotateMinutes,
    flushIntervalMs: config.flushMs,
    maxTotalPendingBytes: config.maxBufferedBytes,
  });
  warmEncoder(attrs);
  index = ConnectionIndex.open(config.dbPath);
  batcher = new IndexBatcher(index, config.indexBatchMs, config.indexRetentionMs, log);
  post({ kind: "ready" });
  arm();
}

self.onmessage = (e: MessageEvent<ToStorage>) => {
  const m = e.data;
  try {
    switch (m.kind) {
      case "init":
        init(m.config);
        break;
      case "batch":
        applyBatch(m.ops, m.count, m.uuids, new Uint8Array(m.lines, 0, m.bytes));
        acked += m.bytes;
        gc.note(m.bytes, performance.now(), archive.pressed);
        statsOwed = true;
        if (performance.now() - lastTick >= TICK_MS) tick();
        else arm();
        // Both buffers go back: fresh ones every cycle would be garbage the collector
        // lets pile up (tens of MB at 100 batches a second).
        self.postMessage({ kind: "recycle", buffer: m.lines, ops: m.ops.buffer as ArrayBuffer } satisfies FromStorage, m.lines.byteLength > 0 ? [m.lines, m.ops.buffer as ArrayBuffer] : [m.ops.buffer as ArrayBuffer]);
        postStats();
        break;
      case "report":
        for (const o of m.report.opened) awaitingOpen.delete(o.uuid);
        m.report.files = archive.takeFileChanges();
        batcher.add(m.report);
        moved();
        break;
      case "close-connections":
        batcher.closeConnections(m.uuids, m.at, m.reason);
        moved();
        break;
      case "shutdown":
        void shutdown(m.boundMs);
        break;
      case "force":
        forced = true;
        break;
    }
  } catch (err) {
    if (m.kind === "init") post({ kind: "failed", message: (err as Error).message });
    else log(`storage: ${m.kind} failed: ${(err as Error).stack ?? String(err)}`, "error");
  }
};
