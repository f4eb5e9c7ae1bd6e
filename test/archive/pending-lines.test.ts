// A connection's waiting lines as bytes: appended as text (or encoded records), viewed
// for compression, dropped from the front, and their buffers reused through the pool.
import { expect, test } from "bun:test";
import { CHUNK_BYTES, emptyPool, PendingLines, pooledBufferBytes, trimPool } from "../../src/archive/pending-lines.ts";

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

test("chunks go back to the pool when emptied, for the next connection", () => {
  // The pool is shared by every writer of the thread (other tests too): start it empty.
  emptyPool();
  expect(pooledBufferBytes()).toBe(0);
  const a = new PendingLines();
  const line = "x".repeat(999);
  for (let i = 0; i < 100; i++) a.appendText(line);
  expect(a.bytes).toBe(100_000);
  expect(text(a.view(1))).toBe(`${line}\n`);
  a.clear();
  // 100,000 bytes fill 25 chunks, all of them back in the pool.
  expect(pooledBufferBytes()).toBe(Math.ceil(100_000 / CHUNK_BYTES) * CHUNK_BYTES);
  const b = new PendingLines();
  for (let i = 0; i < 100; i++) b.appendText(line);
  // The second connection took the same chunks back: none was left over, none allocated.
  expect(pooledBufferBytes()).toBe(0);
  expect(text(b.view()).split("\n").length).toBe(101);
  b.clear();
});

test("lines spanning chunk boundaries survive views and drops, against a plain string", () => {
  const p = new PendingLines();
  let model: string[] = [];
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const op = rand(10);
    if (op < 7) {
      // Lengths around and above a chunk, so lines start, end and span anywhere.
      const line = String.fromCharCode(97 + rand(26)).repeat(rand(CHUNK_BYTES * 2));
      expect(p.appendText(line)).toBe(line.length + 1);
      model.push(line);
    } else if (op < 9) {
      const n = rand(model.length + 1);
      const want = model.slice(0, n).reduce((k, l) => k + l.length + 1, 0);
      expect(p.dropFirst(n)).toBe(want);
      model = model.slice(n);
    } else {
      const n = rand(model.length + 1);
      expect(text(p.view(n))).toBe(model.slice(0, n).map((l) => `${l}\n`).join(""));
    }
    expect(p.count).toBe(model.length);
    expect(p.bytes).toBe(model.reduce((k, l) => k + l.length + 1, 0));
    expect(text(p.view())).toBe(model.map((l) => `${l}\n`).join(""));
  }
  p.clear();
});

test("the pool lets go of what the last period did not need", () => {
  emptyPool();
  // Trimming keeps what was taken since the last trim: start a fresh period.
  trimPool(0);
  trimPool(1_000);
  const burst = Array.from({ length: 50 }, () => new PendingLines());
  for (const p of burst) p.appendText("x".repeat(100));
  for (const p of burst) p.clear();
  expect(pooledBufferBytes()).toBe(50 * CHUNK_BYTES);
  // Within the period nothing is let go; after it, what that period took (50) stays.
  trimPool(1_100);
  expect(pooledBufferBytes()).toBe(50 * CHUNK_BYTES);
  trimPool(1_250);
  expect(pooledBufferBytes()).toBe(50 * CHUNK_BYTES);
  // A quiet period later: what it took (1) is kept, then nothing.
  const one = new PendingLines();
  one.appendText("y");
  one.clear();
  trimPool(1_500);
  expect(pooledBufferBytes()).toBe(CHUNK_BYTES);
  trimPool(1_750);
  expect(pooledBufferBytes()).toBe(0);
});
