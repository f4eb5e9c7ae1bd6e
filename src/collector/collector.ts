// The polling loop: dump every TCP socket, diff against the previous poll by cookie,
// archive significant changes, end connections that were destroyed or vanished, and
// report each cycle to whoever records it (index, eventsocket, metrics).
import { AttributeIndex } from "../diag/attributes.ts";
import { AF_INET, Attr, NLMSG_HDRLEN } from "../diag/constants.ts";
import { INET_DIAG_MSG_SIZE, TCPI_BYTES_ACKED_OFFSET, TCPI_BYTES_RECEIVED_OFFSET, TCPI_BYTES_SENT_OFFSET } from "../diag/layouts.ts";
import { cookieKey, destPort, dstAddress, readCookie, sourcePort, srcAddress } from "../diag/sock-id.ts";
import type { MessageVisitor } from "../diag/netlink-messages.ts";
import { bytesOf, type Bytes } from "../diff/bytes.ts";
import { Change } from "../diff/change-rule.ts";
import { SnapshotCache, type CacheEntry, type CookieKey } from "../diff/snapshot-cache.ts";
import { encodeRecord } from "../archive/record.ts";
import { formatTime } from "../archive/time.ts";
import { makeUuid } from "../archive/naming.ts";
import type { ArchiveSet, ArchiveSetStats } from "../archive/archive-set.ts";
import type { ArchiveWriter } from "../archive/writer.ts";
import { SockDiagDumper } from "./dumper.ts";
import { DestroyListener } from "./destroy-listener.ts";
import { anonymizeNetblock, SocketFilter, type Anonymization, type FilterOptions } from "./filters.ts";
import type { ClosedConnection, ConnectionProgress, CycleReport, EndReason, OpenedConnection } from "./events.ts";
import { CollectorStats } from "./stats.ts";

/** Dump request state mask: every state but SYN_RECV, TIME_WAIT, CLOSE and NEW_SYN_RECV, as M-Lab. */
export const COLLECTOR_STATES = 0xffffffff & ~((1 << 3) | (1 << 6) | (1 << 7) | (1 << 12));

export interface CollectorOptions extends FilterOptions {
  uuidPrefix: string;
  anonymize: Anonymization;
  /** Subscribe to the kernel's TCP destroy events (default true). */
  destroyEvents: boolean;
  /**
   * How long a socket missing from the dumps waits for its destroy event (which carries
   * the final counters) before it is ended as vanished.
   */
  vanishGraceMs: number;
  /** Most time (ms) a poll cycle spends writing archives; the rest waits for idle time. Default: no limit. */
  flushBudgetMs?: number;
  /** Connections still open in the index from a previous run, by cookie. */
  resume?: ReadonlyMap<bigint, ResumeInfo>;
}

export interface ResumeInfo {
  uuid: string;
  startMs: number;
  /** The sequence number the next file of this connection should get. */
  nextSeq: number;
}

interface Connection {
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
  writer: ArchiveWriter;
  snapshots: number;
  /** Unix ms when the socket was first missing from a dump, 0 while present. */
  vanishedAt: number;
  /** Cycle in which this connection was last added to the report's updated list. */
  reportedCycle: number;
  lastArchivedMs: number;
}

const RECENTLY_CLOSED_LIMIT = 100_000;

function u32le(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

export class Collector {
  readonly stats = new CollectorStats();
  private readonly cache = new SnapshotCache<Connection>();
  private readonly attrs = new AttributeIndex();
  private readonly dumper: SockDiagDumper;
  private readonly destroy: DestroyListener | null;
  private readonly rx: Bytes;
  private readonly dx: Bytes | null;
  private readonly filter: SocketFilter;
  /** Cookies ended recently: a late destroy event for one of them is not a new connection. */
  private readonly recentlyClosed = new Map<CookieKey, true>();
  private readonly resume: Map<bigint, ResumeInfo>;
  private readonly notResumed: ResumeInfo[] = [];
  private now = 0;
  private timestamp = "";
  private report: CycleReport;
  private updated: Connection[] = [];

  constructor(private readonly opts: CollectorOptions, private readonly archive: ArchiveSet) {
    this.dumper = new SockDiagDumper(undefined, COLLECTOR_STATES);
    this.rx = bytesOf(this.dumper.buffer);
    this.destroy = opts.destroyEvents ? new DestroyListener() : null;
    this.dx = this.destroy ? bytesOf(this.destroy.buffer) : null;
    this.filter = new SocketFilter(opts);
    this.resume = new Map(opts.resume ?? []);
    this.report = this.emptyReport(0);
  }

  /** The last dump, per address family: the dumper's reused arrays (read, don't keep). */
  get lastDump(): { families: readonly number[]; messages: readonly number[]; seconds: readonly number[] } {
    return { families: this.dumper.families, messages: this.dumper.lastMessages, seconds: this.dumper.lastSeconds };
  }

  archiveStats(): ArchiveSetStats {
    return this.archive.stats();
  }

  /** Connections tracked now (seen and not yet ended). */
  get tracked(): number {
    return this.cache.size;
  }

  /** Connections from `resume` that the first dump did not find (they ended while we were down); taken once. */
  takeUnresumed(): ResumeInfo[] {
    return this.notResumed.splice(0);
  }

  /** One poll cycle at unix time `now` (ms). Returns what happened since the last report. */
  poll(now: number): CycleReport {
    const started = performance.now();
    this.setClock(now);
    const cycle = this.cache.beginCycle();
    this.report.cycle = cycle;
    this.report.time = now;
    this.drainDestroyEvents(now);
    try {
      const r = this.dumper.dump(this.onDumpMessage);
      this.stats.sockets = r.messages;
      if (r.malformed > 0) this.stats.error("malformed_dump", r.malformed);
      this.sweepVanished(now);
    } catch (e) {
      // A failed dump must not end connections: nothing is known about them this cycle.
      this.stats.error("dump_failed");
      this.stats.lastError = (e as Error).message;
      try {
        this.dumper.reset();
      } catch (r) {
        this.stats.lastError = `${(e as Error).message}; reopening the netlink socket failed: ${(r as Error).message}`;
      }
    }
    // Destroy events raised while we dumped: their final snapshots belong to this cycle.
    this.drainDestroyEvents(now);
    // The first dump has shown which connections of a previous run are still alive.
    if (this.resume.size > 0) {
      for (const r of this.resume.values()) this.notResumed.push(r);
      this.resume.clear();
    }
    // Writing gets its budget, or as long as this poll took if that is more: when cycles
    // run late there is no idle time to write in, and a starved backlog would only grow
    // until the memory cap forces unbudgeted writes.
    this.archive.flushDue(now, Math.max(this.opts.flushBudgetMs ?? Number.POSITIVE_INFINITY, performance.now() - started));
    return this.takeReport(now);
  }

  /** Writes due archive lines in idle time between polls, for at most `budgetMs`. */
  flushIdle(now: number, budgetMs: number): number {
    return this.archive.flushDue(now, budgetMs);
  }

  /** Reads queued destroy events between polls, so the kernel's buffer never fills. */
  drainDestroyEvents(now: number): void {
    if (!this.destroy) return;
    this.setClock(now);
    try {
      const r = this.destroy.drain(this.onDestroyMessage);
      this.stats.destroyEvents += r.messages;
      if (r.overruns > 0) this.stats.error("destroy_overrun", r.overruns);
      if (r.malformed > 0) this.stats.error("malformed_destroy", r.malformed);
    } catch (e) {
      this.stats.error("destroy_failed");
      this.stats.lastError = (e as Error).message;
    }
  }

  /** Ends every connection (collector shutdown) and closes sockets. Returns the final report. */
  shutdown(now: number): CycleReport {
    this.setClock(now);
    for (const entry of [...this.cache.values()]) this.end(entry, "shutdown", now);
    this.archive.closeAll(now);
    this.dumper.close();
    this.destroy?.close();
    return this.takeReport(now);
  }

  private setClock(now: number): void {
    if (now !== this.now) {
      this.now = now;
      this.timestamp = formatTime(now);
    }
  }

  /**
   * Checks, filters and (if asked) anonymizes the message at `off`, and indexes its
   * attributes into `this.attrs`. Returns the inet_diag_msg offset, or -1 to skip it.
   */
  private admit(buf: Uint8Array, off: number, len: number): number {
    const idm = off + NLMSG_HDRLEN;
    if (len - NLMSG_HDRLEN < INET_DIAG_MSG_SIZE) {
      this.stats.error("short_message");
      return -1;
    }
    if (!this.filter.accepts(buf, idm)) return -1;
    if (this.opts.anonymize === "netblock") anonymizeNetblock(buf, idm);
    if (!this.attrs.index(buf, idm + INET_DIAG_MSG_SIZE, off + len)) this.stats.error("malformed_attribute");
    return idm;
  }

  // Hot path: called for every socket of every dump.
  private readonly onDumpMessage: MessageVisitor = (buf, off, len) => {
    const idm = this.admit(buf, off, len);
    if (idm < 0) return;
    const change = this.cache.observe(this.rx, idm, off + len, this.attrs);
    const entry = this.cache.last!;
    const conn = entry.data;
    if (conn !== undefined && conn.vanishedAt !== 0) conn.vanishedAt = 0;
    if (change === Change.None) return;
    this.archiveSnapshot(entry, buf, idm);
  };

  private readonly onDestroyMessage: MessageVisitor = (buf, off, len) => {
    // A late event for a connection already ended (as vanished) is not a new connection.
    if (len - NLMSG_HDRLEN >= INET_DIAG_MSG_SIZE && this.recentlyClosed.has(cookieKey(buf, off + NLMSG_HDRLEN))) return;
    const idm = this.admit(buf, off, len);
    if (idm < 0) return;
    const end = off + len;
    this.cache.observe(this.dx!, idm, end, this.attrs);
    const entry = this.cache.last!;
    // The kernel's last word on this socket is always archived.
    this.archiveSnapshot(entry, buf, idm);
    this.end(entry, "destroy", this.now);
  };

  private archiveSnapshot(entry: CacheEntry<Connection>, buf: Uint8Array, idm: number): void {
    let conn = entry.data;
    if (conn === undefined) conn = entry.data = this.open(entry, buf, idm);
    conn.writer.append(encodeRecord(this.timestamp, buf, idm, this.attrs), this.now);
    this.noteCounters(conn, buf, idm);
    conn.snapshots++;
    conn.lastArchivedMs = this.now;
    this.stats.snapshots++;
    if (conn.reportedCycle !== this.report.cycle) {
      conn.reportedCycle = this.report.cycle;
      this.updated.push(conn);
    }
  }

  /** Keeps the archived snapshot's state and byte counters for the index. */
  private noteCounters(conn: Connection, buf: Uint8Array, idm: number): void {
    conn.lastState = buf[idm + 1];
    const info = this.attrs.offset[Attr.INFO];
    const len = info < 0 ? 0 : this.attrs.length[Attr.INFO];
    const has = (off: number) => len >= off + 8;
    conn.ackedLo = has(TCPI_BYTES_ACKED_OFFSET) ? u32le(buf, info + TCPI_BYTES_ACKED_OFFSET) : 0;
    conn.ackedHi = has(TCPI_BYTES_ACKED_OFFSET) ? u32le(buf, info + TCPI_BYTES_ACKED_OFFSET + 4) : -1;
    conn.receivedLo = has(TCPI_BYTES_RECEIVED_OFFSET) ? u32le(buf, info + TCPI_BYTES_RECEIVED_OFFSET) : 0;
    conn.receivedHi = has(TCPI_BYTES_RECEIVED_OFFSET) ? u32le(buf, info + TCPI_BYTES_RECEIVED_OFFSET + 4) : -1;
    conn.sentLo = has(TCPI_BYTES_SENT_OFFSET) ? u32le(buf, info + TCPI_BYTES_SENT_OFFSET) : 0;
    conn.sentHi = has(TCPI_BYTES_SENT_OFFSET) ? u32le(buf, info + TCPI_BYTES_SENT_OFFSET + 4) : -1;
  }

  private open(entry: CacheEntry<Connection>, buf: Uint8Array, idm: number): Connection {
    const family = buf[idm];
    const cookie = readCookie(buf, idm);
    const resumed = this.resume.get(cookie);
    if (resumed) this.resume.delete(cookie);
    const uuid = resumed?.uuid ?? makeUuid(this.opts.uuidPrefix, cookie);
    const startMs = resumed?.startMs ?? this.now;
    const dv = new DataView(buf.buffer, buf.byteOffset + idm, INET_DIAG_MSG_SIZE);
    const info: OpenedConnection = {
      uuid,
      cookie,
      family: family === AF_INET ? 4 : 6,
      src: { ip: srcAddress(family, buf, idm), port: sourcePort(buf, idm) },
      dst: { ip: dstAddress(family, buf, idm), port: destPort(buf, idm) },
      interface: dv.getUint32(40, false),
      uid: dv.getUint32(64, true),
      inode: dv.getUint32(68, true),
      firstSeen: startMs,
      state: buf[idm + 1],
    };
    // A resumed connection continues its sequence; the writer never overwrites a file.
    const writer = this.archive.open(uuid, startMs, resumed?.nextSeq ?? 0);
    this.stats.opened++;
    if (!resumed) this.report.opened.push(info);
    return {
      ended: false,
      uuid,
      lastState: info.state,
      ackedLo: 0,
      ackedHi: -1,
      receivedLo: 0,
      receivedHi: -1,
      sentLo: 0,
      sentHi: -1,
      writer,
      snapshots: 0,
      vanishedAt: 0,
      reportedCycle: -1,
      lastArchivedMs: this.now,
    };
  }

  /** Sockets missing from this dump wait `vanishGraceMs` for a destroy event, then end. */
  private sweepVanished(now: number): void {
    if (!this.cache.hasUnseen()) return;
    const grace = this.destroy ? this.opts.vanishGraceMs : 0;
    for (const entry of this.cache.unseen()) {
      const conn = entry.data;
      if (conn === undefined) {
        this.cache.delete(entry);
        continue;
      }
      if (conn.vanishedAt === 0) conn.vanishedAt = now;
      if (now - conn.vanishedAt >= grace) this.end(entry, "vanished", now);
    }
  }

  private end(entry: CacheEntry<Connection>, reason: EndReason, now: number): void {
    const conn = entry.data;
    this.cache.delete(entry);
    this.recentlyClosed.set(entry.key, true);
    if (this.recentlyClosed.size > RECENTLY_CLOSED_LIMIT) {
      // Map iterates in insertion order: drop the oldest.
      this.recentlyClosed.delete(this.recentlyClosed.keys().next().value!);
    }
    if (conn === undefined) return;
    conn.ended = true;
    this.archive.closeLater(conn.uuid, now);
    this.stats.closed++;
    this.stats.endedBy[reason]++;
    const closed: ClosedConnection = { ...this.progress(conn), closedAt: now, reason };
    this.report.closed.push(closed);
  }

  /** The connection's counters as of its latest archived snapshot. */
  private progress(conn: Connection): ConnectionProgress {
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

  private takeReport(now: number): CycleReport {
    const r = this.report;
    // Ended connections already carry their counters in `closed`.
    for (const conn of this.updated) if (!conn.ended) r.updated.push(this.progress(conn));
    this.updated = [];
    r.files = this.archive.takeFileChanges();
    this.report = this.emptyReport(now);
    return r;
  }

  private emptyReport(now: number): CycleReport {
    return { cycle: this.cache.cycle, time: now, opened: [], updated: [], closed: [], files: [] };
  }
}
