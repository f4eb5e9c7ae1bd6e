// The previous poll's snapshot of every socket, keyed by kernel cookie. Pure state:
// no I/O. Per message it answers "new, changed or unchanged" and keeps a private copy
// of the bytes only when they changed, so idle sockets cost no copying.
import { AttributeIndex } from "../diag/attributes.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { cookieKey, readCookie } from "../diag/sock-id.ts";
import { bytesOf, type Bytes } from "./bytes.ts";
import { Change, classifyChange } from "./change-rule.ts";

export type CookieKey = number | string;

export interface CacheEntry<T> {
  readonly key: CookieKey;
  readonly cookie: bigint;
  /** Copy of the last archived-worthy payload: inet_diag_msg at 0, then attributes. */
  store: Bytes;
  /** Valid bytes in `store`. */
  length: number;
  /** The cycle in which the socket was last seen in a dump. */
  seenCycle: number;
  /** The owner's per-connection state (files, counters...). */
  data: T | undefined;
}

export class SnapshotCache<T> {
  private readonly entries = new Map<CookieKey, CacheEntry<T>>();
  private readonly prevAttrs = new AttributeIndex();
  private seenThisCycle = 0;
  cycle = 0;
  /** The entry touched by the last observe() call (saves returning a tuple). */
  last: CacheEntry<T> | null = null;

  get size(): number {
    return this.entries.size;
  }

  beginCycle(): number {
    this.seenThisCycle = 0;
    return ++this.cycle;
  }

  /**
   * Records that the socket whose inet_diag_msg is at `idm` (payload ends at `end`) was
   * seen, `attrs` being its indexed attributes. Returns Change.First for a new cookie,
   * Change.None when nothing significant changed, else the kind of change. The stored
   * copy is updated whenever the result is not None. Sets `this.last`.
   */
  observe(buf: Bytes, idm: number, end: number, attrs: AttributeIndex): Change {
    const key = cookieKey(buf.u8, idm);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { key, cookie: readCookie(buf.u8, idm), store: bytesOf(new Uint8Array(0)), length: 0, seenCycle: -1, data: undefined };
      this.entries.set(key, entry);
      this.markSeen(entry);
      copyInto(entry, buf.u8, idm, end);
      this.last = entry;
      return Change.First;
    }
    this.markSeen(entry);
    this.last = entry;
    this.prevAttrs.index(entry.store.u8, INET_DIAG_MSG_SIZE, entry.length);
    const change = classifyChange(entry.store, 0, this.prevAttrs, buf, idm, attrs);
    if (change !== Change.None) copyInto(entry, buf.u8, idm, end);
    return change;
  }

  get(key: CookieKey): CacheEntry<T> | undefined {
    return this.entries.get(key);
  }

  delete(entry: CacheEntry<T>): void {
    if (this.entries.get(entry.key) === entry) {
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

  private markSeen(entry: CacheEntry<T>): void {
    if (entry.seenCycle !== this.cycle) {
      entry.seenCycle = this.cycle;
      this.seenThisCycle++;
    }
  }
}

/** Copies buf[idm, end) to the entry's store, growing it (in whole words) only when needed. */
function copyInto<T>(entry: CacheEntry<T>, buf: Uint8Array, idm: number, end: number): void {
  const len = end - idm;
  if (entry.store.u8.byteLength < len) entry.store = bytesOf(new Uint8Array((len + 3) & ~3));
  entry.store.u8.set(buf.subarray(idm, end));
  entry.length = len;
}
