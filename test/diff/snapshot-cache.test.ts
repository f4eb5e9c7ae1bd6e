// The cache finds each socket's entry whatever the dump's order: the entry after the last
// one seen is tried first (the kernel's order rarely changes), and must never stand in
// for another socket, or for a deleted entry whose cookie comes back.
import { expect, test } from "bun:test";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { COOKIE_OFFSET, INET_DIAG_MSG_SIZE, TCPI_PMTU_OFFSET } from "../../src/diag/layouts.ts";
import { newSplitState, splitMessages } from "../../src/diag/netlink-messages.ts";
import { bytesOf } from "../../src/diff/bytes.ts";
import { Change } from "../../src/diff/change-rule.ts";
import { SnapshotCache } from "../../src/diff/snapshot-cache.ts";
import { rawMessages } from "../helpers/testdata.ts";

/** Recorded payloads (inet_diag_msg + attributes) with tcp_info, each given cookie `i + 1`. */
function sockets(n: number): Uint8Array[] {
  const raw = rawMessages();
  const out: Uint8Array[] = [];
  const attrs = new AttributeIndex();
  splitMessages(
    raw,
    raw.byteLength,
    (b, off, len) => {
      const p = b.slice(off + NLMSG_HDRLEN, off + len);
      if (out.length < n && attrs.index(p, INET_DIAG_MSG_SIZE, p.byteLength) && attrs.offset[Attr.INFO] >= 0) out.push(p);
    },
    newSplitState(),
  );
  expect(out.length).toBe(n);
  out.forEach((p, i) => {
    p.fill(0, COOKIE_OFFSET, COOKIE_OFFSET + 8);
    p[COOKIE_OFFSET] = i + 1;
  });
  return out;
}

/** One cycle over `order` (indexes into `socks`): each observation's change and the id its entry carries. */
function cycle(cache: SnapshotCache<number>, socks: Uint8Array[], order: number[]): [number, Change, number | undefined][] {
  cache.beginCycle();
  const attrs = new AttributeIndex();
  return order.map((i) => {
    const b = bytesOf(socks[i]);
    attrs.index(b.u8, INET_DIAG_MSG_SIZE, b.u8.byteLength);
    const change = cache.observe(b, 0, b.u8.byteLength, attrs);
    const e = cache.last!;
    const id = e.data;
    e.data ??= i;
    return [i, change, id];
  });
}

test("each socket gets its own entry when the dump's order changes, sockets come and a deleted cookie returns", () => {
  const socks = sockets(7);
  const cache = new SnapshotCache<number>();
  expect(cycle(cache, socks, [0, 1, 2, 3, 4])).toEqual([0, 1, 2, 3, 4].map((i) => [i, Change.First, undefined]));
  // The same order: every prediction holds.
  expect(cycle(cache, socks, [0, 1, 2, 3, 4])).toEqual([0, 1, 2, 3, 4].map((i) => [i, Change.None, i]));
  // A new socket in the middle, two swapped, one missing.
  expect(cycle(cache, socks, [0, 5, 1, 3, 2])).toEqual([
    [0, Change.None, 0],
    [5, Change.First, undefined],
    [1, Change.None, 1],
    [3, Change.None, 3],
    [2, Change.None, 2],
  ]);
  // Socket 3 ends (its entry deleted), then its cookie is seen again in its old place
  // (a timewait entry inheriting it): a new entry, never the deleted one.
  const gone = cycle(cache, socks, [0, 5, 1, 3, 2])[3];
  expect(gone).toEqual([3, Change.None, 3]);
  const entry = [...cache.values()].find((e) => e.data === 3)!;
  cache.delete(entry);
  expect(cycle(cache, socks, [0, 5, 1, 3, 2, 6])).toEqual([
    [0, Change.None, 0],
    [5, Change.None, 5],
    [1, Change.None, 1],
    [3, Change.First, undefined],
    [2, Change.None, 2],
    [6, Change.First, undefined],
  ]);
  // A change to one socket's counters is that socket's alone.
  const attrs = new AttributeIndex();
  attrs.index(socks[1], INET_DIAG_MSG_SIZE, socks[1].byteLength);
  socks[1][attrs.offset[Attr.INFO] + TCPI_PMTU_OFFSET + 8] ^= 0xff;
  expect(cycle(cache, socks, [0, 5, 1, 3, 2, 6]).map(([i, c, id]) => [i, c === Change.None, id])).toEqual([
    [0, true, 0],
    [5, true, 5],
    [1, false, 1],
    [3, true, 3],
    [2, true, 2],
    [6, true, 6],
  ]);
  expect(cache.size).toBe(7);
});
