// What the collector remembers of ended connections, to tell the kernel's remnants of
// them from new connections.
import { expect, test } from "bun:test";
import { looksLikeTimewait, RecentlyEnded, tupleKey } from "../../src/collector/recently-ended.ts";

/** A 72-byte inet_diag_msg with the given state, ports and IPv4 addresses. */
function idm(state: number, sport: number, dport: number, src: number[], dst: number[], inode = 0): Uint8Array {
  const b = new Uint8Array(72);
  b[0] = 2;
  b[1] = state;
  b[4] = sport >> 8;
  b[5] = sport & 0xff;
  b[6] = dport >> 8;
  b[7] = dport & 0xff;
  b.set(src, 8);
  b.set(dst, 24);
  new DataView(b.buffer).setUint32(68, inode, true);
  return b;
}

test("a timewait entry: FIN_WAIT2 or TIME_WAIT, no owner, no tcp_info", () => {
  expect(looksLikeTimewait(idm(5, 1, 2, [127, 0, 0, 1], [127, 0, 0, 1]), 0, false)).toBe(true);
  expect(looksLikeTimewait(idm(6, 1, 2, [127, 0, 0, 1], [127, 0, 0, 1]), 0, false)).toBe(true);
  // A full socket in FIN_WAIT2 (with tcp_info, or still owned) is not.
  expect(looksLikeTimewait(idm(5, 1, 2, [127, 0, 0, 1], [127, 0, 0, 1]), 0, true)).toBe(false);
  expect(looksLikeTimewait(idm(5, 1, 2, [127, 0, 0, 1], [127, 0, 0, 1], 4242), 0, false)).toBe(false);
  expect(looksLikeTimewait(idm(1, 1, 2, [127, 0, 0, 1], [127, 0, 0, 1]), 0, false)).toBe(false);
});

test("the 4-tuple key tells apart every port and address byte, and the family", () => {
  const base = idm(5, 1000, 2000, [10, 0, 0, 1], [10, 0, 0, 2]);
  const keys = new Set([tupleKey(base, 0)]);
  for (let i = 4; i < 40; i++) {
    const b = base.slice();
    b[i] ^= 1;
    keys.add(tupleKey(b, 0));
  }
  const v6 = base.slice();
  v6[0] = 10;
  keys.add(tupleKey(v6, 0));
  expect(keys.size).toBe(38);
  // The cookie, state and the rest of the message are not part of it.
  const other = base.slice();
  other[1] = 6;
  other[50] = 9;
  expect(tupleKey(other, 0)).toBe(tupleKey(base, 0));
});

test("destroyed cookies and their 4-tuples are remembered for keepMs, vanished ones apart", () => {
  const r = new RecentlyEnded(1000, 100);
  const m = idm(1, 1000, 2000, [10, 0, 0, 1], [10, 0, 0, 2]);
  r.addDestroyed(7, m, 0, 10_000);
  r.addOther("8:1", 10_000);
  expect(r.wasDestroyed(7)).toBe(true);
  expect(r.wasDestroyed("8:1")).toBe(false);
  expect(r.has("8:1")).toBe(true);
  expect(r.tupleDestroyed(idm(5, 1000, 2000, [10, 0, 0, 1], [10, 0, 0, 2]), 0)).toBe(true);
  expect(r.tupleDestroyed(idm(5, 1001, 2000, [10, 0, 0, 1], [10, 0, 0, 2]), 0)).toBe(false);
  // The same 4-tuple in another network namespace is another connection.
  const n = idm(1, 3000, 4000, [10, 0, 0, 1], [10, 0, 0, 2]);
  r.addDestroyed(9, n, 0, 10_000, 4026532001);
  expect(r.tupleDestroyed(idm(5, 3000, 4000, [10, 0, 0, 1], [10, 0, 0, 2]), 0, 4026532001)).toBe(true);
  expect(r.tupleDestroyed(idm(5, 3000, 4000, [10, 0, 0, 1], [10, 0, 0, 2]), 0, 4026532002)).toBe(false);
  r.expire(10_999);
  expect(r.size).toBe(5);
  r.expire(11_000);
  expect(r.size).toBe(0);
  expect(r.has(7)).toBe(false);
});

test("at most `limit` of each kind: the oldest go first", () => {
  const r = new RecentlyEnded(60_000, 3);
  for (let i = 0; i < 5; i++) r.addOther(i, 1000 + i);
  expect([0, 1, 2, 3, 4].map((k) => r.has(k))).toEqual([false, false, true, true, true]);
});
