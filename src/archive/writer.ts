// The archive series of ONE connection: lines are buffered in memory and flushed as
// independent zstd frames appended to the connection's current file, which is opened and
// closed around each write. Files rotate every `rotateMs` of the connection's life.
//
// File rules (M-Lab's, see DESIGN.md "Formats kept from M-Lab"):
// - path YYYY/MM/DD/<UUID>.<seq>.jsonl.zst; the first file is dated by the connection's
//   start, later ones by the UTC date when they begin;
// - every file starts with its own Metadata line: Sequence = its seq, StartTime = the
//   connection's start;
// - a file is only ever created exclusively: if the name exists (a restart, another
//   process), seq advances until a free name is found. Nothing is ever overwritten.
// Rotation is lazy, like M-Lab's: the first line appended at or after the boundary starts
// the next file, so an idle connection creates no empty files. Boundaries are multiples
// of `rotateMs` after the start; idle periods are skipped (seq counts files, one by one).
//
// Nothing here throws on an I/O failure: the error is counted, the lines stay buffered
// for a retry after `retryMs`, and past the memory bounds the oldest lines are dropped
// (counted). Lines buffered when a rotation's flush fails go into the next file.
import { join } from "node:path";
import type { ArchiveFile } from "../model/report.ts";
import type { ArchiveCounters } from "./counters.ts";
import { appendExisting, createExclusive, DirCache, errorCode } from "./file-io.ts";
import type { FrameCompressor } from "./frame-compressor.ts";
import { archivePath, datePath } from "./naming.ts";
import { encodeMetadata } from "./record.ts";
import { formatTimeMsNs } from "./time.ts";

/** One archive file, as the collector reports it (its ArchiveFile). */
export interface ArchiveFileInfo extends ArchiveFile {
  /** Compressed bytes on disk. */
  bytes: number;
}

/** Told by writers when their buffered lines change, so a manager can schedule flushes. */
export interface FlushScheduler {
  /** `w`'s lines are due now (it was closed, or its buffer is full), ahead of the timer. */
  dueNow(w: ArchiveWriter): void;
  /** A file of several frames is finished: it may be rewritten as one frame. */
  ended(info: ArchiveFileInfo): void;
  /** `w` went from no buffered line to some, at `nowMs`. */
  becameDirty(w: ArchiveWriter, nowMs: number): void;
  /** Everything buffered was written. */
  flushed(w: ArchiveWriter): void;
  /** A flush failed; lines are still buffered, to be retried at `w.retryAfter`. */
  failed(w: ArchiveWriter): void;
  /** A file was created, grew, or closed. */
  fileChanged(info: ArchiveFileInfo): void;
  /** The writer is closed and has nothing buffered: it will never write again. */
  finished(w: ArchiveWriter): void;
}

/** What every writer of a set shares. */
export interface WriterContext {
  readonly outputDir: string;
  /** 0 or Infinity: never rotate. */
  readonly rotateMs: number;
  /** Flush as soon as this many bytes are buffered. */
  readonly flushBytes: number;
  /** Wait after a failed flush before the next attempt. */
  readonly retryMs: number;
  /** Buffered bytes one writer keeps through failures; older lines are dropped beyond. */
  readonly maxPendingBytes: number;
  /** Buffered bytes all writers together keep; see enforceBounds. */
  readonly maxTotalPendingBytes: number;
  readonly compressor: FrameCompressor;
  readonly dirs: DirCache;
  readonly counters: ArchiveCounters;
  readonly scheduler: FlushScheduler;
}

interface Segment {
  readonly info: ArchiveFileInfo;
  /** Unix ms whose UTC date names the file. */
  readonly dateMs: number;
  created: boolean;
  /** zstd frames written to the file so far. */
  frames: number;
}

// Names tried per flush before giving up ("exists"): only a folder full of stale files
// from earlier runs could exhaust it.
const MAX_NAME_ATTEMPTS = 1000;

/** Files of fewer frames are left as they are: one frame gains nothing, two little. */
const COMPACT_MIN_FRAMES = 3;
/**
 * Nor are larger files: they come from busy connections, whose frames are already big
 * (so compress well), and rewriting one would hold the poll loop for too long.
 */
const COMPACT_MAX_BYTES = 1 << 20;

/** The shared empty line buffer (never pushed to: append() replaces it first). */
const NO_LINES: string[] = [];

export class ArchiveWriter {
  readonly uuid: string;
  /** The connection's start (Unix ms): dates its first file; StartTime of every Metadata line. */
  readonly startMs: number;
  /** Kept by the FlushScheduler: when the buffered lines are due. */
  dueAt = 0;
  /** No flush is attempted before this time (Unix ms) after a failure. */
  retryAfter = Number.NEGATIVE_INFINITY;
  // Kept small for the many idle connections: files before the current one are listed
  // only once there are some, and an empty buffer is one shared array.
  private earlierFiles: ArchiveFileInfo[] | null = null;
  private filesMade = 0;
  private segment: Segment | null = null;
  private nextSeq = 0;
  private rotateAt = Number.POSITIVE_INFINITY;
  private pending: string[] = NO_LINES;
  /** After a rotation boundary with lines buffered: how many of them belong to the current file; -1 otherwise. */
  private rotateSplit = -1;
  /** When that boundary was crossed (Unix ms): the current file's close and the next one's open. */
  private rotateTime = 0;
  private pendingBytesCount = 0;
  private closedAtMs: number | null = null;

  /** `firstSeq`: the sequence number of this writer's first file (a resumed connection continues its series). */
  constructor(private readonly ctx: WriterContext, uuid: string, startMs: number, firstSeq = 0, readonly startSubMs = 0) {
    this.uuid = uuid;
    this.startMs = startMs;
    this.nextSeq = firstSeq;
  }

  /** Every file of this connection that exists so far, oldest first (the last may be current). */
  get files(): readonly ArchiveFileInfo[] {
    const current = this.segment?.created ? [this.segment.info] : [];
    return this.earlierFiles === null ? current : [...this.earlierFiles, ...current];
  }

  get pendingRecords(): number {
    return this.pending.length;
  }

  get pendingBytes(): number {
    return this.pendingBytesCount;
  }

  get closed(): boolean {
    return this.closedAtMs !== null;
  }

  /** Buffers one line (no trailing newline) taken at `nowMs`. */
  append(line: string, nowMs: number): void {
    const ctx = this.ctx;
    const c = ctx.counters;
    if (this.closedAtMs !== null) {
      c.error("closed", this.uuid, "line appended after close; dropped", nowMs);
      c.lose(1, "closed");
      return;
    }
    if (this.segment !== null && nowMs >= this.rotateAt) this.rotate(nowMs);
    if (this.segment === null) this.beginSegment(nowMs);
    if (this.pending === NO_LINES) this.pending = [];
    this.pending.push(line);
    const bytes = line.length + 1;
    this.pendingBytesCount += bytes;
    c.pendingRecords++;
    c.pendingBytes += bytes;
    if (this.pending.length === 1) ctx.scheduler.becameDirty(this, nowMs);
    if (c.pendingBytes > ctx.maxTotalPendingBytes) {
      // Memory is short: write now, unless waiting out a failure.
      if (nowMs >= this.retryAfter) this.flush(nowMs);
      else this.enforceBounds(nowMs);
    } else if (this.pendingBytesCount >= ctx.flushBytes && nowMs >= this.retryAfter) {
      // A full buffer goes to the front of the queue, written within the manager's time
      // budget: thousands of connections filling up in the same cycle must not stall it.
      ctx.scheduler.dueNow(this);
    } else if (this.pendingBytesCount >= ctx.flushBytes) {
      this.enforceBounds(nowMs);
    }
  }

  /**
   * Writes every buffered line as one frame. Returns false if the write failed (counted;
   * the lines stay buffered for the next attempt).
   */
  flush(nowMs: number): boolean {
    if (this.rotateSplit >= 0 && !this.flushRotated(nowMs)) return this.flushFailed(nowMs);
    if (this.pending.length === 0) {
      if (this.closedAtMs !== null) this.finish();
      else this.ctx.scheduler.flushed(this);
      return true;
    }
    if (this.segment === null) this.beginSegment(nowMs);
    const seg = this.segment!;
    const ok = seg.created ? this.appendFrame(seg, nowMs) : this.createFile(seg, nowMs);
    const c = this.ctx.counters;
    if (!ok) return this.flushFailed(nowMs);
    const n = this.pending.length;
    seg.info.records += n;
    c.recordsWritten += n;
    c.flushes++;
    c.pendingRecords -= n;
    c.pendingBytes -= this.pendingBytesCount;
    this.pending = NO_LINES;
    this.pendingBytesCount = 0;
    this.retryAfter = Number.NEGATIVE_INFINITY;
    this.ctx.scheduler.fileChanged(seg.info);
    if (this.closedAtMs !== null) this.finish();
    else this.ctx.scheduler.flushed(this);
    return true;
  }

  /**
   * The connection ended, but its last lines are written later, by the scheduler (within
   * its time budget): a burst of closing connections then never stalls the caller.
   */
  closeLater(nowMs: number): void {
    if (this.closedAtMs !== null) return;
    this.closedAtMs = nowMs;
    if (this.pending.length === 0) this.finish();
    else this.ctx.scheduler.dueNow(this);
  }

  /**
   * The connection ended: flushes and closes the current file. Returns false if lines are
   * still buffered because the flush failed; the scheduler retries them (into this file).
   */
  close(nowMs: number): boolean {
    if (this.closedAtMs !== null) return this.pending.length === 0;
    this.closedAtMs = nowMs;
    if (this.pending.length === 0) {
      this.finish();
      return true;
    }
    return this.flush(nowMs);
  }

  private beginSegment(nowMs: number): void {
    // Only the connection's first file (seq 0) is dated by its start; a resumed
    // connection's next file is dated by its own start, like every later file.
    const first = this.filesMade === 0 && this.nextSeq === 0;
    const info: ArchiveFileInfo = { uuid: this.uuid, path: "", seq: this.nextSeq, openedAt: nowMs, closedAt: null, records: 0, bytes: 0 };
    this.segment = { info, dateMs: first ? this.startMs : nowMs, created: false, frames: 0 };
    this.rotateAt = this.nextBoundary(nowMs);
  }

  private nextBoundary(nowMs: number): number {
    const period = this.ctx.rotateMs;
    if (!(period > 0) || period === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    const elapsed = Math.max(0, nowMs - this.startMs);
    return this.startMs + (Math.floor(elapsed / period) + 1) * period;
  }

  /**
   * A rotation boundary has passed. With nothing buffered the current file simply ends.
   * Otherwise the buffered lines still belong to it: they are marked off and written by
   * the next flush (due now, within the manager's budget), never here, so thousands of
   * connections rotating in the same cycle cannot stall the caller.
   */
  private rotate(nowMs: number): void {
    if (this.rotateSplit >= 0) return;
    if (this.pending.length === 0) {
      this.endSegment(nowMs);
      return;
    }
    this.rotateSplit = this.pending.length;
    this.rotateTime = nowMs;
    this.ctx.scheduler.dueNow(this);
  }

  /**
   * Writes the lines buffered before a rotation boundary to the file they belong to and
   * ends it; the lines after the boundary stay buffered for the next file. False if the
   * write failed (everything stays buffered, nothing is lost).
   */
  private flushRotated(nowMs: number): boolean {
    if (this.segment === null) {
      this.rotateSplit = -1;
      return true;
    }
    const rest = this.pending.splice(this.rotateSplit);
    let restBytes = 0;
    for (const l of rest) restBytes += l.length + 1;
    this.pendingBytesCount -= restBytes;
    const seg = this.segment!;
    const n = this.pending.length;
    const ok = n === 0 || (seg.created ? this.appendFrame(seg, nowMs) : this.createFile(seg, nowMs));
    const c = this.ctx.counters;
    if (!ok) {
      for (const l of rest) this.pending.push(l);
      this.pendingBytesCount += restBytes;
      return false;
    }
    if (n > 0) {
      seg.info.records += n;
      c.recordsWritten += n;
      c.flushes++;
      c.pendingRecords -= n;
      c.pendingBytes -= this.pendingBytesCount;
      this.ctx.scheduler.fileChanged(seg.info);
    }
    this.endSegment(this.rotateTime);
    this.pending = rest.length > 0 ? rest : NO_LINES;
    this.pendingBytesCount = restBytes;
    this.rotateSplit = -1;
    if (rest.length > 0) this.beginSegment(this.rotateTime);
    return true;
  }

  /** Leaves the current file: closed (and reported) if it exists, forgotten otherwise. */
  private endSegment(closedAt: number): void {
    const seg = this.segment;
    if (seg === null) return;
    this.segment = null;
    if (!seg.created) return;
    (this.earlierFiles ??= []).push(seg.info);
    seg.info.closedAt = closedAt;
    this.nextSeq = seg.info.seq + 1;
    this.ctx.scheduler.fileChanged(seg.info);
    if (seg.frames >= COMPACT_MIN_FRAMES && seg.info.bytes <= COMPACT_MAX_BYTES) this.ctx.scheduler.ended(seg.info);
  }

  private finish(): void {
    this.endSegment(this.closedAtMs!);
    this.ctx.scheduler.finished(this);
  }

  private createFile(seg: Segment, nowMs: number): boolean {
    const ctx = this.ctx;
    const dir = join(ctx.outputDir, datePath(seg.dateMs));
    try {
      ctx.dirs.ensure(dir);
      for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
        const seq = seg.info.seq;
        const rel = archivePath(this.uuid, seq, seg.dateMs);
        let inBytes = 0;
        let frameBytes = 0;
        const created = createExclusive(join(ctx.outputDir, rel), () => {
          const frame = ctx.compressor.compressLines(encodeMetadata(this.uuid, seq, formatTimeMsNs(this.startMs, this.startSubMs)), this.pending);
          inBytes = ctx.compressor.lastInputBytes;
          frameBytes = frame.byteLength;
          return frame;
        });
        if (created) {
          seg.created = true;
          seg.frames = 1;
          seg.info.path = rel;
          seg.info.bytes = frameBytes;
          this.filesMade++;
          ctx.counters.filesCreated++;
          ctx.counters.bytesWritten += frameBytes;
          ctx.counters.bytesIn += inBytes;
          return true;
        }
        seg.info.seq = seq + 1;
      }
      ctx.counters.error("exists", this.uuid, `no free file name among ${MAX_NAME_ATTEMPTS} sequence numbers`, nowMs);
      return false;
    } catch (e) {
      if (errorCode(e) === "ENOENT") ctx.dirs.forget(dir);
      this.recordError(e, nowMs);
      return false;
    }
  }

  private appendFrame(seg: Segment, nowMs: number): boolean {
    const ctx = this.ctx;
    let inBytes = 0;
    try {
      const written = appendExisting(join(ctx.outputDir, seg.info.path), seg.info.bytes, () => {
        const frame = ctx.compressor.compressLines(null, this.pending);
        inBytes = ctx.compressor.lastInputBytes;
        return frame;
      });
      seg.info.bytes += written;
      seg.frames++;
      ctx.counters.bytesWritten += written;
      ctx.counters.bytesIn += inBytes;
      return true;
    } catch (e) {
      this.recordError(e, nowMs);
      return false;
    }
  }

  /** A write failed (already counted by type): retry later, within the memory bounds. */
  private flushFailed(nowMs: number): false {
    this.ctx.counters.failedFlushes++;
    this.retryAfter = nowMs + this.ctx.retryMs;
    this.ctx.scheduler.failed(this);
    this.enforceBounds(nowMs);
    return false;
  }

  private recordError(e: unknown, nowMs: number): void {
    const message = e instanceof Error ? e.message : String(e);
    this.ctx.counters.error(errorCode(e), this.uuid, message, nowMs);
  }

  /**
   * Drops this writer's oldest buffered lines (counted) while it holds more than
   * maxPendingBytes, or all writers together more than maxTotalPendingBytes. Only reached
   * when writing is failing or waiting out a failure, so what is dropped could not have
   * been written anyway; the global bound makes the writer that pushes memory over the
   * limit pay, which keeps the total within one line of it.
   */
  private enforceBounds(nowMs: number): void {
    const ctx = this.ctx;
    const c = ctx.counters;
    let drop = 0;
    let bytes = 0;
    while (
      drop < this.pending.length &&
      (this.pendingBytesCount - bytes > ctx.maxPendingBytes || c.pendingBytes - bytes > ctx.maxTotalPendingBytes)
    ) {
      bytes += this.pending[drop].length + 1;
      drop++;
    }
    if (drop === 0) return;
    this.pending.splice(0, drop);
    // Dropped lines come off the front, before a pending rotation's boundary.
    if (this.rotateSplit >= 0) this.rotateSplit = Math.max(0, this.rotateSplit - drop);
    this.pendingBytesCount -= bytes;
    c.pendingRecords -= drop;
    c.pendingBytes -= bytes;
    c.lose(drop);
    c.error("dropped", this.uuid, `${drop} buffered lines dropped: writes failing and memory bound reached`, nowMs, drop);
    if (this.pending.length === 0) {
      this.rotateSplit = -1;
      if (this.closedAtMs !== null) this.finish();
      else ctx.scheduler.flushed(this);
    }
  }
}
