// The poll thread's side of the storage worker. To the Collector it is its archive (open,
// append, close, flush), but every call only records an operation: flushDue() sends the
// cycle's operations as one message and returns at once. The worker's counters come back
// a few times a second. Lines are dropped (and counted, "backpressure") only when the
// worker has not yet taken in `maxInFlightBytes` of them: a disk that stalls costs lines,
// never polls.
import type { ArchiveSetStats, CloseAllResult } from "../archive/archive-set.ts";
import type { RecordTime } from "../archive/time.ts";
import type { AttributeIndex } from "../diag/attributes.ts";
import type { ArchiveLineSink, ArchiveSink } from "../collector/archive-sink.ts";
import type { ArchiveFile, CycleReport, EndReason } from "../model/report.ts";
import type { IndexCounters } from "./index-batcher.ts";
import type { LogFn } from "./logger.ts";
import type { FromStorage, StorageConfig, StorageStats, ToStorage } from "./storage-protocol.ts";
import { CycleBatch } from "./cycle-batch.ts";

class Handle implements ArchiveLineSink {
  constructor(private readonly client: StorageClient, readonly id: number) {}
  appendRecord(time: RecordTime, msg: Uint8Array, idm: number, attrs: AttributeIndex, nowMs: number, retake = false): boolean {
    return this.client.record(this.id, time, msg, idm, attrs.end, nowMs, retake);
  }
}

/**
 * Bytes of snapshots handed to the worker and not yet taken in, at most: a quarter of the
 * buffer bound (the writers hold the rest), never under 8 MiB. A cycle that first sees
 * ten thousand connections sends about 5 MiB, and a flood of 5,000 new connections a
 * second, each needing a file, keeps the worker behind for seconds: with 6 MiB (a 24 MiB
 * bound's quarter) 5.7-7.5 % of those connections lost their lines, with 8 MiB none.
 */
function inFlightBound(maxBufferedBytes: number): number {
  return Math.max(8 * 1024 * 1024, Math.floor(maxBufferedBytes / 4));
}

/** How long past its bound a stopping worker may take (the index's last batch and retries). */
const STOP_MARGIN_MS = 10_000;

const EMPTY_INDEX: IndexCounters = { lostReports: 0, writeFailures: 0, rows: 0, writeSeconds: [] };

export class StorageClient implements ArchiveSink {
  /** This cycle's operations and snapshots, sent as one message. */
  private readonly batch = new CycleBatch();
  private nextId = 1;
  private readonly handles = new Map<string, Handle>();
  private sent = 0;
  private last: StorageStats | null = null;
  private lostBackpressure = 0;
  /** Lines a worker that never reported stopping had not written. */
  private lostToWorker = 0;
  private linesSent = 0;
  private readonly writeSeconds: number[] = [];
  private stopped: ((s: StorageStats) => void) | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly maxInFlightBytes: number,
    private readonly log: LogFn,
  ) {
    worker.onmessage = (e: MessageEvent<FromStorage>) => this.receive(e.data);
  }

  /** Starts the worker and waits until it has opened the index. */
  static async start(config: StorageConfig, log: LogFn): Promise<StorageClient> {
    const worker = new Worker(new URL("./storage-worker.ts", import.meta.url).href);
    const ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<FromStorage>) => {
        if (e.data.kind === "ready") resolve();
        else if (e.data.kind === "failed") reject(new Error(e.data.message));
        else if (e.data.kind === "log") log(e.data.line, e.data.level);
      };
      worker.onerror = (e) => reject(new Error(e.message));
    });
    worker.postMessage({ kind: "init", config } satisfies ToStorage);
    try {
      await ready;
    } catch (e) {
      worker.terminate();
      throw e;
    }
    const client = new StorageClient(worker, inFlightBound(config.maxBufferedBytes), log);
    worker.onerror = (e) => log(`storage worker error: ${e.message}`, "error");
    return client;
  }

  open(uuid: string, startMs: number, firstSeq = 0, startSubMs = 0): ArchiveLineSink {
    const known = this.handles.get(uuid);
    if (known !== undefined) return known;
    const h = new Handle(this, this.nextId++);
    this.handles.set(uuid, h);
    this.batch.open(h.id, startMs, firstSeq, startSubMs, uuid);
    return h;
  }

  /**
   * A snapshot for connection `id`: the message from its inet_diag_msg at `idm` to `end`,
   * copied as it is; the worker encodes the line. False: dropped while the worker is too
   * far behind (counted as back-pressure, once: a refused retake was counted already).
   */
  record(id: number, time: RecordTime, msg: Uint8Array, idm: number, end: number, nowMs: number, retake = false): boolean {
    if (this.sent + this.batch.bytes - (this.last?.acked ?? 0) > this.maxInFlightBytes) {
      if (!retake) this.lostBackpressure++;
      return false;
    }
    this.batch.line(id, nowMs, msg, idm, end - idm, time.sec, time.nsec);
    this.linesSent++;
    return true;
  }

  closeLater(uuid: string, nowMs: number): void {
    const h = this.handles.get(uuid);
    if (h === undefined) return;
    this.handles.delete(uuid);
    this.batch.close(h.id, nowMs);
  }

  /** Sends what this cycle recorded; the writing happens in the worker. */
  flushDue(): number {
    const b = this.batch.take();
    if (b === null) return 0;
    // Moved, not copied: the worker owns both buffers from here and hands them back.
    this.post(b.message, b.transfer);
    this.sent += b.message.bytes;
    return 1;
  }

  /** The index learns of files from the worker itself. */
  takeFileChanges(): ArchiveFile[] {
    return [];
  }

  /**
   * The cycle's report, for the index, after the archive operations of the same cycle.
   * Called every cycle; empty reports stay here. Progress already comes merged: the
   * collector reports each updated connection at most every `progressEveryMs`.
   */
  submit(report: CycleReport): void {
    if (report.opened.length + report.updated.length + report.closed.length === 0) return;
    this.flushDue();
    this.post({ kind: "report", report });
  }

  closeConnections(uuids: string[], at: number, reason: EndReason): void {
    this.flushDue();
    this.post({ kind: "close-connections", uuids, at, reason });
  }

  /** Shutdown happens in the worker (see shutdown()); nothing is held here once sent. */
  closeSome(): number {
    this.flushDue();
    return 0;
  }

  abandon(): CloseAllResult {
    return { unflushedWriters: 0, unflushedRecords: 0 };
  }

  /** The worker's archive counters, with the lines dropped here and those not yet taken in. */
  stats(): ArchiveSetStats {
    const a = this.last?.archive;
    const lost = { ...(a?.lostByReason ?? {}) };
    if (this.lostBackpressure > 0) lost.backpressure = this.lostBackpressure;
    if (this.lostToWorker > 0) lost.worker_stopped = this.lostToWorker;
    const inWorker = (a?.recordsWritten ?? 0) + (a?.droppedRecords ?? 0) + (a?.pendingRecords ?? 0);
    return {
      filesCreated: a?.filesCreated ?? 0,
      recordsWritten: a?.recordsWritten ?? 0,
      bytesWritten: a?.bytesWritten ?? 0,
      bytesIn: a?.bytesIn ?? 0,
      flushes: a?.flushes ?? 0,
      failedFlushes: a?.failedFlushes ?? 0,
      droppedRecords: (a?.droppedRecords ?? 0) + this.lostBackpressure + this.lostToWorker,
      lostByReason: lost,
      compactedFiles: a?.compactedFiles ?? 0,
      compactedBytesSaved: a?.compactedBytesSaved ?? 0,
      // Lines on their way to the worker are buffered too.
      pendingRecords: (a?.pendingRecords ?? 0) + Math.max(0, this.linesSent - inWorker),
      pendingBytes: (a?.pendingBytes ?? 0) + Math.max(0, this.sent + this.batch.bytes - (this.last?.acked ?? 0)),
      errors: { ...(a?.errors ?? {}) },
      lastError: a?.lastError ?? null,
      liveWriters: a?.liveWriters ?? this.handles.size,
      dirtyWriters: a?.dirtyWriters ?? 0,
      retryWriters: a?.retryWriters ?? 0,
    };
  }

  /** The index's counters as last reported, and the write durations since the last call. */
  takeIndexStats(): IndexCounters {
    const ix = this.last?.index ?? EMPTY_INDEX;
    return { ...ix, writeSeconds: this.writeSeconds.splice(0) };
  }

  /**
   * Stops the worker: it writes what it holds for at most `boundMs` (sooner once `force`
   * fires), counts the rest as lost, writes the index's last batch and closes it.
   */
  async shutdown(boundMs: number, force: AbortSignal): Promise<StorageStats> {
    this.flushDue();
    const done = new Promise<StorageStats>((resolve) => (this.stopped = resolve));
    const onForce = () => this.post({ kind: "force" });
    force.addEventListener("abort", onForce);
    this.post({ kind: "shutdown", boundMs });
    if (force.aborted) onForce();
    // A worker that died or hangs must not hold the process: past the bound and a margin
    // for the index, what it had not reported written is counted lost.
    const late = Bun.sleep(boundMs + STOP_MARGIN_MS).then(() => null);
    const s = await Promise.race([done, late]);
    force.removeEventListener("abort", onForce);
    this.worker.terminate();
    if (s !== null) return s;
    this.log(`storage worker did not stop within ${(boundMs + STOP_MARGIN_MS) / 1000} s; its unwritten lines are counted lost`);
    const a = this.stats();
    this.lostToWorker = a.pendingRecords;
    this.linesSent -= a.pendingRecords;
    const last = this.last ?? { acked: 0, archive: a, index: EMPTY_INDEX, pendingReports: 0 };
    return { ...last, index: { ...last.index, lostReports: last.index.lostReports + last.pendingReports } };
  }

  private receive(m: FromStorage): void {
    if (m.kind === "log") this.log(m.line, m.level);
    else if (m.kind === "recycle") this.batch.recycle(m.buffer, m.ops);
    else if (m.kind === "stats" || m.kind === "stopped") {
      this.last = m.stats;
      for (const s of m.stats.index.writeSeconds) this.writeSeconds.push(s);
      if (m.kind === "stopped") this.stopped?.(m.stats);
    }
  }

  private post(m: ToStorage, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }
}
