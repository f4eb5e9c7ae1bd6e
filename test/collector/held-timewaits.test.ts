import { expect, test } from "bun:test";
import { HeldTimewaits } from "../../src/collector/held-timewaits.ts";
import type { NetnsSlot } from "../../src/collector/netns-slot.ts";

// Only identity matters to the holder: two distinct namespace slots.
const A = { name: "a" } as unknown as NetnsSlot;
const B = { name: "b" } as unknown as NetnsSlot;

test("a timewait entry is held from its first sight for the grace period, with a copy of its message", () => {
  const h = new HeldTimewaits();
  const buf = new Uint8Array([9, 9, 1, 2, 3, 9]);
  expect(h.wait(1, buf, 2, 3, A, 1000, 250)).toBe(true);
  expect(h.wait(1, buf, 2, 3, A, 1249, 250)).toBe(true);
  expect(h.wait(1, buf, 2, 3, A, 1250, 250)).toBe(false);
  // Let go: seen again, it is held anew.
  expect(h.take(1)).toBeUndefined();
  const rx = new Uint8Array([7, 7, 7]);
  expect(h.wait(1, rx, 0, 3, A, 2000, 250)).toBe(true);
  rx.fill(0); // the receive buffer is reused: the held copy must not change
  const held = h.take(1)!;
  expect(held.since).toBe(2000);
  expect([...held.message]).toEqual([7, 7, 7]);
  expect(h.take(1)).toBeUndefined();

  expect(h.wait("x", new Uint8Array([1, 2, 3]), 0, 3, A, 0, 250)).toBe(true);
  expect([...h.take("x")!.message]).toEqual([1, 2, 3]);
});

test("takeAll lets go of one namespace's entries, or of every one", () => {
  const h = new HeldTimewaits();
  const m = new Uint8Array(4);
  h.wait(1, m, 0, 4, A, 0, 250);
  h.wait(2, m, 0, 4, B, 0, 250);
  h.wait(3, m, 0, 4, A, 0, 250);
  expect(h.takeAll(A).map((e) => e.slot)).toEqual([A, A]);
  expect(h.take(1)).toBeUndefined();
  expect(h.takeAll().map((e) => e.slot)).toEqual([B]);
  expect(h.takeAll()).toEqual([]);
});
