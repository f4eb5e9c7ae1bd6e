// The previous poll's snapshot of every socket, keyed by kernel cookie. Pure state:
// no I/O. Per message it answers "new, changed or unchanged" and keeps a private copy
// of the bytes only when they changed, so idle sockets cost no copying. Copies live in
// shared slab chunks; each entry remembers its copy's layout, so deciding needs no
// re-reading of the old copy's attributes.
import { AttributeIndex } from "../diag/attributes.ts";
import { Attr } from "../diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { cookieKey, readCookie } from "../diag/sock-id.ts";
import type { Bytes } from "./bytes.ts";
import { Change, classifyChange, classifyKnownLayout, LAYOUT_CHANGED, type KnownLayout } from "./change-rule.ts";
import { SlabAllocator, type SlabSlot } from "./slab.ts";

export type CookieKey = number | string;

export interface CacheEntry<T> extends SlabSlot, KnownLayout {
  readonly key: CookieKey;
  readonly cookie: bigint;
  /** The cycle in which the socket was last seen in a dump. */
  seenCycle: number;
  /** The owner's per-connection state (files, counters...). */
  data: T | undefined;
}

export class SnapshotCache<T> {
  private readonly entries = new Map<CookieKey, CacheEntry<T>>();
  private readonly slab = new SlabAllocator();
  private readonly prevAttrs = new AttributeIndex();
  private seenThisCycle = 0;
  cycle = 0;
  /** The entry touched by the last observe() call (saves returning a tuple). */
  last: CacheEntry<T> | null = null;

  get size(): number {
    return this.entries.size;
  }

  /** Bytes reserved for snapshot copies. */
  get reservedBytes(): number {
    return this.slab.reserved;
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
      entry = {
        key,
        cookie: readCookie(buf.u8, idm),
        chunk: buf,
        offset: 0,
        capacity: 0,
        slot: -1,
        length: 0,
        infoRel: -1,
        infoLen: 0,
        maxType: -1,
        seenCycle: -1,
        data: undefined,
      };
      this.entries.set(key, entry);
      this.markSeen(entry);
      this.store(entry, buf, idm, end, attrs);
      this.last = entry;
      return Change.First;
    }
    this.markSeen(entry);
    this.last = entry;
    let change = classifyKnownLayout(entry.chunk, entry.offset, entry, buf, idm, end - idm, attrs);
    if (change === LAYOUT_CHANGED) {
      this.prevAttrs.index(entry.chunk.u8, entry.offset + INET_DIAG_MSG_SIZE, entry.offset + entry.length);
      change = classifyChange(entry.chunk, entry.offset, this.prevAttrs, buf, idm, attrs);
    }
    if (change !== Change.None) this.store(entry, buf, idm, end, attrs);
    return change;
  }

  get(key: CookieKey): CacheEntry<T> | undefined {
    return this.entries.get(key);
  }

  delete(entry: CacheEntry<T>): void {
    if (this.entries.get(entry.key) === entry) {
      if (entry.seenCycle === this.cycle) this.seenThisCycle--;
      this.entries.delete(entry.key);
      this.slab.free(entry);
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

  /** Copies buf[idm, end) into the entry's slot (a bigger one if needed) and notes its layout. */
  private store(entry: CacheEntry<T>, buf: Bytes, idm: number, end: number, attrs: AttributeIndex): void {
    const len = end - idm;
    if (entry.capacity < len) {
      this.slab.free(entry);
      this.slab.alloc(entry, len);
    }
    const src = buf.u32;
    const dst = entry.chunk.u32;
    const from = buf.u8.byteOffset + idm;
    const to = entry.chunk.u8.byteOffset + entry.offset;
    if (src !== null && dst !== null && ((from | to | len) & 3) === 0) {
      // Word copy: no subarray view to allocate, a quarter of the iterations.
      const s = from >>> 2;
      const d = to >>> 2;
      for (let i = 0, n = len >>> 2; i < n; i++) dst[d + i] = src[s + i];
    } else {
      entry.chunk.u8.set(buf.u8.subarray(idm, end), entry.offset);
    }
    entry.length = len;
    const info = attrs.offset[Attr.INFO];
    entry.infoRel = info < 0 ? -1 : info - idm;
    entry.infoLen = info < 0 ? 0 : attrs.length[Attr.INFO];
    entry.maxType = attrs.maxType;
  }
}
