// A column builder is emptied and filled again for every batch of an export: what a reused
// one hands Arrow must be exactly what a fresh one would, nulls and text included. Every
// column is read back by apache-arrow from the IPC stream the export makes of it.
import { expect, test } from "bun:test";
import { tableFromIPC, type Vector } from "apache-arrow";
import { IpcStreamWriter } from "../../src/export/arrow-ipc.ts";
import { ColumnBuilder } from "../../src/export/column-builder.ts";
import type { ColumnType } from "../../src/export/columns.ts";
import type { FieldType } from "../../src/diag/struct.ts";

const ipc = new IpcStreamWriter();
/** The column as apache-arrow reads it from its IPC stream (copied: the writer reuses its buffer). */
function vectorOf(c: ColumnBuilder): Vector {
  return tableFromIPC(ipc.stream([c.ipcColumn()], c.length).slice()).getChildAt(0)!;
}

test("a reset number column forgets the previous batch's values and validity", () => {
  const c = new ColumnBuilder({ name: "x", type: "u32", doc: "" }, 8);
  for (let i = 0; i < 20; i++) c.push(i + 1); // grows past its capacity
  expect(vectorOf(c).toArray()).toEqual(Uint32Array.from({ length: 20 }, (_, i) => i + 1));
  c.reset();
  c.pushNull();
  c.push(5);
  c.pushNull();
  const v = vectorOf(c);
  expect(v.length).toBe(3);
  expect(v.nullCount).toBe(2);
  expect([v.get(0), v.get(1), v.get(2)]).toEqual([null, 5, null]);
});

test("text: repeats, nulls, multi-byte characters, growth, and a reset", () => {
  const c = new ColumnBuilder({ name: "s", type: "utf8", doc: "" }, 8);
  const first = ["a", "a", "bb", "bb", "bb", "é✓", "é✓", "x".repeat(300), "x".repeat(300), "a"];
  for (const s of first) c.pushString(s);
  expect(vectorOf(c).toArray()).toEqual(first);
  c.reset();
  const second = ["a", null, "ccc", "ccc", null, "ddd"];
  for (const s of second) s === null ? c.pushNull() : c.pushString(s);
  const v = vectorOf(c);
  expect(v.nullCount).toBe(2);
  expect(Array.from({ length: v.length }, (_, i) => v.get(i))).toEqual(second);
});

test("nanosecond times: exact without a bigint per row, edges included, and out-of-range ones by the bigint path", () => {
  const c = new ColumnBuilder({ name: "t", type: "timestamp_ns", doc: "" }, 8);
  const cases: [number, number][] = [[0, 0], [1, 999_999_999], [65_535, 999_999_999], [65_536, 0], [1_700_000_000, 123_456_789], [4_294_967_295, 999_999_999], [4_294_967_296, 1], [-1, 5]];
  for (let i = 0; i < 200; i++) cases.push([Math.floor(Math.random() * 2 ** 32), Math.floor(Math.random() * 1e9)]);
  for (const [s, ns] of cases) c.pushNanos(s, ns);
  const got = vectorOf(c).toArray() as BigInt64Array;
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
  expect(vectorOf(c).toArray()).toEqual(["bbr", "cubic", "bbr", "reno", "xé", "a\uFFFDb", "dctcp"]);
});

test("strided appends: rows known to be whole (bulk validity) and rows checked one by one give the same column", () => {
  // Rows of 16 bytes: a u32 at 4 and a u64 at 8, value = row number (+ 2^40 for the u64).
  const rows = 40;
  const src = new Uint8Array(16 * rows);
  const dv = new DataView(src.buffer);
  for (let i = 0; i < rows; i++) {
    dv.setUint32(16 * i + 4, i + 1, true);
    dv.setBigUint64(16 * i + 8, BigInt(i) + 2n ** 40n, true);
  }
  const whole = new Int32Array(rows).fill(16);
  // Whole up to row 29, then absent or too short for the u64: the bulk-set bits before
  // the first null must hold once the column has a bitmap.
  const some = whole.map((n, i) => (i === 30 || i === 39 ? -1 : i === 35 ? 8 : n));
  for (const [type, off, width] of [["u32", 4, 4], ["u64", 8, 8]] as const) {
    const dense = new ColumnBuilder({ name: "d", type, doc: "" }, 8);
    const checked = new ColumnBuilder({ name: "c", type, doc: "" }, 8);
    const mixed = new ColumnBuilder({ name: "m", type, doc: "" }, 8);
    // Three appends at uneven positions: validity bits set across byte edges.
    for (const [from, to] of [[0, 3], [3, 29], [29, 40]]) {
      const part = src.subarray(16 * from, 16 * to);
      const field = { name: type, offset: off, type };
      dense.appendStrided(part, 16, field, to - from, whole.subarray(from, to), 16);
      checked.appendStrided(part, 16, field, to - from, whole.subarray(from, to));
      const lens = some.subarray(from, to);
      mixed.appendStrided(part, 16, field, to - from, lens, Math.min(...lens));
    }
    const expected = Array.from({ length: rows }, (_, i) => (type === "u32" ? i + 1 : BigInt(i) + 2n ** 40n));
    expect([...vectorOf(dense)]).toEqual(expected);
    expect([...vectorOf(checked)]).toEqual(expected);
    const m = vectorOf(mixed);
    expect([...m]).toEqual(expected.map((v, i) => (some[i] < off + width ? null : v)));
    expect(m.nullCount).toBe(some.filter((n) => n < off + width).length);
  }
});

test("strided appends of an unaligned u64 (the byte-by-byte path): exact values, nulls where short", () => {
  // Rows of 10 bytes, a u64 at 2: neither the stride nor the offset allows word copies.
  const rows = 13;
  const src = new Uint8Array(10 * rows);
  const dv = new DataView(src.buffer);
  for (let i = 0; i < rows; i++) dv.setBigUint64(10 * i + 2, 2n ** 63n + BigInt(i * 977), true);
  const lens = new Int32Array(rows).map((_, i) => (i === 4 ? -1 : i === 9 ? 9 : 10));
  const c = new ColumnBuilder({ name: "c", type: "u64", doc: "" }, 8);
  c.appendStrided(src, 10, { name: "f", offset: 2, type: "u64" }, rows, lens);
  const v = vectorOf(c);
  expect([...v]).toEqual(Array.from({ length: rows }, (_, i) => (lens[i] < 10 ? null : 2n ** 63n + BigInt(i * 977))));
  expect(v.nullCount).toBe(2);
});

test("strided appends of byte fields, big-endian fields and bitfields: each value as the field says, dense or checked", () => {
  // Rows of 8 pseudo-random bytes: every bit pattern, top bits included, shows up.
  const rows = 37;
  const src = new Uint8Array(8 * rows);
  let x = 12345;
  for (let i = 0; i < src.length; i++) src[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const dv = new DataView(src.buffer);
  const read = (at: number, type: FieldType) => {
    switch (type) {
      case "u8": return dv.getUint8(at);
      case "u16": return dv.getUint16(at, true);
      case "be16": return dv.getUint16(at, false);
      case "be32": return dv.getUint32(at, false);
      default: return dv.getUint32(at, true);
    }
  };
  const lens = new Int32Array(rows).map((_, i) => (i % 5 === 3 ? -1 : i % 7 === 2 ? 2 : 8));
  const cases: [ColumnType, number, FieldType, (readonly [number, number])?][] = [
    ["u8", 3, "u8"],
    ["u8", 6, "u8", [4, 4]],
    ["u8", 7, "u8", [1, 2]],
    ["u16", 2, "u16"],
    ["u16", 0, "u16", [10, 1]],
    ["u16", 4, "be16"],
    ["u32", 4, "be32"],
    ["u32", 4, "u32", [8, 24]],
    ["u32", 4, "u32", [0, 2]],
  ];
  for (const [type, offset, ftype, bits] of cases) {
    const field = bits === undefined ? { name: "f", offset, type: ftype } : { name: "f", offset, type: ftype, bits };
    const width = ftype === "u8" ? 1 : ftype.endsWith("16") ? 2 : 4;
    const value = (i: number) => {
      const v = read(8 * i + offset, ftype);
      return bits === undefined ? v : Math.floor(v / 2 ** bits[0]) % 2 ** bits[1];
    };
    const dense = new ColumnBuilder({ name: "d", type, doc: "" }, 8);
    const checked = new ColumnBuilder({ name: "c", type, doc: "" }, 8);
    for (const [from, to] of [[0, 5], [5, 37]]) {
      const part = src.subarray(8 * from, 8 * to);
      dense.appendStrided(part, 8, field, to - from, new Int32Array(to - from).fill(8), 8);
      checked.appendStrided(part, 8, field, to - from, lens.subarray(from, to));
    }
    const label = `${ftype} at ${offset}, bits ${bits}`;
    expect({ label, values: [...vectorOf(dense)] }).toEqual({ label, values: Array.from({ length: rows }, (_, i) => value(i)) });
    expect({ label, values: [...vectorOf(checked)] }).toEqual({ label, values: Array.from({ length: rows }, (_, i) => (lens[i] < offset + width ? null : value(i))) });
  }
});

test("nulls appended in bulk sit between values, in number and text columns, and a required column refuses them", () => {
  for (const type of ["u32", "utf8"] as const) {
    const c = new ColumnBuilder({ name: "x", type, doc: "" }, 8);
    const value = (i: number) => (type === "u32" ? i : `v${i}`);
    const push = (i: number) => (type === "u32" ? c.push(i) : c.pushString(`v${i}`));
    push(1);
    c.appendNulls(11); // past the capacity: grows
    push(2);
    c.appendNulls(0);
    push(3);
    const v = vectorOf(c);
    expect(v.nullCount).toBe(11);
    expect([...v]).toEqual([value(1), ...Array(11).fill(null), value(2), value(3)]);
  }
  const r = new ColumnBuilder({ name: "r", type: "u32", required: true, doc: "" });
  expect(() => r.appendNulls(1)).toThrow("column r cannot be null");
  r.appendNulls(0);
  expect(r.length).toBe(0);
});
