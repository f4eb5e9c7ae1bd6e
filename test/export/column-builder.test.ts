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
