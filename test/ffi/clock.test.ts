// The nanosecond real-time clock read through libc: the same clock as Date.now(), a valid
// timespec, sub-millisecond resolution.
import { expect, test } from "bun:test";
import { realtime, realtimeMs, unixMs, type RealTime } from "../../src/ffi/clock.ts";

test("realtime() is the wall clock: within a few ms of Date.now(), nsec in [0, 1e9)", () => {
  const t: RealTime = { sec: 0, nsec: 0 };
  for (let i = 0; i < 50; i++) {
    const before = Date.now();
    expect(realtime(t)).toBe(t); // fills and returns the caller's object
    const after = Date.now();
    expect(Number.isInteger(t.sec)).toBe(true);
    expect(Number.isInteger(t.nsec)).toBe(true);
    expect(t.nsec).toBeGreaterThanOrEqual(0);
    expect(t.nsec).toBeLessThan(1e9);
    // Date.now() floors to the ms of the same clock; allow slack for a slow CI host.
    expect(unixMs(t)).toBeGreaterThanOrEqual(before - 5);
    expect(unixMs(t)).toBeLessThanOrEqual(after + 5);
  }
  expect(t.sec).toBeGreaterThan(Date.parse("2020-01-01T00:00:00Z") / 1000);
  expect(Math.abs(realtimeMs() - Date.now())).toBeLessThan(50);
});

test("successive reads never go back by more than a clock step and do resolve below the millisecond", () => {
  const a: RealTime = { sec: 0, nsec: 0 };
  const b: RealTime = { sec: 0, nsec: 0 };
  let subMs = 0;
  for (let i = 0; i < 1000; i++) {
    realtime(a);
    realtime(b);
    const d = (b.sec - a.sec) * 1e9 + (b.nsec - a.nsec);
    expect(d).toBeGreaterThanOrEqual(-1e6); // only an NTP step could go back
    if (b.nsec % 1e6 !== 0) subMs++;
  }
  // A millisecond clock would end in 000000 every time.
  expect(subMs).toBeGreaterThan(900);
});

test("unixMs floors the nanoseconds, before 1970 too", () => {
  expect(unixMs({ sec: 1554214357, nsec: 511_999_999 })).toBe(1554214357511);
  expect(unixMs({ sec: 1554214357, nsec: 0 })).toBe(1554214357000);
  expect(unixMs({ sec: -1, nsec: 999_999_999 })).toBe(-1);
});

test("the clock keeps moving over many reads, as the poll loop makes them (no value served from before the call)", async () => {
  const t: RealTime = { sec: 0, nsec: 0 };
  // The optimizing compiler needs many hot calls before it can get this wrong.
  let worst = 0;
  for (let round = 0; round < 300; round++) {
    for (let i = 0; i < 1000; i++) realtime(t);
    worst = Math.max(worst, Math.abs(unixMs(realtime(t)) - Date.now()));
    await Bun.sleep(1);
  }
  expect(worst).toBeLessThan(50);
});
