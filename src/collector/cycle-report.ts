// What one cycle reports (connections opened, progressed and closed; files changed),
// built as the cycle runs and handed over whole, with a fresh one begun for the next.
import type { ArchiveFile, ClosedConnection, OpenedConnection, ConnectionProgress, CycleReport, EndReason } from "../model/report.ts";
import { progressOf, type Connection } from "./connection.ts";

/**
 * Connections archived since progress was last reported, each once, reported at most
 * every `everyMs` (0: every cycle) with their latest counters.
 */
export class ProgressQueue {
  private queued: Connection[] = [];
  private epoch = 0;
  private at = Number.NEGATIVE_INFINITY;

  constructor(private readonly everyMs: number) {}

  add(conn: Connection): void {
    if (conn.reportedEpoch !== this.epoch) {
      conn.reportedEpoch = this.epoch;
      this.queued.push(conn);
    }
  }

  /** Appends to `out` the progress of the queued live connections if due (or `all`). */
  takeInto(out: ConnectionProgress[], nowMs: number, all: boolean): void {
    if (!all && nowMs - this.at < this.everyMs) return;
    // Ended connections already carry their counters in their closed entry.
    for (const conn of this.queued) if (!conn.ended) out.push(progressOf(conn));
    this.queued = [];
    this.epoch++;
    this.at = nowMs;
  }
}

export class CycleReporter {
  private report: CycleReport;
  /** Connections archived since the last progress was reported (see progressEveryMs). */
  private readonly progress: ProgressQueue;

  constructor(progressEveryMs: number) {
    this.progress = new ProgressQueue(progressEveryMs);
    this.report = emptyReport(0, 0);
  }

  begin(cycle: number, now: number): void {
    this.report.cycle = cycle;
    this.report.time = now;
  }

  /** A connection seen for the first time in this run (resumed ones too). */
  opened(info: OpenedConnection): void {
    this.report.opened.push(info);
  }

  /** One more snapshot of `conn` archived: its progress goes with a coming report. */
  archived(conn: Connection): void {
    this.progress.add(conn);
  }

  /** `conn` ended at `now` (`subMs`: ns below the ms, 0 when unknown). */
  closed(conn: Connection, reason: EndReason, now: number, subMs: number): void {
    const closed: ClosedConnection = { ...progressOf(conn), closedAt: now, closedAtSubMs: subMs, reason };
    this.report.closed.push(closed);
  }

  /** The report so far, with `files` and the progress due (all of it if `allProgress`); the next begins. */
  take(cycle: number, now: number, files: ArchiveFile[], allProgress: boolean): CycleReport {
    const r = this.report;
    this.progress.takeInto(r.updated, now, allProgress);
    r.files = files;
    this.report = emptyReport(cycle, now);
    return r;
  }
}

function emptyReport(cycle: number, now: number): CycleReport {
  return { cycle, time: now, opened: [], updated: [], closed: [], files: [] };
}
