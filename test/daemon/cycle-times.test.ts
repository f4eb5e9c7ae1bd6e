// The cadence figures of the status line: durations and start-to-start periods, over a
// bounded window.
import { expect, test } from "bun:test";
import { CycleTimes, formatQuantiles } from "../../src/daemon/cycle-times.ts";

test("median, p99 and maximum of durations and of the periods between cycle starts", () => {
  const t = new CycleTimes();
  expect(t.duration()).toBeNull();
  expect(formatQuantiles(t.period())).toBe("-");
  // 100 cycles every 10 ms taking 1..100 ms, then one that starts 500 ms late.
  for (let i = 0; i < 100; i++) t.record(i * 10, i + 1);
  t.record(99 * 10 + 500, 7);
  const d = t.duration();
  expect(d).toEqual({ p50: 50, p99: 99, max: 100 });
  const p = t.period();
  expect(p?.p50).toBe(10);
  expect(p?.max).toBe(500);
  expect(formatQuantiles(p)).toBe("10.00/500.00/500.00");
});

test("only the last 4,096 cycles count", () => {
  const t = new CycleTimes();
  for (let i = 0; i < 5000; i++) t.record(i, i < 904 ? 1000 : 1);
  expect(t.duration()?.max).toBe(1);
});
