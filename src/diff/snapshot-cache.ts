// What the previous poll saw of every socket, keyed by kernel cookie. Pure state: no I/O.
// Per message it answers "new, significantly changed, or not" by M-Lab's rule: a 64-bit
// digest of the bytes the rule compares (digest.ts) stands for the previous snapshot, so
// an entry is a few numbers and deciding reads only the message just received.
// change-rule.ts is the byte-for-byte reference the tests hold the digest to.
import type { AttributeIndex } from "../diag/attributes.ts";
import { Attr } from "../diag/constants.ts";
import { cookieKey } from "../diag/sock-id.ts";
import type { Bytes } from "./bytes.ts";
import { Change } from "./change-rule.ts";
import { Digest } from "./digest.ts";

export type CookieKey = number | string;

export interface CacheEntry<T> {
  readonly key: CookieKey;
  /** Digest of the last significant snapshot. */
  h1: number;
  h2: number;
  /** Whether that snapshot had tcp_info (M-Lab: without it every snapshot counts). */
  hasInfo: boolean;
  /** The cycle in which the socket was last seen in a dump. */
  seenCycle: number;
  /** Where it came in the last dump order the cache recorded; -1 once deleted. */
  pos: number;
  /** The owner's per-connection state (files, counters...). */
  data: T | undefined;
}

export class SnapshotCache<T> {
  private readonly entries = new Map<CookieKey, CacheEntry<T>>();
  private readonly digest = new Digest();
  private seenThisCycle = 0;
  cycle = 0;
  // The entries in the order the last cycle's dumps gave them, and this cycle's so far.
  // The kernel walks its socket tables in the same order every time, so the socket after
  // the one just seen is usually the entry after it: checked by its key, which skips the
  // hash lookup for most sockets of a quiet host.
  private prevOrder: CacheEntry<T>[] = [];
  private order: CacheEntry<T>[] = [];
  private orderLength = 0;
  private cursor = 0;
  /** The entry touched by the last observe() call (saves returning a tuple). */
  last: CacheEntry<T> | null = null;

  get size(): number {
    return this.entries.size;
  }

  beginCycle(): number {
    const prev = this.prevOrder;
    // Truncated, not emptied: the array keeps its room, and drops its stale entries.
    this.order.length = this.orderLength;
    this.prevOrder = this.order;
    this.order = prev;
    this.orderLength = 0;
    this.cursor = 0;
    this.seenThisCycle = 0;
    return ++this.cycle;
  }

  /**
   * Records that the socket whose inet_diag_msg is at `idm` (attributes up to `end`) was
   * seen, `attrs` being its indexed attributes. Returns Change.First for a new cookie,
   * Change.None when nothing significant changed, else a change. Sets `this.last`.
   */
  observe(buf: Bytes, idm: number, end: number, attrs: AttributeIndex): Change {
    const key = cookieKey(buf.u8, idm);
    const info = attrs.offset[Attr.INFO];
    const d = this.digest;
    d.compute(buf, idm, end, info, info < 0 ? 0 : attrs.length[Attr.INFO]);
    const hasInfo = info >= 0;
    let entry: CacheEntry<T> | undefined = this.prevOrder[this.cursor];
    if (entry === undefined || entry.key !== key || entry.pos < 0) entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { key, h1: d.h1, h2: d.h2, hasInfo, seenCycle: -1, pos: -1, data: undefined };
      this.entries.set(key, entry);
      this.placed(entry);
      this.markSeen(entry);
      this.last = entry;
      return Change.First;
    }
    this.cursor = entry.pos + 1;
    this.placed(entry);
    this.markSeen(entry);
    this.last = entry;
    let change: Change = Change.None;
    if (!hasInfo || !entry.hasInfo) change = Change.NoTcpInfo;
    else if (entry.h1 !== d.h1 || entry.h2 !== d.h2) change = Change.Other;
    if (change !== Change.None) {
      entry.h1 = d.h1;
      entry.h2 = d.h2;
      entry.hasInfo = hasInfo;
    }
    return change;
  }

  delete(entry: CacheEntry<T>): void {
    if (this.entries.get(entry.key) === entry) {
      entry.pos = -1;
      if (entry.seenCycle === this.cycle) this.seenThisCycle--;
      this.entries.delete(entry.key);
    }
  }

  /** True when some cached socket was not seen in this cycle's dump. */
  hasUnseen(): boolean {
    return this.seenThisCycle < this.entries.size;
  }

  /** Entries not seen in this cycle (callers may delete while iterating the result). */
  unseen(): CacheEntry<T>[] {
    const out: CacheEntry<T>[] = [];
    if (!this.hasUnseen()) return out;
    for (const e of this.entries.values()) if (e.seenCycle !== this.cycle) out.push(e);
    return out;
  }

  values(): IterableIterator<CacheEntry<T>> {
    return this.entries.values();
  }

  /** Records the entry's place in this cycle's order. */
  private placed(entry: CacheEntry<T>): void {
    entry.pos = this.orderLength;
    this.order[this.orderLength++] = entry;
  }

  private markSeen(entry: CacheEntry<T>): void {
    if (entry.seenCycle !== this.cycle) {
      entry.seenCycle = this.cycle;
      this.seenThisCycle++;
    }
  }
}
