// JSON of 64-bit counters: exact digits always, by the fast path when no bigint is left.
import { expect, test } from "bun:test";
import { exactInt, stringifyExact, stringifyMostlyPlain } from "../../src/util/json.ts";

test("exactInt: a number up to 2^53 - 1 either way, a bigint past it, null kept", () => {
  expect(exactInt(0n)).toBe(0);
  expect(exactInt(9_007_199_254_740_991n)).toBe(9_007_199_254_740_991);
  expect(exactInt(-9_007_199_254_740_991n)).toBe(-9_007_199_254_740_991);
  expect(exactInt(9_007_199_254_740_992n)).toBe(9_007_199_254_740_992n);
  expect(exactInt(18_446_744_073_709_551_615n)).toBe(18_446_744_073_709_551_615n);
  expect(exactInt(null)).toBeNull();
});

test("stringifyMostlyPlain writes what stringifyExact writes, with and without bigints", () => {
  const values: unknown[] = [
    { a: 1, b: "x\u0000y", c: [null, true, 2.5], d: { e: exactInt(42n) } },
    { big: 18_446_744_073_709_551_615n, small: exactInt(7n), text: "\u0000big:1", nested: [{ n: -9_007_199_254_740_993n }] },
    [],
  ];
  for (const v of values) {
    expect(stringifyMostlyPlain(v)).toBe(stringifyExact(v));
    expect(stringifyMostlyPlain(v, 2)).toBe(stringifyExact(v, 2));
  }
  expect(stringifyMostlyPlain({ big: 18_446_744_073_709_551_615n })).toBe('{"big":18446744073709551615}');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  expect(() => stringifyMostlyPlain(cyclic)).toThrow(TypeError);
});
