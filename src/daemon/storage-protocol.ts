// Messages between the poll thread and the storage worker, which owns every file write
// (archives) and every index write, so a slow or full disk never delays a poll.
// Per cycle the poll thread sends its archive operations as one flat Float64Array and the
// messages of the snapshots it archives, raw, back to back in one buffer, both moved
// (transferred), not copied; each message starts 4-byte aligned (its length rounded up to
// a multiple of 4 before the next), so both sides copy it as words. The worker encodes
// each line (JSON, base64) straight into
// its connection's buffer and hands the message buffer back for reuse: the poll thread
// only dumps, diffs and copies.
import type { ArchiveSetStats } from "../archive/archive-set.ts";
import type { CycleReport, EndReason } from "../model/report.ts";
import type { IndexCounters } from "./index-batcher.ts";
import type { LogLevel } from "./logger.ts";

/** Operation codes in a batch's `ops`, each followed by its operands. */
export const enum Op {
  /** id, startMs, firstSeq, startSubMs, uuid index */
  Open = 1,
  /** id, nowMs, bytes of the message in `lines` (from its inet_diag_msg; the next starts at the next multiple of 4), its time's seconds and nanoseconds */
  Line = 2,
  /** id, nowMs */
  Close = 3,
}

export interface StorageConfig {
  outputDir: string;
  rotateMinutes: number;
  flushMs: number;
  /** Bytes of lines the writers may hold in all (flushed early past it; dropped, counted, while writes fail). */
  maxBufferedBytes: number;
  dbPath: string;
  indexBatchMs: number;
  indexRetentionMs: number;
}

export type ToStorage =
  | { kind: "init"; config: StorageConfig }
  /** `ops` holds `count` numbers (the rest is room); `lines` holds `bytes` bytes. */
  | { kind: "batch"; ops: Float64Array; count: number; uuids: string[]; lines: ArrayBuffer; bytes: number }
  | { kind: "report"; report: CycleReport }
  | { kind: "close-connections"; uuids: string[]; at: number; reason: EndReason }
  | { kind: "shutdown"; boundMs: number }
  | { kind: "force" };

export interface StorageStats {
  /** Line bytes of batches the worker has taken in (the poll thread's back-pressure). */
  acked: number;
  archive: ArchiveSetStats;
  index: IndexCounters;
  /** Reports waiting for the index. */
  pendingReports: number;
}

export type FromStorage =
  | { kind: "ready" }
  | { kind: "failed"; message: string }
  | { kind: "stats"; stats: StorageStats }
  | { kind: "log"; line: string; level: LogLevel }
  /** A batch's buffers, handed back for the next batches (the lines' is empty for a batch without any). */
  | { kind: "recycle"; buffer: ArrayBuffer; ops: ArrayBuffer }
  | { kind: "stopped"; stats: StorageStats };
