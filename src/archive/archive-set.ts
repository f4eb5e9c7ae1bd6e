// All connections' archive writers: shares one compressor (compaction has its own), the
// counters and the directory cache, and schedules flushes. Sized for 10,000+ connections:
// nothing here is O(all writers) per poll cycle. A writer that has buffered lines sits in
// a queue ordered by when they became due, so flushDue() looks only at the writers it
// flushes, plus one.
//
// The collector's cycle, in short:
//   const w = set.open(uuid, firstSeenMs);       // when a connection appears
//   w.append(encodeRecord(...), nowMs);          // for every archived snapshot
//   set.close(uuid, nowMs);                      // when it is gone
//   set.flushDue(nowMs);                         // once per cycle
//   set.takeFileChanges();                       // files created / grown / closed, for the index
//   set.closeAll(Date.now());                    // at shutdown
// None of these throws on an I/O failure: see counters (errors by type).
import { ArchiveCounters, type ArchiveCountersSnapshot } from "./counters.ts";
import { CompactionQueue } from "./compaction-queue.ts";
import { DirCache } from "./file-io.ts";
import { trimPool } from "./pending-lines.ts";
import { DEFAULT_LEVEL, FrameCompressor, type FrameCompressorOptions } from "./frame-compressor.ts";
import { fileInfo } from "./segment-file.ts";
import { ArchiveWriter, type ArchiveFileInfo, type FlushScheduler, type WriterContext } from "./writer.ts";

export interface ArchiveSetOptions {
  /** Folder the YYYY/MM/DD/… paths are relative to. */
  outputDir: string;
  /** Rotate a connection's file every this many minutes of its life; 0 never. Default 10. */
  rotateMinutes?: number;
  /** A buffered line is written within this long. Default 1000. */
  flushIntervalMs?: number;
  /** A connection's lines are written as soon as this many bytes are buffered. Default 32 KiB: a frame of ~25 lines compresses nearly as well as a bigger one, and a thousand busy connections then hold 32 MiB, not 64. */
  flushBytes?: number;
  /** After a failed write, wait this long before retrying. Default flushIntervalMs. */
  retryMs?: number;
  /** Bytes one connection keeps buffered through failed writes. Default 4 MiB. */
  maxPendingBytes?: number;
  /** Bytes all connections keep buffered together. Default 256 MiB. */
  maxTotalPendingBytes?: number;
  /** zstd level. Default DEFAULT_LEVEL (1). */
  compressionLevel?: number;
  /** Per-frame content checksum. Default true. */
  checksum?: boolean;
  /**
   * Rewrite each finished file of several frames as one frame (smaller, and what M-Lab
   * writes), in flushDue's spare budget. Default true.
   */
  compactFinishedFiles?: boolean;
}

export interface ArchiveSetStats extends ArchiveCountersSnapshot {
  /** Writers not yet finished (open, or closed with lines still to write). */
  liveWriters: number;
  /** Writers with buffered lines, waiting for their first try or for a retry. */
  dirtyWriters: number;
  retryWriters: number;
}

export interface CloseAllResult {
  /** Writers that could not write everything (their lines are lost when the process exits). */
  unflushedWriters: number;
  unflushedRecords: number;
}

export class ArchiveSet {
  readonly outputDir: string;
  readonly counters = new ArchiveCounters();
  private readonly ctx: WriterContext;
  private readonly flushIntervalMs: number;
  /** Writers of open connections (never a closed one). */
  private readonly byUuid = new Map<string, ArchiveWriter>();
  /** Writers of ended connections with lines still to write: with byUuid, every writer not finished. */
  private readonly closing = new Set<ArchiveWriter>();
  // Two queues, each in due order because each has one fixed delay: lines waiting for
  // their first write (due = first line + flushIntervalMs), and failed ones (due = failure + retryMs).
  private readonly dirty = new Set<ArchiveWriter>();
  private readonly retry = new Set<ArchiveWriter>();
  // Writers whose lines are due now (their connection closed, or a full buffer), oldest first.
  private readonly dueNow = new Set<ArchiveWriter>();
  private readonly changed = new Set<ArchiveFileInfo>();
  // Finished files of several frames, to be rewritten as one when there is time (null: not compacted).
  private readonly compaction: CompactionQueue | null;

  constructor(opts: ArchiveSetOptions) {
    this.outputDir = opts.outputDir;
    const compressorOptions: FrameCompressorOptions = { level: opts.compressionLevel ?? DEFAULT_LEVEL, checksum: opts.checksum };
    this.compaction = (opts.compactFinishedFiles ?? true) ? new CompactionQueue(opts.outputDir, this.counters, compressorOptions) : null;
    this.flushIntervalMs = Math.max(0, opts.flushIntervalMs ?? 1000);
    const rotateMinutes = opts.rotateMinutes ?? 10;
    const scheduler: FlushScheduler = {
      dueNow: (w) => {
        this.dirty.delete(w);
        this.dueNow.add(w);
      },
      becameDirty: (w, nowMs) => {
        w.dueAt = nowMs + this.flushIntervalMs;
        this.dirty.add(w);
      },
      flushed: (w) => {
        this.dirty.delete(w);
        this.retry.delete(w);
        this.dueNow.delete(w);
      },
      failed: (w) => {
        this.dirty.delete(w);
        this.retry.delete(w);
        this.dueNow.delete(w);
        w.dueAt = w.retryAfter;
        this.retry.add(w);
      },
      ended: (info) => {
        this.compaction?.add(info);
      },
      fileChanged: (info) => {
        this.changed.add(info);
      },
      relieve: (nowMs) => this.relieve(nowMs),
      finished: (w) => {
        this.dirty.delete(w);
        this.retry.delete(w);
        this.dueNow.delete(w);
        this.closing.delete(w);
        if (this.byUuid.get(w.uuid) === w) this.byUuid.delete(w.uuid);
      },
    };
    this.ctx = {
      outputDir: opts.outputDir,
      rotateMs: rotateMinutes > 0 ? rotateMinutes * 60_000 : 0,
      flushBytes: opts.flushBytes ?? 32 * 1024,
      // At least 1 ms: a retry due "now" would be retried again in the same flushDue call.
      retryMs: Math.max(1, opts.retryMs ?? this.flushIntervalMs),
      maxPendingBytes: opts.maxPendingBytes ?? 4 * 1024 * 1024,
      maxTotalPendingBytes: opts.maxTotalPendingBytes ?? 256 * 1024 * 1024,
      compressor: new FrameCompressor(compressorOptions),
      dirs: new DirCache(),
      counters: this.counters,
      scheduler,
    };
  }

  /**
   * The writer of connection `uuid`, created if needed. `startMs` (Unix ms) is the
   * connection's start: it dates the first file and is every file's StartTime. A
   * connection resumed after a restart passes `firstSeq`, the sequence after its last file.
   * `startSubMs` is the start's nanoseconds below the millisecond (StartTime is exact to the ns).
   */
  open(uuid: string, startMs: number, firstSeq = 0, startSubMs = 0): ArchiveWriter {
    const existing = this.byUuid.get(uuid);
    if (existing !== undefined && !existing.closed) return existing;
    const w = new ArchiveWriter(this.ctx, uuid, startMs, firstSeq, startSubMs);
    this.byUuid.set(uuid, w);
    return w;
  }

  /** The open writer of `uuid`, if any. */
  get(uuid: string): ArchiveWriter | undefined {
    const w = this.byUuid.get(uuid);
    return w !== undefined && !w.closed ? w : undefined;
  }

  /** Ends connection `uuid`: flushes and closes its file. False if lines are still buffered. */
  close(uuid: string, nowMs: number): boolean {
    const w = this.byUuid.get(uuid);
    if (w === undefined) return true;
    this.byUuid.delete(uuid);
    this.closing.add(w);
    return w.close(nowMs);
  }

  /**
   * Ends connection `uuid` without writing now: its last lines are written by flushDue,
   * first in line, within flushDue's budget.
   */
  closeLater(uuid: string, nowMs: number): void {
    const w = this.byUuid.get(uuid);
    if (w === undefined) return;
    this.byUuid.delete(uuid);
    this.closing.add(w);
    w.closeLater(nowMs);
  }

  /** Writers whose lines are due now (closed connections, full buffers) and not written yet. */
  get dueNowCount(): number {
    return this.dueNow.size;
  }

  /**
   * When flushDue next has something to do (Unix ms, as its `nowMs`): -Infinity for now,
   * +Infinity when nothing is buffered or waiting to be compacted. Callers that sleep
   * between calls wake up then, not on a fixed tick.
   */
  nextDueMs(): number {
    if ((this.compaction?.backlog ?? 0) > 0) return Number.NEGATIVE_INFINITY;
    let due = Number.POSITIVE_INFINITY;
    for (const w of this.dueNow) if (w.retryAfter < due) due = w.retryAfter;
    // Each of these is in due order: its first writer is its earliest.
    for (const w of this.retry) {
      if (w.dueAt < due) due = w.dueAt;
      break;
    }
    for (const w of this.dirty) {
      if (w.dueAt < due) due = w.dueAt;
      break;
    }
    return due;
  }

  /**
   * Writes the buffered lines that are due (older than flushIntervalMs, or retries whose
   * wait is over). Call once per poll cycle. `budgetMs` bounds the time spent, so a slow
   * disk delays flushes rather than polling; what is left is due next call.
   * Returns the number of flush attempts.
   */
  flushDue(nowMs: number, budgetMs = Number.POSITIVE_INFINITY): number {
    const deadline = budgetMs === Number.POSITIVE_INFINITY ? budgetMs : performance.now() + budgetMs;
    let attempts = 0;
    for (const w of this.dueNow) {
      if (w.retryAfter > nowMs) continue;
      w.flush(nowMs);
      attempts++;
      if (performance.now() > deadline) return attempts;
    }
    for (const queue of [this.retry, this.dirty]) {
      // A writer that fails moves to the end of `retry` with a later due time, so the
      // loop meets it again only after every writer that is due now.
      for (const w of queue) {
        if (w.dueAt > nowMs) break;
        w.flush(nowMs);
        attempts++;
        // One flush can take milliseconds on a slow disk: check the clock after each.
        if (performance.now() > deadline) return attempts;
      }
    }
    this.compaction?.runUntil(deadline, nowMs, (info) => this.changed.add(info));
    trimPool(nowMs);
    return attempts;
  }

  /**
   * Writes the writers that are due now, then those buffering longest (in a flood every
   * busy connection fills up at once: the oldest hold the most), until buffered lines
   * are back under three quarters of the bound. Failing writers wait for their retry.
   */
  private relieve(nowMs: number): void {
    const target = this.ctx.maxTotalPendingBytes * 0.75;
    for (const queue of [this.dueNow, this.dirty]) {
      for (const w of queue) {
        if (this.counters.pendingBytes <= target) return;
        if (w.retryAfter > nowMs) continue;
        w.flush(nowMs);
      }
    }
  }

  /**
   * Buffered lines hold more than three quarters of the memory bound: a burst. (Past half,
   * writers already write early, see writer.ts, which keeps a thousand busy connections'
   * buffers about half full in steady state: that is not a burst.)
   */
  get pressed(): boolean {
    return this.counters.pendingBytes > (this.ctx.maxTotalPendingBytes / 4) * 3;
  }

  /** Finished files waiting to be rewritten as one frame. */
  get compactBacklog(): number {
    return this.compaction?.backlog ?? 0;
  }

  /**
   * Shutdown, one step: closes writers and writes what they buffer, for at most
   * `budgetMs`. Returns how many writers still hold lines (call again, or abandon()).
   * A writer whose write fails stays, to be tried again by the next call.
   */
  closeSome(nowMs: number, budgetMs = Number.POSITIVE_INFINITY): number {
    const deadline = budgetMs === Number.POSITIVE_INFINITY ? budgetMs : performance.now() + budgetMs;
    for (const w of this.byUuid.values()) this.closing.add(w);
    this.byUuid.clear();
    for (const w of [...this.closing]) {
      if (w.closed) w.flush(nowMs);
      else w.close(nowMs);
      if (performance.now() > deadline) break;
    }
    return this.closing.size;
  }

  /** Shutdown, last step: what is still buffered will never be written; counted as lost. */
  abandon(): CloseAllResult {
    let unflushedRecords = 0;
    let unflushedBytes = 0;
    const unfinished = [...this.byUuid.values(), ...this.closing];
    for (const w of unfinished) {
      unflushedRecords += w.pendingRecords;
      unflushedBytes += w.pendingBytes;
      // Lines whose writes failed are lost to that error; the others to the time bound.
      this.counters.lose(w.pendingRecords, w.retryAfter === Number.NEGATIVE_INFINITY ? "shutdown_timeout" : undefined);
    }
    // Lost, no longer pending: every line is written, buffered or lost, exactly one of them.
    this.counters.pendingRecords -= unflushedRecords;
    this.counters.pendingBytes -= unflushedBytes;
    return { unflushedWriters: unfinished.length, unflushedRecords };
  }

  /** Closes every writer, writing what is buffered (shutdown); what cannot be written is counted lost. */
  closeAll(nowMs: number): CloseAllResult {
    this.closeSome(nowMs);
    return this.abandon();
  }

  /**
   * Files created, grown or closed since the last call (copies), for the index: one
   * entry per file however many times it changed.
   */
  takeFileChanges(): ArchiveFileInfo[] {
    const out = Array.from(this.changed, fileInfo);
    this.changed.clear();
    return out;
  }

  stats(): ArchiveSetStats {
    return { ...this.counters.snapshot(), liveWriters: this.byUuid.size + this.closing.size, dirtyWriters: this.dirty.size, retryWriters: this.retry.size };
  }
}
