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
import { Op, type FromStorage, type StorageConfig, type StorageStats, type ToStorage } from "./storage-protocol.ts";

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

/** First size of a cycle's line buffer; it grows (doubling) to what cycles need. */
const FIRST_BATCH_BYTES = 256 * 1024;
/** Operation buffers above this size (a start-up burst's) are not kept for reuse. */
const MAX_SPARE_OPS_BYTES = 1 << 20;
/** Buffers the worker hands back, kept for the next cycles. */
const SPARE_BATCHES = 3;
/** How long past its bound a stopping worker may take (the index's last batch and retries). */
const STOP_MARGIN_MS = 10_000;

const EMPTY_INDEX: IndexCounters = { lostReports: 0, writeFailures: 0, rows: 0, writeSeconds: [] };

export class StorageClient implements ArchiveSink {
  /** This cycle's operations (`opsLen` numbers); moved to the worker whole. */
  private ops: Float64Array | null = null;
  private opsLen = 0;
  private uuids: string[] = [];
  /**
   * This cycle's snapshots, raw messages back to back, each starting 4-byte aligned (see
   * storage-protocol.ts); moved to the worker whole.
   */
  private lines: { buffer: ArrayBuffer; bytes: Buffer; words: Int32Array } | null = null;
  private bytes = 0;
  /** The last message buffer copied from, and a word view of it when it starts aligned. */
  private from: Uint8Array | null = null;
  private from32: Int32Array | null = null;
  private batchSize = FIRST_BATCH_BYTES;
  private readonly spare: ArrayBuffer[] = [];
  private readonly spareOps: Float64Array[] = [];
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
    const o = this.opsRoom(6);
    const at = this.opsLen;
    o[at] = Op.Open;
    o[at + 1] = h.id;
    o[at + 2] = startMs;
    o[at + 3] = firstSeq;
    o[at + 4] = startSubMs;
    o[at + 5] = this.uuids.push(uuid) - 1;
    this.opsLen += 6;
    return h;
  }

  /**
   * A snapshot for connection `id`: the message from its inet_diag_msg at `idm` to `end`,
   * copied as it is; the worker encodes the line. Dropped (counted) while the worker is
   * too far behind.
   */
  /** False: dropped (counted as back-pressure, once: a refused retake was counted already). */
  record(id: number, time: RecordTime, msg: Uint8Array, idm: number, end: number, nowMs: number, retake = false): boolean {
    if (this.sent + this.bytes - (this.last?.acked ?? 0) > this.maxInFlightBytes) {
      if (!retake) this.lostBackpressure++;
      return false;
    }
    const n = end - idm;
    const lines = this.room(n + 3);
    this.copyIn(msg, idm, n, lines);
    const o = this.opsRoom(6);
    const at = this.opsLen;
    o[at] = Op.Line;
    o[at + 1] = id;
    o[at + 2] = nowMs;
    o[at + 3] = n;
    o[at + 4] = time.sec;
    o[at + 5] = time.nsec;
    this.opsLen += 6;
    this.bytes += (n + 3) & ~3;
    this.linesSent++;
    return true;
  }

  /**
   * Copies msg[idm, idm + n) to the lines at `this.bytes` (aligned): as words when the
   * message is aligned too (netlink's are), by a loop rather than a native call on a
   * fresh subarray, which made ~1,000 objects a cycle and a tenth of the poll thread's CPU.
   */
  private copyIn(msg: Uint8Array, idm: number, n: number, lines: { bytes: Buffer; words: Int32Array }): void {
    if (msg !== this.from) {
      this.from = msg;
      this.from32 = (msg.byteOffset & 3) === 0 ? new Int32Array(msg.buffer, msg.byteOffset, msg.byteLength >> 2) : null;
    }
    const src32 = this.from32;
    let j = 0;
    if (src32 !== null && (idm & 3) === 0) {
      const w = lines.words;
      const f = idm >> 2;
      const t = this.bytes >> 2;
      const n32 = n >> 2;
      for (; j < n32; j++) w[t + j] = src32[f + j];
      j <<= 2;
    }
    const out = lines.bytes;
    for (const to = this.bytes; j < n; j++) out[to + j] = msg[idm + j];
  }

  /** The operations buffer, with room for `k` more numbers. */
  private opsRoom(k: number): Float64Array {
    const have = this.ops;
    if (have !== null && this.opsLen + k <= have.length) return have;
    let size = have === null ? 1024 : have.length;
    while (size < this.opsLen + k) size *= 2;
    const reuse = this.spareOps.findIndex((o) => o.length >= size);
    const ops = reuse >= 0 ? this.spareOps.splice(reuse, 1)[0] : new Float64Array(size);
    if (have !== null && this.opsLen > 0) ops.set(have.subarray(0, this.opsLen));
    this.ops = ops;
    return ops;
  }

  /** The line buffer, with room for `n` more bytes. */
  private room(n: number): { bytes: Buffer; words: Int32Array } {
    const have = this.lines;
    if (have !== null && this.bytes + n <= have.bytes.byteLength) return have;
    while (this.batchSize < this.bytes + n) this.batchSize *= 2;
    const reuse = this.spare.findIndex((b) => b.byteLength >= this.batchSize);
    const buffer = reuse >= 0 ? this.spare.splice(reuse, 1)[0] : new ArrayBuffer(this.batchSize);
    const bytes = Buffer.from(buffer);
    if (have !== null && this.bytes > 0) bytes.set(have.bytes.subarray(0, this.bytes), 0);
    this.lines = { buffer, bytes, words: new Int32Array(buffer, 0, buffer.byteLength >> 2) };
    return this.lines;
  }

  closeLater(uuid: string, nowMs: number): void {
    const h = this.handles.get(uuid);
    if (h === undefined) return;
    this.handles.delete(uuid);
    const o = this.opsRoom(3);
    const at = this.opsLen;
    o[at] = Op.Close;
    o[at + 1] = h.id;
    o[at + 2] = nowMs;
    this.opsLen += 3;
  }

  /** Sends what this cycle recorded; the writing happens in the worker. */
  flushDue(): number {
    const count = this.opsLen;
    const ops = this.ops;
    if (count === 0 || ops === null) return 0;
    // Moved, not copied: the worker owns both buffers from here and hands them back.
    const lines = this.lines?.buffer ?? new ArrayBuffer(0);
    this.post({ kind: "batch", ops, count, uuids: this.uuids, lines, bytes: this.bytes }, [ops.buffer as ArrayBuffer, lines]);
    this.sent += this.bytes;
    // The next batches are sized by this one's need: after a burst (every connection's
    // first snapshot at start-up, 26 MB at 50k) the buffers shrink back, and a spare of
    // the burst's size is not kept for good.
    this.batchSize = Math.max(FIRST_BATCH_BYTES, 2 ** Math.ceil(Math.log2(this.bytes * 1.25 + 1)));
    this.ops = null;
    this.opsLen = 0;
    this.uuids = [];
    this.lines = null;
    this.bytes = 0;
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
      pendingBytes: (a?.pendingBytes ?? 0) + Math.max(0, this.sent + this.bytes - (this.last?.acked ?? 0)),
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
    else if (m.kind === "recycle") {
      const size = m.buffer.byteLength;
      if (this.spare.length < SPARE_BATCHES && size >= this.batchSize / 2 && size <= this.batchSize * 4) this.spare.push(m.buffer);
      if (this.spareOps.length < SPARE_BATCHES && m.ops.byteLength <= MAX_SPARE_OPS_BYTES) this.spareOps.push(new Float64Array(m.ops));
    } else if (m.kind === "stats" || m.kind === "stopped") {
      this.last = m.stats;
      for (const s of m.stats.index.writeSeconds) this.writeSeconds.push(s);
      if (m.kind === "stopped") this.stopped?.(m.stats);
    }
  }

  private post(m: ToStorage, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }
}
