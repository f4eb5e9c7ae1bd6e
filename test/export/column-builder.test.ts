// A column builder is emptied and filled again for every batch of an export: what a reused
// one hands Arrow must be exactly what a fresh one would, nulls and text included.
import { expect, test } from "bun:test";
import { ColumnBuilder } from "../../src/export/column-builder.ts";

test("a reset number column forgets the previous batch's values and validity", () => {
  const c = new ColumnBuilder({ name: "x", type: "u32", doc: "" }, 8);
  for (let i = 0; i < 20; i++) c.push(i + 1); // grows past its capacity
  expect(c.toVector().toArray()).toEqual(Uint32Array.from({ length: 20 }, (_, i) => i + 1));
  c.reset();
  c.pushNull();
  c.push(5);
  c.pushNull();
  const v = c.toVector();
  expect(v.length).toBe(3);
  expect(v.nullCount).toBe(2);
  expect([v.get(0), v.get(1), v.get(2)]).toEqual([null, 5, null]);
});

test("text: repeats, nulls, multi-byte characters, growth, and a reset", () => {
  const c = new ColumnBuilder({ name: "s", type: "utf8", doc: "" }, 8);
  const first = ["a", "a", "bb", "bb", "bb", "é✓", "é✓", "x".repeat(300), "x".repeat(300), "a"];
  for (const s of first) c.pushString(s);
  expect(c.toVector().toArray()).toEqual(first);
  c.reset();
  const second = ["a", null, "ccc", "ccc", null, "ddd"];
  for (const s of second) s === null ? c.pushNull() : c.pushString(s);
  const v = c.toVector();
  expect(v.nullCount).toBe(2);
  expect(Array.from({ length: v.length }, (_, i) => v.get(i))).toEqual(second);
});

test("nanosecond times: exact without a bigint per row, edges included, and out-of-range ones by the bigint path", () => {
  const c = new ColumnBuilder({ name: "t", type: "timestamp_ns", doc: "" }, 8);
  const cases: [number, number][] = [[0, 0], [1, 999_999_999], [65_535, 999_999_999], [65_536, 0], [1_700_000_000, 123_456_789], [4_294_967_295, 999_999_999], [4_294_967_296, 1], [-1, 5]];
  for (let i = 0; i < 200; i++) cases.push([Math.floor(Math.random() * 2 ** 32), Math.floor(Math.random() * 1e9)]);
  for (const [s, ns] of cases) c.pushNanos(s, ns);
  const got = c.toVector().toArray() as BigInt64Array;
  expect(Array.from(got)).toEqual(cases.map(([s, ns]) => BigInt(s) * 1_000_000_000n + BigInt(ns)));
});

test("C strings: ASCII copied up to the NUL, other bytes decoded to valid UTF-8, mixed with pushString's repeats", () => {
  const c = new ColumnBuilder({ name: "s", type: "utf8", doc: "" }, 8);
  const bytes = (...b: number[]) => Uint8Array.from(b);
  c.pushString("bbr");
  c.pushCString(bytes(0x63, 0x75, 0x62, 0x69, 0x63, 0, 0x7a, 0x7a), 0, 8); // "cubic", NUL, junk after
  c.pushString("bbr");
  c.pushCString(bytes(0x72, 0x65, 0x6e, 0x6f), 0, 4); // no NUL within the attribute
  c.pushCString(bytes(0x78, 0xc3, 0xa9, 0), 0, 4); // "xé"
  c.pushCString(bytes(0x61, 0xff, 0x62, 0), 0, 4); // invalid UTF-8
  c.pushCString(bytes(0x9, 0x64, 0x63, 0x74, 0x63, 0x70, 0), 1, 6); // at an offset
  expect(c.toVector().toArray()).toEqual(["bbr", "cubic", "bbr", "reno", "xé", "a\uFFFDb", "dctcp"]);
});
