// The collector's own counters, read by the status line and the metrics exporter.
import type { CollectorError, LargeNetlinkType } from "../model/counted.ts";
import type { EndReason } from "../model/report.ts";
import type { ByteTotals } from "./connection.ts";

export class CollectorStats {
  cycles = 0;
  /** Sockets in the last dump (all, before filtering). */
  sockets = 0;
  snapshots = 0;
  opened = 0;
  closed = 0;
  destroyEvents = 0;
  /** Connections of an earlier run found alive and continued (same UUID, next file). */
  resumed = 0;
  /**
   * Dump entries that were what the kernel keeps of an ended connection (a timewait entry
   * of a destroyed socket, under its cookie or a new one with the same 4-tuple): not archived.
   */
  remnants = 0;
  /** Timewait entries under a cookie of their own that no destroy event matched: archived as connections. */
  timewaitArchived = 0;
  endedBy: Record<EndReason, number> = { destroy: 0, vanished: 0, shutdown: 0, restart: 0, netns_gone: 0 };
  errors = new Map<CollectorError, number>();
  /** Bytes sent and received by archived connections (M-Lab's rate histograms). */
  readonly bytes: ByteTotals = { sent: 0, received: 0 };
  /** Archived snapshots with an attribute longer than the struct we decode, by struct. */
  readonly oversize = new Map<LargeNetlinkType, number>();
  lastError = "";
  /**
   * Sockets of the last dump left out: with a loopback, link-local, multicast or
   * unspecified address (without --include-local), or by --exclude-srcport/--exclude-dstip.
   */
  readonly excluded = { local: 0, byFlags: 0 };
  /** Unix ms of the last completed poll. */
  lastPoll = 0;
  /** Duration of the last poll cycle, ms. */
  lastCycleMs = 0;
  /** Snapshots the archive refused (back-pressure), taken again at the next poll. */
  retakes = 0;
  /** What finding namespaces (--netns all or paths) has cost, apart from the polls. */
  netnsScanSeconds = 0;

  error(type: CollectorError, count = 1): void {
    this.errors.set(type, (this.errors.get(type) ?? 0) + count);
  }

  totalErrors(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }
}
