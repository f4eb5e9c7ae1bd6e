// The polling loop: dump every TCP socket, diff against the previous poll by cookie,
// archive significant changes, end connections that were destroyed or vanished, and
// report each cycle to whoever records it (index, eventsocket, metrics).
import { AttributeIndex } from "../diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { cookieKey, readCookie } from "../diag/sock-id.ts";
import type { MessageVisitor } from "../diag/netlink-messages.ts";
import { bytesOf } from "../diff/bytes.ts";
import type { NetnsIdentity } from "../model/report.ts";
import { ownNetnsInode } from "../netns/discover.ts";
import { NetnsSlots } from "./netns-slot.ts";
import { Change } from "../diff/change-rule.ts";
import { SnapshotCache, type CacheEntry } from "../diff/snapshot-cache.ts";
import type { RealTime } from "../ffi/clock.ts";
import { makeUuid } from "../archive/naming.ts";
import type { ArchiveSetStats } from "../archive/archive-set.ts";
import type { ArchiveSink } from "./archive-sink.ts";
import { netlinkSource, type KernelSource } from "./kernel-source.ts";
import { anonymizeNetblock, Rejection, SocketFilter } from "./filters.ts";
import type { CollectorOptions, ResumeInfo } from "./options.ts";

export type { CollectorOptions, ResumeInfo } from "./options.ts";
import type { CycleReport, EndReason } from "../model/report.ts";
import { countOversize } from "./oversize.ts";
import { CollectorStats } from "./stats.ts";
import { newConnection, noteCounters, REMNANT, type Connection } from "./connection.ts";
import { CycleClock } from "./cycle-clock.ts";
import { CycleReporter } from "./cycle-report.ts";
import { ResumeSet } from "./resume-set.ts";
import { HeldTimewaits, type HeldEntry } from "./held-timewaits.ts";
import { describeConnection } from "./describe.ts";
import { looksLikeTimewait, RecentlyEnded } from "./recently-ended.ts";

/**
 * Dump request state mask: the TCP states 0-11 but SYN_RECV, TIME_WAIT and CLOSE (and not
 * NEW_SYN_RECV), as M-Lab. Bit 13 (BOUND_INACTIVE, kernels >= 6.5) stays out too: a
 * socket caught between bind() and connect() would be recorded with no peer for good.
 */
export const COLLECTOR_STATES = 0xfff & ~((1 << 3) | (1 << 6) | (1 << 7));

export class Collector {
  readonly stats = new CollectorStats();
  private readonly cache = new SnapshotCache<Connection>();
  private readonly attrs = new AttributeIndex();
  /** Every network namespace polled, in order. */
  private readonly ns = new NetnsSlots();
  /** Which sockets are archived (local ones, excluded ports and peers). */
  private readonly filter: SocketFilter;
  /** Connections ended recently: what the kernel still shows of them is not a new connection. */
  private readonly ended = new RecentlyEnded();
  private readonly held = new HeldTimewaits();
  private readonly resume: ResumeSet;
  /** The time of this cycle (or of this drain of destroy events). */
  private readonly clock = new CycleClock();
  private readonly report: CycleReporter;

  /**
   * `source`: where the first namespace's kernel messages come from; by default the
   * netlink sockets of this thread's own namespace (a dump of COLLECTOR_STATES, destroy
   * events if opts.destroyEvents); null: none until addNamespace. Tests pass recorded
   * messages. `identity`: that namespace's (default: this thread's own).
   */
  constructor(
    private readonly opts: CollectorOptions,
    private readonly archive: ArchiveSink,
    source?: KernelSource | null,
    identity?: NetnsIdentity,
  ) {
    if (source !== null) {
      const src = source ?? netlinkSource(COLLECTOR_STATES, opts.destroyEvents, opts.dumpTimeoutMs, { netns: null, mode: { perFamily: opts.perFamilyDumps } });
      this.addNamespace(identity ?? { inode: ownNetnsInode() }, src);
    }
    this.filter = new SocketFilter(opts);
    this.resume = new ResumeSet(opts.resume);
    this.report = new CycleReporter(opts.progressEveryMs ?? 0);
  }

  /**
   * The last cycle's dumps summed over namespaces (reused arrays: read, don't keep):
   * messages per address family, seconds per walk (AF_UNSPEC: one walk for every family).
   */
  get lastDump(): { families: readonly number[]; messages: readonly number[]; walks: readonly number[]; seconds: readonly number[] } {
    return this.ns.totals;
  }

  /** Why a dump gave up the one-walk request for one per family (the kernel refused it), if one did. */
  get dumpFallback(): string | null {
    return this.ns.dumpFallback;
  }

  /** Starts polling a network namespace with the next cycle. */
  addNamespace(identity: NetnsIdentity, source: KernelSource): void {
    this.ns.add(identity, source);
  }

  /**
   * The namespace is gone: the next poll reads it one last time (its sockets may still
   * answer), then ends its remaining connections as netns_gone and closes its sockets.
   */
  removeNamespace(inode: number): boolean {
    return this.ns.markGone(inode);
  }

  /** Network namespaces polled now. */
  get namespaceCount(): number {
    return this.ns.count;
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
    return this.resume.takeGone();
  }

  /** One poll cycle at unix time `now` (ms). Returns what happened since the last report. */
  poll(now: number, time?: RealTime): CycleReport {
    const started = performance.now();
    this.clock.set(now, time);
    const cycle = this.cache.beginCycle();
    this.report.begin(cycle, now);
    this.drainDestroyEvents(now);
    this.stats.excluded.local = 0;
    this.stats.excluded.byFlags = 0;
    const { sockets, failed } = this.ns.dumpAll(cycle, this.onDumpMessage, this.stats);
    this.stats.sockets = sockets;
    this.sweepVanished(now, cycle, failed);
    this.ended.expire(now);
    // Destroy events raised while we dumped: their final snapshots belong to this cycle.
    this.drainDestroyEvents(now);
    this.retireGone(now);
    // The first dump has shown which connections of a previous run are still alive.
    this.resume.firstDumpDone();
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
    if (!this.ns.listening) return;
    this.clock.set(now);
    this.ns.drainAll(this.onDestroyMessage, this.stats);
  }

  /** Namespaces found gone: polled one last time this cycle; their connections end as netns_gone. */
  private retireGone(now: number): void {
    this.ns.retireGone((slot) => {
      for (const held of this.held.takeAll(slot)) this.releaseHeld(held, now);
      for (const entry of [...this.cache.values()]) {
        const conn = entry.data;
        if (conn !== undefined && conn !== REMNANT && conn.slot === slot) this.end(entry, "netns_gone", now);
      }
    });
  }

  /**
   * Collector shutdown (all three steps; the daemon runs them apart to bound the time and
   * stay responsive to signals). Returns the final report.
   */
  shutdown(now: number): CycleReport {
    this.beginShutdown(now);
    this.finishWrites(now);
    return this.endShutdown(now);
  }

  /**
   * Shutdown, first step: reads the last destroy events and notes every live connection's
   * latest counters for the index. Live connections are not ended: stopping the collector
   * is not the end of a TCP connection, and the next run resumes them.
   */
  beginShutdown(now: number): void {
    this.drainDestroyEvents(now);
    this.clock.set(now);
    for (const held of this.held.takeAll()) this.releaseHeld(held, now, false);
    for (const entry of this.cache.values()) {
      const conn = entry.data;
      if (conn !== undefined && conn !== REMNANT) this.report.archived(conn);
    }
  }

  /** Shutdown, second step: writes buffered lines and closes files for at most `budgetMs`; returns writers left. */
  finishWrites(now: number, budgetMs = Number.POSITIVE_INFINITY): number {
    return this.archive.closeSome(now, budgetMs);
  }

  /** Shutdown, last step: counts what could not be written as lost, closes the sockets, returns the final report. */
  endShutdown(now: number): CycleReport {
    // Counted in the archive's stats (lost lines by reason), where every account reads it.
    this.archive.abandon();
    this.ns.closeAll();
    return this.takeReport(now, true);
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
    const rejected = this.filter.rejection(buf, idm);
    if (rejected !== Rejection.None) {
      // Why, for the first-poll line.
      if (rejected === Rejection.Local) this.stats.excluded.local++;
      else this.stats.excluded.byFlags++;
      return -1;
    }
    if (this.opts.anonymize === "netblock") anonymizeNetblock(buf, idm);
    if (!this.attrs.index(buf, idm + INET_DIAG_MSG_SIZE, off + len)) this.stats.error("malformed_attribute");
    return idm;
  }

  // Hot path: called for every socket of every dump.
  private readonly onDumpMessage: MessageVisitor = (buf, off, len) => {
    const idm = this.admit(buf, off, len);
    if (idm < 0) return;
    const change = this.cache.observe(this.ns.cur.rx, idm, off + len, this.attrs);
    const entry = this.cache.last!;
    const conn = entry.data;
    if (conn === undefined) {
      this.firstSight(entry, buf, off, len);
      return;
    }
    if (conn.vanishedAt !== 0) conn.vanishedAt = 0;
    if (change === Change.None || conn === REMNANT) return;
    this.archiveSnapshot(entry, buf, idm);
  };

  /**
   * A dump shows a cookie with no connection yet. It is one, unless it is a remnant of a
   * connection a destroy event ended: the same cookie, or a timewait entry with the same
   * 4-tuple. A timewait entry under an unknown cookie waits (vanishGraceMs) for the
   * destroy event of its socket, which the kernel may deliver after the dump shows it.
   */
  private firstSight(entry: CacheEntry<Connection>, buf: Uint8Array, off: number, len: number): void {
    const idm = off + NLMSG_HDRLEN;
    if (this.ended.wasDestroyed(entry.key)) return this.markRemnant(entry);
    if (looksLikeTimewait(buf, idm, this.attrs.offset[Attr.INFO] >= 0)) {
      if (this.ended.tupleDestroyed(buf, idm, this.ns.cur.identity.inode)) return this.markRemnant(entry);
      if (this.ns.cur.destroy) {
        if (this.held.wait(entry.key, buf, off, len, this.ns.cur, this.clock.now, this.opts.vanishGraceMs)) return;
        this.stats.timewaitArchived++;
      }
    }
    this.archiveSnapshot(entry, buf, idm);
  }

  private markRemnant(entry: CacheEntry<Connection>): void {
    entry.data = REMNANT;
    this.held.take(entry.key);
    this.stats.remnants++;
  }

  private readonly onDestroyMessage: MessageVisitor = (buf, off, len) => {
    // A late event for a connection already ended (as vanished) is not a new connection.
    if (len - NLMSG_HDRLEN >= INET_DIAG_MSG_SIZE && this.ended.has(cookieKey(buf, off + NLMSG_HDRLEN))) return;
    const idm = this.admit(buf, off, len);
    if (idm < 0) return;
    const end = off + len;
    this.cache.observe(this.ns.cur.dx!, idm, end, this.attrs);
    const entry = this.cache.last!;
    if (entry.data === REMNANT) return;
    // The kernel's last word on this socket is always archived.
    this.archiveSnapshot(entry, buf, idm);
    this.ended.addDestroyed(entry.key, buf, idm, this.clock.now, this.ns.cur.identity.inode);
    this.end(entry, "destroy", this.clock.now);
  };

  private archiveSnapshot(entry: CacheEntry<Connection>, buf: Uint8Array, idm: number): void {
    let conn = entry.data;
    if (conn === undefined) conn = entry.data = this.open(entry, buf, idm);
    if (!conn.writer.appendRecord(this.clock.stamp, buf, idm, this.attrs, this.clock.now, conn.retaking)) {
      // Dropped (counted by the sink, once): the next poll takes it again even if nothing
      // changed, so an idle connection whose first line fell to back-pressure still gets
      // its archive once the pressure is gone.
      entry.hasInfo = false;
      conn.retaking = true;
      this.stats.retakes++;
      return;
    }
    conn.retaking = false;
    noteCounters(conn, buf, idm, this.attrs, this.stats.bytes);
    countOversize(this.attrs, this.stats.oversize);
    conn.snapshots++;
    conn.lastArchivedMs = this.clock.now;
    this.stats.snapshots++;
    this.report.archived(conn);
  }

  private open(entry: CacheEntry<Connection>, buf: Uint8Array, idm: number): Connection {
    const cookie = readCookie(buf, idm);
    const resumed = this.resume.take(cookie);
    const uuid = resumed?.uuid ?? makeUuid(this.opts.uuidPrefix, cookie);
    const startMs = resumed?.startMs ?? this.clock.now;
    const startSubMs = resumed ? resumed.startSubMs : this.clock.subMs;
    const info = describeConnection(buf, idm, uuid, startMs);
    info.netns = this.ns.cur.identity;
    // A resumed connection continues its sequence; the writer never overwrites a file.
    info.firstSeenSubMs = startSubMs;
    const writer = this.archive.open(uuid, startMs, resumed?.nextSeq ?? 0, startSubMs);
    if (resumed) {
      info.resumed = true;
      this.stats.resumed++;
    } else this.stats.opened++;
    // Resumed ones too: sidecars and the index learn that they are open in this run.
    this.report.opened(info);
    const conn = newConnection(uuid, info.state, writer, resumed?.snapshots ?? 0, this.clock.now);
    conn.slot = this.ns.cur;
    return conn;
  }

  /**
   * Sockets missing from this cycle's dumps wait `vanishGraceMs` for a destroy event, then
   * end. Nothing is concluded about a namespace whose dump failed; entries not yet tied to
   * a namespace (held, remnants) wait for a cycle in which every dump worked.
   */
  private sweepVanished(now: number, cycle: number, anyFailed: boolean): void {
    if (!this.cache.hasUnseen()) return;
    for (const entry of this.cache.unseen()) {
      const conn = entry.data;
      if (anyFailed && (conn === undefined || conn === REMNANT || conn.slot === null || conn.slot.failedCycle === cycle)) continue;
      if (conn === undefined) {
        this.cache.delete(entry);
        const held = this.held.take(entry.key);
        if (held !== undefined) this.releaseHeld(held, now);
        continue;
      }
      if (conn === REMNANT) {
        this.cache.delete(entry);
        continue;
      }
      if (conn.vanishedAt === 0) conn.vanishedAt = now;
      const grace = conn.slot !== null && conn.slot.destroy !== null ? this.opts.vanishGraceMs : 0;
      if (now - conn.vanishedAt >= grace) this.end(entry, "vanished", now);
    }
  }

  /**
   * A held timewait entry (already let go) left the dumps before its grace ran out: a
   * remnant if a destroy event has since ended its 4-tuple, otherwise the only trace of a
   * connection no dump and no destroy event showed, archived from the copy and ended at once.
   */
  private releaseHeld(held: HeldEntry, now: number, end = true): void {
    this.ns.cur = held.slot;
    const buf = held.message;
    const idm = NLMSG_HDRLEN;
    if (this.ended.tupleDestroyed(buf, idm, this.ns.cur.identity.inode)) {
      this.stats.remnants++;
      return;
    }
    this.attrs.index(buf, idm + INET_DIAG_MSG_SIZE, buf.byteLength);
    this.cache.observe(bytesOf(buf), idm, buf.byteLength, this.attrs);
    const entry = this.cache.last!;
    this.stats.timewaitArchived++;
    this.archiveSnapshot(entry, buf, idm);
    if (end) this.end(entry, "vanished", now);
  }

  private end(entry: CacheEntry<Connection>, reason: EndReason, now: number): void {
    const conn = entry.data;
    this.cache.delete(entry);
    this.held.take(entry.key);
    if (reason !== "destroy") this.ended.addOther(entry.key, now);
    if (conn === undefined || conn === REMNANT) return;
    conn.ended = true;
    this.archive.closeLater(conn.uuid, now);
    this.stats.closed++;
    this.stats.endedBy[reason]++;
    this.report.closed(conn, reason, now, now === this.clock.now ? this.clock.subMs : 0);
  }

  private takeReport(now: number, allProgress = false): CycleReport {
    return this.report.take(this.cache.cycle, now, this.archive.takeFileChanges(), allProgress);
  }
}
