import { expect, test } from "bun:test";
import { GcPacer } from "../../src/daemon/gc-pacer.ts";

test("a full collection after every N bytes taken in, at most once per gap; none while idle", () => {
  const at: number[] = [];
  let now = 0;
  const pacer = new GcPacer(1000, 100, 20, () => at.push(now));
  // Idle: batches with nothing in them, for a long time.
  for (; now < 10_000; now += 10) pacer.note(0, now);
  expect(at).toEqual([]);
  // 400 bytes every 10 ms: 1000 bytes are reached every 30 ms, but the gap is 100 ms.
  for (; now < 10_500; now += 10) pacer.note(400, now);
  expect(at).toEqual([10_020, 10_120, 10_220, 10_320, 10_420]);
  expect(pacer.collections).toBe(5);
  // Slow traffic: 100 bytes every 10 ms reaches the bound only every 100 ms.
  at.length = 0;
  for (; now < 11_000; now += 10) pacer.note(100, now);
  expect(at.length).toBeGreaterThanOrEqual(4);
  expect(at.length).toBeLessThanOrEqual(5);
  for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(100);
});

test("while pressed, the gap is the shorter one", () => {
  const at: number[] = [];
  let now = 0;
  const pacer = new GcPacer(1000, 100, 20, () => at.push(now));
  for (; now < 200; now += 10) pacer.note(600, now, true);
  // 1000 bytes every 20 ms (two batches), and the pressed gap is 20 ms.
  expect(at).toEqual([10, 30, 50, 70, 90, 110, 130, 150, 170, 190]);
  at.length = 0;
  for (; now < 400; now += 10) pacer.note(600, now, false);
  expect(at).toEqual([290, 390]);
});
