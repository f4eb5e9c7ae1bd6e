// What an archive writer is given and whom it tells: the settings and services every
// writer of a set shares, and the scheduler that decides when each one flushes.
import type { ArchiveFile } from "../model/report.ts";
import type { ArchiveCounters } from "./counters.ts";
import type { DirCache } from "./file-io.ts";
import type { FrameCompressor } from "./frame-compressor.ts";

/** One archive file, as the collector reports it (its ArchiveFile). */
export interface ArchiveFileInfo extends ArchiveFile {
  /** Compressed bytes on disk. */
  bytes: number;
}

/** The writer as its scheduler sees it. */
export interface ScheduledWriter {
  readonly uuid: string;
  dueAt: number;
  retryAfter: number;
  readonly pendingBytes: number;
}

/** Told by writers when their buffered lines change, so a manager can schedule flushes. */
export interface FlushScheduler<W extends ScheduledWriter = ScheduledWriter> {
  /** `w`'s lines are due now (it was closed, or its buffer is full), ahead of the timer. */
  dueNow(w: W): void;
  /** A file of several frames is finished: it may be rewritten as one frame. */
  ended(info: ArchiveFileInfo): void;
  /** `w` went from no buffered line to some, at `nowMs`. */
  becameDirty(w: W, nowMs: number): void;
  /** Everything buffered was written. */
  flushed(w: W): void;
  /** A flush failed; lines are still buffered, to be retried at `w.retryAfter`. */
  failed(w: W): void;
  /** A file was created, grew, or closed. */
  fileChanged(info: ArchiveFileInfo): void;
  /** The writer is closed and has nothing buffered: it will never write again. */
  finished(w: W): void;
  /**
   * Memory is past its bound: write the buffers that are due or oldest (the fullest) until
   * it is back under, rather than the one line that crossed it.
   */
  relieve(nowMs: number): void;
}

/** What every writer of a set shares. */
export interface WriterContext<W extends ScheduledWriter = ScheduledWriter> {
  readonly outputDir: string;
  /** 0 or Infinity: never rotate. */
  readonly rotateMs: number;
  /** Flush as soon as this many bytes are buffered. */
  readonly flushBytes: number;
  /** Wait after a failed flush before the next attempt. */
  readonly retryMs: number;
  /** Buffered bytes one writer keeps through failures; older lines are dropped beyond. */
  readonly maxPendingBytes: number;
  /** Buffered bytes all writers together keep; see ArchiveWriter.enforceBounds. */
  readonly maxTotalPendingBytes: number;
  readonly compressor: FrameCompressor;
  readonly dirs: DirCache;
  readonly counters: ArchiveCounters;
  readonly scheduler: FlushScheduler<W>;
}
