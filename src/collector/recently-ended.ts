// What the collector remembers of connections it has ended, so that what the kernel
// still shows of them is never taken for a new connection:
// - a late destroy event, or a dump entry, with the cookie of an ended connection;
// - a timewait entry (an orphaned socket that reached FIN_WAIT2 is replaced by one)
//   under a cookie of its own: the kernel copies the socket's cookie into it only if one
//   had been generated, and cookies are generated lazily, so a socket that no dump ever
//   saw is destroyed under one cookie while its timewait entry shows another. Such an
//   entry is matched by its 4-tuple.
// Entries are kept for `keepMs` (a FIN_WAIT2 timewait lives tcp_fin_timeout, 60 s by
// default) and at most `limit` of each kind, oldest dropped first.
import { DST_ADDR_OFFSET, SRC_ADDR_OFFSET } from "../diag/layouts.ts";
import type { CookieKey } from "../diff/snapshot-cache.ts";

const DEFAULT_KEEP_MS = 120_000;
const DEFAULT_LIMIT = 200_000;

/** TCP states a timewait entry reports (its substate). */
const TCP_FIN_WAIT2 = 5;
const TCP_TIME_WAIT = 6;

/**
 * True for what a timewait entry looks like in a dump: a FIN_WAIT2 or TIME_WAIT state,
 * no owner (inode 0) and no tcp_info (the kernel sends no attributes for one).
 */
export function looksLikeTimewait(buf: Uint8Array, idm: number, hasInfo: boolean): boolean {
  const state = buf[idm + 1];
  if (hasInfo || (state !== TCP_FIN_WAIT2 && state !== TCP_TIME_WAIT)) return false;
  return (buf[idm + 68] | buf[idm + 69] | buf[idm + 70] | buf[idm + 71]) === 0;
}

/** The connection's family, ports and addresses as a Map key (37 chars). */
export function tupleKey(buf: Uint8Array, idm: number): string {
  let s = String.fromCharCode(buf[idm]);
  for (let i = idm + 4; i < idm + SRC_ADDR_OFFSET; i++) s += String.fromCharCode(buf[i]);
  for (let i = idm + SRC_ADDR_OFFSET; i < idm + DST_ADDR_OFFSET + 16; i++) s += String.fromCharCode(buf[i]);
  return s;
}

/** Insertion-ordered keys with the time each was added; old and excess ones fall off the front. */
class ExpiringKeys<K> {
  private readonly at = new Map<K, number>();
  constructor(private readonly keepMs: number, private readonly limit: number) {}

  add(key: K, nowMs: number): void {
    this.at.delete(key);
    this.at.set(key, nowMs);
    this.expire(nowMs);
  }

  has(key: K): boolean {
    return this.at.has(key);
  }

  get size(): number {
    return this.at.size;
  }

  expire(nowMs: number): void {
    for (const [key, t] of this.at) {
      if (this.at.size <= this.limit && nowMs - t < this.keepMs) break;
      this.at.delete(key);
    }
  }
}

export class RecentlyEnded {
  /** Cookies the kernel reported destroyed: nothing under them is ever a connection again. */
  private readonly destroyed: ExpiringKeys<CookieKey>;
  /** Cookies ended otherwise (vanished from the dumps): seen again, they are the same connection. */
  private readonly other: ExpiringKeys<CookieKey>;
  /** 4-tuples of connections ended by a destroy event. */
  private readonly tuples: ExpiringKeys<string>;

  constructor(keepMs = DEFAULT_KEEP_MS, limit = DEFAULT_LIMIT) {
    this.destroyed = new ExpiringKeys(keepMs, limit);
    this.other = new ExpiringKeys(keepMs, limit);
    this.tuples = new ExpiringKeys(keepMs, limit);
  }

  /**
   * A destroy event ended the connection whose final message is at `idm`, in network
   * namespace `netns` (the same 4-tuple may live in two namespaces at once).
   */
  addDestroyed(key: CookieKey, buf: Uint8Array, idm: number, nowMs: number, netns = 0): void {
    this.destroyed.add(key, nowMs);
    this.tuples.add(tupleKey(buf, idm) + netns, nowMs);
  }

  addOther(key: CookieKey, nowMs: number): void {
    this.other.add(key, nowMs);
  }

  wasDestroyed(key: CookieKey): boolean {
    return this.destroyed.has(key);
  }

  /** Ended in any way (a late destroy event for it is not a new connection). */
  has(key: CookieKey): boolean {
    return this.destroyed.has(key) || this.other.has(key);
  }

  tupleDestroyed(buf: Uint8Array, idm: number, netns = 0): boolean {
    return this.tuples.has(tupleKey(buf, idm) + netns);
  }

  /** Drops what has been kept long enough (once per cycle is plenty). */
  expire(nowMs: number): void {
    this.destroyed.expire(nowMs);
    this.other.expire(nowMs);
    this.tuples.expire(nowMs);
  }

  get size(): number {
    return this.destroyed.size + this.other.size + this.tuples.size;
  }
}
