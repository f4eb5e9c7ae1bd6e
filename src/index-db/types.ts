// What the index stores and answers, as plain data.
import type { EndReason, NetnsIdentity, OpenedConnection } from "../model/report.ts";
import type { Endpoint } from "../diag/snapshot.ts";

export type { EndReason, Endpoint, NetnsIdentity };

/** One row of the connections table: the connection as first seen, and how it went. Times are unix ms. */
export interface ConnectionRecord extends Omit<OpenedConnection, "state" | "netns"> {
  /** Absent when the row has none (written by an older build); only the known fields are present. */
  netns?: NetnsIdentity;
  lastSeen: number;
  /** Null while the connection is open. */
  closedAt: number | null;
  endReason: EndReason | null;
  /** TCP state numbers (diag/constants TCP_STATES). */
  firstState: number;
  lastState: number;
  /** Exact unsigned 64-bit counters from the latest archived snapshot; null if never known. */
  bytesSent: bigint | null;
  bytesReceived: bigint | null;
  bytesAcked: bigint | null;
  snapshots: number;
}

export interface FileRecord {
  /** Relative to the output folder. */
  path: string;
  seq: number;
  openedAt: number;
  closedAt: number | null;
  records: number;
}

export interface ConnectionWithFiles extends ConnectionRecord {
  /** Ordered by seq. */
  files: FileRecord[];
}

/** A connection the index still has open: what a restarted collector needs to resume or end it. */
export interface OpenConnectionInfo {
  uuid: string;
  cookie: bigint;
  firstSeen: number;
  /** Snapshots archived so far, over every run (start-up reconciliation brings it up to its files' records). */
  snapshots: number;
  /** Highest archive file seq recorded for it and that file's path; null if it has no file. */
  highestSeq: number | null;
  highestPath: string | null;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/**
 * A listing query. All fields are optional and combine with AND. Addresses must be in the
 * collector's canonical text form (RFC 5952 for IPv6); src/api's parser canonicalizes.
 */
export interface ConnectionFilter {
  /** Either end's port. */
  port?: number;
  sport?: number;
  dport?: number;
  /** Either end's address. */
  ip?: string;
  src?: string;
  dst?: string;
  state?: "open" | "closed";
  /** The network namespace: its inode (a number), or its /var/run/netns name (a string). */
  netns?: number | string;
  /**
   * A container id, lower-case hex: the full 64 digits, or a prefix of at least 12 (as
   * `docker ps` shows it) matching every id that starts with it.
   */
  container?: string;
  /** A Kubernetes pod UID, lower-case with dashes. */
  pod?: string;
  /**
   * Unix ms. A connection matches when it was alive at some moment of [since, until]:
   * first_seen <= until, and it is still open or closed_at >= since. Either bound alone
   * leaves the other side unbounded.
   */
  since?: number;
  until?: number;
  /** 1..MAX_LIMIT, default DEFAULT_LIMIT. */
  limit?: number;
  /** The `next` of a previous page. */
  cursor?: string;
}

export interface ConnectionPage {
  /** Newest first by first_seen, then uuid (both descending). */
  connections: ConnectionRecord[];
  /** Cursor of the next page, or null when this was the last one. */
  next: string | null;
}

/** What one applyCycle call did. */
export interface ApplyResult {
  /** New rows in connections. */
  inserted: number;
  /** Opened connections already present (seen again after a restart): reopened in place. */
  reopened: number;
  /** updated / closed entries whose uuid the index does not have (nothing was written for them). */
  missing: number;
  /** Wall time of the transaction, seconds. */
  seconds: number;
}
