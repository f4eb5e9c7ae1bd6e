// A connection's waiting lines as bytes: appended as text (or encoded records), viewed
// for compression, dropped from the front, and their buffers reused through the pool.
import { expect, test } from "bun:test";
import { emptyPool, PendingLines, pooledBufferBytes } from "../../src/archive/pending-lines.ts";

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

test("lines keep their order and newlines; the first n can be viewed and dropped", () => {
  const p = new PendingLines();
  expect(p.count).toBe(0);
  expect(p.appendText("one")).toBe(4);
  p.appendText("two");
  p.appendText("three");
  expect(p.count).toBe(3);
  expect(p.bytes).toBe(4 + 4 + 6);
  expect(text(p.view())).toBe("one\ntwo\nthree\n");
  expect(text(p.view(2))).toBe("one\ntwo\n");
  expect(p.bytesOf(2)).toBe(8);
  expect(p.dropFirst(1)).toBe(4);
  expect(text(p.view())).toBe("two\nthree\n");
  expect(p.bytesOf(1)).toBe(4);
  expect(p.dropFirst(5)).toBe(10);
  expect(p.count).toBe(0);
  expect(p.bytes).toBe(0);
});

test("a buffer grows across many lines and goes back to the pool when emptied, for the next connection", () => {
  // The pool is shared by every writer of the thread (other tests too): start it empty.
  emptyPool();
  const before = pooledBufferBytes();
  expect(before).toBe(0);
  const a = new PendingLines();
  const line = "x".repeat(999);
  for (let i = 0; i < 100; i++) a.appendText(line);
  expect(a.bytes).toBe(100_000);
  expect(text(a.view(1))).toBe(`${line}\n`);
  a.clear();
  const pooled = pooledBufferBytes();
  expect(pooled).toBeGreaterThanOrEqual(before + 131_072);
  const b = new PendingLines();
  for (let i = 0; i < 100; i++) b.appendText(line);
  // The 128 KiB buffer came from the pool (smaller ones it outgrew went back in).
  expect(pooledBufferBytes()).toBeLessThan(pooled);
  expect(text(b.view()).split("\n").length).toBe(101);
  b.clear();
});
