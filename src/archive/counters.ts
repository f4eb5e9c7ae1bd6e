// Counters of the archive writers, read by the metrics layer. M-Lab's names for the ones
// it has: filesCreated is tcpinfo_new_file_total, errors feed tcpinfo_error_total{type}.

export interface ArchiveErrorInfo {
  /** errno name ("EACCES", "ENOSPC", …) or one of ours: "dropped", "closed", "exists", "compress", "io". */
  type: string;
  message: string;
  /** Unix ms. */
  at: number;
  uuid: string;
}

export class ArchiveCounters {
  filesCreated = 0;
  /** Snapshot lines written (Metadata lines not counted). */
  recordsWritten = 0;
  /** Compressed bytes written to disk. */
  bytesWritten = 0;
  /** Uncompressed bytes those frames hold (Metadata lines included). */
  bytesIn = 0;
  /** Frames written (one per successful flush). */
  flushes = 0;
  /** Flush attempts that failed and left their lines buffered. */
  failedFlushes = 0;
  /** Lines that will never reach their file (given up after failed writes, or unwritten at shutdown). */
  droppedRecords = 0;
  /** The same lines by the reason their writes failed (an errno name, or "closed"). */
  readonly lostByReason: Record<string, number> = {};
  /** Finished files rewritten as one frame, and the bytes that saved. */
  compactedFiles = 0;
  compactedBytesSaved = 0;
  /** Lines waiting in memory across all writers, and their bytes. */
  pendingRecords = 0;
  pendingBytes = 0;
  readonly errors: Record<string, number> = {};
  lastError: ArchiveErrorInfo | null = null;

  /** The type of the last failed write (not of our own bookkeeping errors): why lines are being lost. */
  private lastWriteError = "unknown";

  error(type: string, uuid: string, message: string, at: number, count = 1): void {
    this.errors[type] = (this.errors[type] ?? 0) + count;
    this.lastError = { type, message, at, uuid };
    if (type !== "dropped" && type !== "closed" && type !== "compact") this.lastWriteError = type;
  }

  /** `count` lines will never reach their file; the reason is the last write error, if any. */
  lose(count: number, reason = this.lastWriteError): void {
    if (count <= 0) return;
    this.droppedRecords += count;
    this.lostByReason[reason] = (this.lostByReason[reason] ?? 0) + count;
  }

  /** A copy, safe to hand out. */
  snapshot(): ArchiveCountersSnapshot {
    return {
      filesCreated: this.filesCreated,
      recordsWritten: this.recordsWritten,
      bytesWritten: this.bytesWritten,
      bytesIn: this.bytesIn,
      flushes: this.flushes,
      failedFlushes: this.failedFlushes,
      droppedRecords: this.droppedRecords,
      lostByReason: { ...this.lostByReason },
      compactedFiles: this.compactedFiles,
      compactedBytesSaved: this.compactedBytesSaved,
      pendingRecords: this.pendingRecords,
      pendingBytes: this.pendingBytes,
      errors: { ...this.errors },
      lastError: this.lastError,
    };
  }
}

export interface ArchiveCountersSnapshot {
  filesCreated: number;
  recordsWritten: number;
  bytesWritten: number;
  bytesIn: number;
  flushes: number;
  failedFlushes: number;
  droppedRecords: number;
  lostByReason: Record<string, number>;
  compactedFiles: number;
  compactedBytesSaved: number;
  pendingRecords: number;
  pendingBytes: number;
  errors: Record<string, number>;
  lastError: ArchiveErrorInfo | null;
}
