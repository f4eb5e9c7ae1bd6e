// Timewait entries the dumps show under a cookie of their own, held back for a while: the
// kernel may deliver the destroy event of their socket after the dump shows them, and then
// they are remnants of a connection already archived, not connections of their own.
import type { CookieKey } from "../diff/snapshot-cache.ts";
import type { NetnsSlot } from "./netns-slot.ts";

export interface HeldEntry {
  /** When it was first seen (Unix ms). */
  since: number;
  /** A copy of its message (header included), archived if it turns out to be a connection of its own. */
  message: Uint8Array;
  slot: NetnsSlot;
}

export class HeldTimewaits {
  private readonly held = new Map<CookieKey, HeldEntry>();

  /**
   * The timewait entry `key` (its message at `off`, `len` bytes) is seen at `now`: true
   * while it is held (from its first sight, for `graceMs`), false once that has passed
   * and it is let go.
   */
  wait(key: CookieKey, buf: Uint8Array, off: number, len: number, slot: NetnsSlot, now: number, graceMs: number): boolean {
    const held = this.held.get(key);
    if (held === undefined) {
      this.held.set(key, { since: now, message: buf.slice(off, off + len), slot });
      return true;
    }
    if (now - held.since < graceMs) return true;
    this.held.delete(key);
    return false;
  }

  /** Lets `key` go, returning what was held (undefined if nothing). */
  take(key: CookieKey): HeldEntry | undefined {
    const held = this.held.get(key);
    if (held !== undefined) this.held.delete(key);
    return held;
  }

  /** Lets go of every entry (of namespace `slot` only, if given), returning them. */
  takeAll(slot?: NetnsSlot): HeldEntry[] {
    const out: HeldEntry[] = [];
    for (const [key, held] of this.held) {
      if (slot !== undefined && held.slot !== slot) continue;
      out.push(held);
      this.held.delete(key);
    }
    return out;
  }
}
