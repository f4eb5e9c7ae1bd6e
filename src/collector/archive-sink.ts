// Where the collector's archive lines go: an ArchiveSet in this thread (tests, benches),
// or the daemon's storage worker, which does every file write off the poll thread.
import type { ArchiveSetStats, CloseAllResult } from "../archive/archive-set.ts";
import type { AttributeIndex } from "../diag/attributes.ts";
import type { RecordTime } from "../archive/time.ts";
import type { ArchiveFile } from "../model/report.ts";

/** One connection's archive series. */
export interface ArchiveLineSink {
  /**
   * Buffers the snapshot line of the message whose inet_diag_msg is at `idm` in `msg`
   * (attributes indexed in `attrs`, up to attrs.end), stamped `time`, taken at `nowMs`.
   * The sink encodes it where it keeps it (see encodeRecordInto), or hands the raw
   * message on to be encoded there: no string per line. False: dropped (and counted)
   * without being buffered. `retake`: the same snapshot again after a drop; dropped
   * again, it is not counted twice.
   */
  appendRecord(time: RecordTime, msg: Uint8Array, idm: number, attrs: AttributeIndex, nowMs: number, retake?: boolean): boolean;
}

export interface ArchiveSink {
  /** The series of connection `uuid`, created if needed (`startSubMs`: ns of the start below the ms). */
  open(uuid: string, startMs: number, firstSeq?: number, startSubMs?: number): ArchiveLineSink;
  /** The connection ended: its last lines are written soon, its file closed. */
  closeLater(uuid: string, nowMs: number): void;
  /** Writes (or hands on) what is due, for at most `budgetMs`. */
  flushDue(nowMs: number, budgetMs?: number): number;
  /** Files created, grown or closed since the last call, for the index (none when the index is fed elsewhere). */
  takeFileChanges(): ArchiveFile[];
  stats(): ArchiveSetStats;
  /** Shutdown: closes and writes for at most `budgetMs`; returns what is left. */
  closeSome(nowMs: number, budgetMs?: number): number;
  /** Shutdown: what is still buffered is lost (counted). */
  abandon(): CloseAllResult;
}
