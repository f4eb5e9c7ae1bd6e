// What the collector keeps of one connection between polls (beside the change cache's
// digest): its archive handle and the counters of its latest archived snapshot, from
// which the index's progress rows are made.
import type { AttributeIndex } from "../diag/attributes.ts";
import { Attr } from "../diag/constants.ts";
import { TCPI_BYTES_ACKED_OFFSET, TCPI_BYTES_RECEIVED_OFFSET, TCPI_BYTES_SENT_OFFSET } from "../diag/layouts.ts";
import type { ConnectionProgress } from "../model/report.ts";
import type { ArchiveLineSink } from "./archive-sink.ts";
import type { NetnsSlot } from "./netns-slot.ts";

export interface Connection {
  ended: boolean;
  uuid: string;
  /** TCP state of the latest archived snapshot. */
  lastState: number;
  /** Byte counters of the latest archived snapshot as u32 halves; hi is -1 when unknown. */
  ackedLo: number;
  ackedHi: number;
  receivedLo: number;
  receivedHi: number;
  sentLo: number;
  sentHi: number;
  writer: ArchiveLineSink;
  snapshots: number;
  /** Unix ms when the socket was first missing from a dump, 0 while present. */
  vanishedAt: number;
  /** The progress epoch in which the connection was last queued for a report. */
  reportedEpoch: number;
  lastArchivedMs: number;
  /** The namespace it lives in; null only for REMNANT. */
  slot: NetnsSlot | null;
  /** Its last snapshot was refused (back-pressure): the next one is a retake. */
  retaking: boolean;
}

/** A connection seen for the first time: no counters known yet. */
export function newConnection(uuid: string, state: number, writer: ArchiveLineSink, snapshots: number, nowMs: number): Connection {
  return {
    ended: false, uuid, lastState: state, ackedLo: 0, ackedHi: -1, receivedLo: 0, receivedHi: -1, sentLo: 0, sentHi: -1,
    writer, snapshots, vanishedAt: 0, reportedEpoch: -1, lastArchivedMs: nowMs, slot: null, retaking: false,
  };
}

/**
 * The cache entry of a kernel remnant of an ended connection (a timewait entry, or a dump
 * entry under a destroyed cookie): seen by the dumps, never archived, never reported.
 */
export const REMNANT: Connection = Object.freeze({ ...newConnection("", 0, { appendRecord: () => true }, 0, 0), ended: true });

function u32le(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** Bytes sent and received by all connections together, as M-Lab's rate histograms count them. */
export interface ByteTotals {
  sent: number;
  received: number;
}

/** How far a u64 counter (as u32 halves; hi -1 when unknown) moved: from 0 when it was unknown. */
function moved(lo: number, hi: number, oldLo: number, oldHi: number): number {
  if (hi < 0) return 0;
  const now = hi * 2 ** 32 + lo;
  const before = oldHi < 0 ? 0 : oldHi * 2 ** 32 + oldLo;
  return now > before ? now - before : 0;
}

/**
 * Keeps the archived snapshot's state and byte counters (message at `idm`, attributes
 * indexed in `attrs`), and adds how far bytes sent and received moved to `totals` (a new
 * connection's from 0, as M-Lab counts them).
 */
export function noteCounters(conn: Connection, buf: Uint8Array, idm: number, attrs: AttributeIndex, totals: ByteTotals): void {
  const { receivedLo, receivedHi, sentLo, sentHi } = conn;
  conn.lastState = buf[idm + 1];
  const info = attrs.offset[Attr.INFO];
  const len = info < 0 ? 0 : attrs.length[Attr.INFO];
  const has = (off: number) => len >= off + 8;
  conn.ackedLo = has(TCPI_BYTES_ACKED_OFFSET) ? u32le(buf, info + TCPI_BYTES_ACKED_OFFSET) : 0;
  conn.ackedHi = has(TCPI_BYTES_ACKED_OFFSET) ? u32le(buf, info + TCPI_BYTES_ACKED_OFFSET + 4) : -1;
  conn.receivedLo = has(TCPI_BYTES_RECEIVED_OFFSET) ? u32le(buf, info + TCPI_BYTES_RECEIVED_OFFSET) : 0;
  conn.receivedHi = has(TCPI_BYTES_RECEIVED_OFFSET) ? u32le(buf, info + TCPI_BYTES_RECEIVED_OFFSET + 4) : -1;
  conn.sentLo = has(TCPI_BYTES_SENT_OFFSET) ? u32le(buf, info + TCPI_BYTES_SENT_OFFSET) : 0;
  conn.sentHi = has(TCPI_BYTES_SENT_OFFSET) ? u32le(buf, info + TCPI_BYTES_SENT_OFFSET + 4) : -1;
  totals.sent += moved(conn.sentLo, conn.sentHi, sentLo, sentHi);
  totals.received += moved(conn.receivedLo, conn.receivedHi, receivedLo, receivedHi);
}

/** The connection's counters as of its latest archived snapshot. */
export function progressOf(conn: Connection): ConnectionProgress {
  const u64 = (lo: number, hi: number): bigint | null => (hi < 0 ? null : (BigInt(hi) << 32n) | BigInt(lo));
  return {
    uuid: conn.uuid,
    lastSeen: conn.lastArchivedMs,
    state: conn.lastState,
    bytesAcked: u64(conn.ackedLo, conn.ackedHi),
    bytesReceived: u64(conn.receivedLo, conn.receivedHi),
    bytesSent: u64(conn.sentLo, conn.sentHi),
    snapshots: conn.snapshots,
  };
}
