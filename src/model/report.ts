// The model the layers share: what one poll cycle of the collector reports to those
// that record it (the SQLite index, the eventsocket, metrics), and an archive file as
// the index records it. Plain data, owned by no layer: every layer may import it.
import type { Endpoint } from "../diag/snapshot.ts";

/**
 * How a connection ended: a destroy event, missing from the dumps (`vanished`), found
 * gone when the collector restarted (`restart`), or its network namespace went away while
 * it was tracked (`netns_gone`). `shutdown` is only in indexes written by versions that
 * ended live connections when the collector stopped.
 */
export type EndReason = "destroy" | "vanished" | "shutdown" | "restart" | "netns_gone";

/**
 * The network namespace a connection lives in. `inode` identifies it on the host (the
 * number in a /proc/PID/ns/net link, "net:[N]"); the names are found where they can be.
 */
export interface NetnsIdentity {
  inode: number;
  /** Its name under /var/run/netns (what `ip netns` shows). */
  name?: string;
  /** Container id (docker, containerd, cri-o) of a process in it, from its cgroup path. */
  container?: string;
  /** Kubernetes pod UID of a process in it, from its cgroup path. */
  pod?: string;
}

/** A connection seen for the first time (by a dump or by a destroy event). */
export interface OpenedConnection {
  uuid: string;
  cookie: bigint;
  family: 4 | 6;
  src: Endpoint;
  dst: Endpoint;
  interface: number;
  uid: number;
  inode: number;
  /** Unix ms when first seen. */
  firstSeen: number;
  /** Nanoseconds of that time below the millisecond (0..999999): events carry it exact. */
  firstSeenSubMs?: number;
  /** TCP state number (see diag/constants TCP_STATES). */
  state: number;
  /** Set when the connection was left open by an earlier run of the collector and continues now. */
  resumed?: boolean;
  /** The network namespace it was seen in. */
  netns?: NetnsIdentity;
}

/** Counters of a connection as of its latest archived snapshot. */
export interface ConnectionProgress {
  uuid: string;
  /** Unix ms of the latest archived snapshot. */
  lastSeen: number;
  state: number;
  /** From tcp_info; null when the snapshot had no tcp_info or a too-short one. */
  bytesSent: bigint | null;
  bytesReceived: bigint | null;
  bytesAcked: bigint | null;
  /** Snapshots archived so far for this connection (cumulative). */
  snapshots: number;
}

export interface ClosedConnection extends ConnectionProgress {
  /** Unix ms when the collector ended the connection. */
  closedAt: number;
  /** Nanoseconds of that time below the millisecond. */
  closedAtSubMs?: number;
  reason: EndReason;
}

/** An archive file of one connection, `path` relative to the output folder. */
export interface ArchiveFile {
  uuid: string;
  /** Relative to the output folder; "" until the file exists on disk. */
  path: string;
  seq: number;
  /** Unix ms when its first line was appended. */
  openedAt: number;
  /** Unix ms when it was rotated away from or the connection closed; null while current. */
  closedAt: number | null;
  /** Snapshot lines written to it (its Metadata line not counted). */
  records: number;
}

/** Everything that happened in one poll cycle, in order: opened before updated before closed. */
export interface CycleReport {
  cycle: number;
  /** Unix ms when the cycle started. */
  time: number;
  opened: OpenedConnection[];
  /** Connections with at least one snapshot archived this cycle (latest values). */
  updated: ConnectionProgress[];
  closed: ClosedConnection[];
  /** Files created or whose record count / closed state changed this cycle. */
  files: ArchiveFile[];
}
