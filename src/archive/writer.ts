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
import type { AttributeIndex } from "../diag/attributes.ts";
import { PendingLines } from "./pending-lines.ts";
import type { RecordTime } from "./time.ts";
import { appendSegmentFrame, createSegmentFile, fileInfo, Segment } from "./segment-file.ts";
import type { ArchiveFileInfo, FlushScheduler as Scheduler, ScheduledWriter, WriterContext as Context } from "./writer-context.ts";

export type { ArchiveFileInfo } from "./writer-context.ts";
export type FlushScheduler = Scheduler<ArchiveWriter>;
export type WriterContext = Context<ArchiveWriter>;

/** Files of fewer frames are left as they are: one frame gains nothing, two little. */
const COMPACT_MIN_FRAMES = 3;
/**
 * Nor are larger files: they come from busy connections, whose frames are already big
 * (so compress well), and rewriting one would hold the writing thread for too long.
 */
const COMPACT_MAX_BYTES = 1 << 20;

/** Past half the memory bound, a connection's lines are written once it holds this many bytes. */
const EARLY_FLUSH_BYTES = 8 * 1024;

export class ArchiveWriter implements ScheduledWriter {
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
  /** Lines waiting for the next flush; null while there are none (most connections, most of the time). */
  private pending: PendingLines | null = null;
  /** After a rotation boundary with lines buffered: how many of them belong to the current file; -1 otherwise. */
  private rotateSplit = -1;
  /** When that boundary was crossed (Unix ms): the current file's close and the next one's open. */
  private rotateTime = 0;
  private closedAtMs: number | null = null;

  /** `firstSeq`: the sequence number of this writer's first file (a resumed connection continues its series). */
  constructor(private readonly ctx: WriterContext, uuid: string, startMs: number, firstSeq = 0, readonly startSubMs = 0) {
    this.uuid = uuid;
    this.startMs = startMs;
    this.nextSeq = firstSeq;
  }

  /** Every file of this connection that exists so far, oldest first (the last may be current); copies. */
  get files(): readonly ArchiveFileInfo[] {
    const current = this.segment?.created ? [this.segment] : [];
    return (this.earlierFiles === null ? current : [...this.earlierFiles, ...current]).map(fileInfo);
  }

  get pendingRecords(): number {
    return this.pending?.count ?? 0;
  }

  get pendingBytes(): number {
    return this.pending?.bytes ?? 0;
  }

  get closed(): boolean {
    return this.closedAtMs !== null;
  }

  /** Buffers one line (no trailing newline) taken at `nowMs`. */
  append(line: string, nowMs: number): void {
    const p = this.prepare(nowMs);
    if (p !== null) this.appended(p.appendText(line), nowMs);
  }

  /** Buffers the snapshot line of the message at `idm` in `msg` (attributes indexed in `attrs`). */
  appendRecord(time: RecordTime, msg: Uint8Array, idm: number, attrs: AttributeIndex, nowMs: number): boolean {
    const p = this.prepare(nowMs);
    if (p === null) return false;
    this.appended(p.appendRecord(time.text, msg, idm, attrs), nowMs);
    return true;
  }

  /** The buffer a line taken at `nowMs` goes to (rotating first if due), or null once closed. */
  private prepare(nowMs: number): PendingLines | null {
    if (this.closedAtMs !== null) {
      const c = this.ctx.counters;
      c.error("closed", this.uuid, "line appended after close; dropped", nowMs);
      c.lose(1, "closed");
      return null;
    }
    if (this.segment !== null && nowMs >= this.rotateAt) this.rotate(nowMs);
    if (this.segment === null) this.beginSegment(nowMs);
    return (this.pending ??= new PendingLines());
  }

  /**
   * Counts a line of `bytes` just buffered and schedules a write when due. A buffer is full
   * once one more line like it might not fit in `flushBytes`: its bytes then stay within
   * a power-of-two buffer of that size instead of spilling into one twice as big. Past
   * half the memory bound, buffers of EARLY_FLUSH_BYTES are written too: a thousand busy
   * connections fill up together, and writing them one line at a time at the bound
   * (below) would cost a file write per line.
   */
  private appended(bytes: number, nowMs: number): void {
    const ctx = this.ctx;
    const c = ctx.counters;
    const mine = this.pending!.bytes;
    c.pendingRecords++;
    c.pendingBytes += bytes;
    if (this.pending!.count === 1) ctx.scheduler.becameDirty(this, nowMs);
    if (c.pendingBytes > ctx.maxTotalPendingBytes) {
      ctx.scheduler.relieve(nowMs);
      if (this.pending === null) return;
    }
    if (c.pendingBytes > ctx.maxTotalPendingBytes) {
      // Memory is still short (writes are failing): write this one now, unless it waits
      // out a failure.
      if (nowMs >= this.retryAfter) this.flush(nowMs);
      else this.enforceBounds(nowMs);
      return;
    }
    const full = mine + 2 * bytes > ctx.flushBytes;
    const early = mine >= EARLY_FLUSH_BYTES && c.pendingBytes > ctx.maxTotalPendingBytes / 2;
    if ((full || early) && nowMs >= this.retryAfter) {
      // A full buffer goes to the front of the queue, written within the manager's time
      // budget: thousands of connections filling up in the same cycle must not stall it.
      ctx.scheduler.dueNow(this);
    } else if (full) {
      this.enforceBounds(nowMs);
    }
  }

  /**
   * Writes every buffered line as one frame. Returns false if the write failed (counted;
   * the lines stay buffered for the next attempt).
   */
  flush(nowMs: number): boolean {
    if (this.rotateSplit >= 0 && !this.flushRotated(nowMs)) return this.flushFailed(nowMs);
    const pending = this.pending;
    if (pending === null || pending.count === 0) {
      if (this.closedAtMs !== null) this.finish();
      else this.ctx.scheduler.flushed(this);
      return true;
    }
    if (this.segment === null) this.beginSegment(nowMs);
    const seg = this.segment!;
    if (!this.writeFrame(seg, pending.view(), nowMs)) return this.flushFailed(nowMs);
    const c = this.ctx.counters;
    const n = pending.count;
    seg.records += n;
    c.recordsWritten += n;
    c.flushes++;
    c.pendingRecords -= n;
    c.pendingBytes -= pending.bytes;
    pending.clear();
    this.pending = null;
    this.retryAfter = Number.NEGATIVE_INFINITY;
    this.ctx.scheduler.fileChanged(seg);
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
    if (this.pendingRecords === 0) this.finish();
    else this.ctx.scheduler.dueNow(this);
  }

  /**
   * The connection ended: flushes and closes the current file. Returns false if lines are
   * still buffered because the flush failed; the scheduler retries them (into this file).
   */
  close(nowMs: number): boolean {
    if (this.closedAtMs !== null) return this.pendingRecords === 0;
    this.closedAtMs = nowMs;
    if (this.pendingRecords === 0) {
      this.finish();
      return true;
    }
    return this.flush(nowMs);
  }

  private beginSegment(nowMs: number): void {
    // Only the connection's first file (seq 0) is dated by its start; a resumed
    // connection's next file is dated by its own start, like every later file.
    const first = this.filesMade === 0 && this.nextSeq === 0;
    this.segment = new Segment(this.uuid, this.nextSeq, nowMs, first ? this.startMs : nowMs);
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
    if (this.pendingRecords === 0) {
      this.endSegment(nowMs);
      return;
    }
    this.rotateSplit = this.pendingRecords;
    this.rotateTime = nowMs;
    this.ctx.scheduler.dueNow(this);
  }

  /**
   * Writes the lines buffered before a rotation boundary to the file they belong to and
   * ends it; the lines after the boundary stay buffered for the next file. False if the
   * write failed (everything stays buffered, nothing is lost).
   */
  private flushRotated(nowMs: number): boolean {
    const pending = this.pending;
    if (this.segment === null || pending === null) {
      this.rotateSplit = -1;
      return true;
    }
    const seg = this.segment;
    const n = this.rotateSplit;
    if (n > 0 && !this.writeFrame(seg, pending.view(n), nowMs)) return false;
    if (n > 0) {
      const c = this.ctx.counters;
      seg.records += n;
      c.recordsWritten += n;
      c.flushes++;
      c.pendingRecords -= n;
      c.pendingBytes -= pending.dropFirst(n);
      this.ctx.scheduler.fileChanged(seg);
    }
    this.endSegment(this.rotateTime);
    this.rotateSplit = -1;
    if (pending.count > 0) this.beginSegment(this.rotateTime);
    else this.pending = null;
    return true;
  }

  /** Leaves the current file: closed (and reported) if it exists, forgotten otherwise. */
  private endSegment(closedAt: number): void {
    const seg = this.segment;
    if (seg === null) return;
    this.segment = null;
    if (!seg.created) return;
    (this.earlierFiles ??= []).push(seg);
    seg.closedAt = closedAt;
    this.nextSeq = seg.seq + 1;
    this.ctx.scheduler.fileChanged(seg);
    if (seg.frames >= COMPACT_MIN_FRAMES && seg.bytes <= COMPACT_MAX_BYTES) this.ctx.scheduler.ended(seg);
  }

  private finish(): void {
    this.endSegment(this.closedAtMs!);
    this.ctx.scheduler.finished(this);
  }

  /** The file's first frame (with its Metadata line) or one more frame of it. */
  private writeFrame(seg: Segment, body: Uint8Array, nowMs: number): boolean {
    if (seg.created) return appendSegmentFrame(this.ctx, this.uuid, seg, body, nowMs);
    if (!createSegmentFile(this.ctx, this, seg, body, nowMs)) return false;
    this.filesMade++;
    return true;
  }

  /** A write failed (already counted by type): retry later, within the memory bounds. */
  private flushFailed(nowMs: number): false {
    this.ctx.counters.failedFlushes++;
    this.retryAfter = nowMs + this.ctx.retryMs;
    this.ctx.scheduler.failed(this);
    this.enforceBounds(nowMs);
    return false;
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
    const pending = this.pending;
    if (pending === null) return;
    let drop = 0;
    let bytes = 0;
    while (drop < pending.count && (pending.bytes - bytes > ctx.maxPendingBytes || c.pendingBytes - bytes > ctx.maxTotalPendingBytes)) {
      drop++;
      bytes = pending.bytesOf(drop);
    }
    if (drop === 0) return;
    pending.dropFirst(drop);
    // Dropped lines come off the front, before a pending rotation's boundary.
    if (this.rotateSplit >= 0) this.rotateSplit = Math.max(0, this.rotateSplit - drop);
    c.pendingRecords -= drop;
    c.pendingBytes -= bytes;
    c.lose(drop);
    c.error("dropped", this.uuid, `${drop} buffered lines dropped: writes failing and memory bound reached`, nowMs, drop);
    if (pending.count === 0) {
      this.pending = null;
      this.rotateSplit = -1;
      if (this.closedAtMs !== null) this.finish();
      else ctx.scheduler.flushed(this);
    }
  }
}
