// RFC 3339 as M-Lab writes it (Go's RFC3339Nano at millisecond precision) and reads it.
import { expect, test } from "bun:test";
import { formatTime, GO_ZERO_TIME, GO_ZERO_TIME_MS, parseTime, TimeFormatError } from "../../src/archive/time.ts";

const at = (iso: string): number => Date.parse(iso);

test("fraction zeros are trimmed; whole seconds have no fraction", () => {
  expect(formatTime(at("2019-03-29T00:00:12.090Z"))).toBe("2019-03-29T00:00:12.09Z");
  expect(formatTime(at("2019-03-29T00:00:12.000Z"))).toBe("2019-03-29T00:00:12Z");
  expect(formatTime(at("2019-03-29T00:00:12.100Z"))).toBe("2019-03-29T00:00:12.1Z");
  expect(formatTime(at("2019-03-29T00:00:12.005Z"))).toBe("2019-03-29T00:00:12.005Z");
  expect(formatTime(at("2019-04-02T14:12:37.511Z"))).toBe("2019-04-02T14:12:37.511Z");
});

test("the per-second cache never serves a stale second", () => {
  // Same second twice, then neighbours on both sides, then back.
  const base = at("2024-12-31T23:59:59.000Z");
  expect(formatTime(base + 1)).toBe("2024-12-31T23:59:59.001Z");
  expect(formatTime(base + 999)).toBe("2024-12-31T23:59:59.999Z");
  expect(formatTime(base + 1000)).toBe("2025-01-01T00:00:00Z");
  expect(formatTime(base - 1)).toBe("2024-12-31T23:59:58.999Z");
  expect(formatTime(base + 500)).toBe("2024-12-31T23:59:59.5Z");
  for (let i = 0; i < 2000; i += 37) expect(formatTime(base + i)).toBe(new Date(base + i).toISOString().replace(/\.?0+Z$/, "Z").replace(/\.Z$/, "Z"));
});

test("sub-millisecond input is floored; Go's zero time round-trips", () => {
  expect(formatTime(at("2020-01-01T00:00:00.123Z") + 0.9)).toBe("2020-01-01T00:00:00.123Z");
  expect(formatTime(GO_ZERO_TIME_MS)).toBe(GO_ZERO_TIME);
  expect(parseTime(GO_ZERO_TIME)).toBe(GO_ZERO_TIME_MS);
});

test("parse: Z, offsets, nanoseconds, lower case, and what is rejected", () => {
  expect(parseTime("2019-04-02T14:12:37.511Z")).toBe(at("2019-04-02T14:12:37.511Z"));
  expect(parseTime("2019-04-02T16:12:37.511+02:00")).toBe(at("2019-04-02T14:12:37.511Z"));
  expect(parseTime("2019-04-02T09:42:37-04:30")).toBe(at("2019-04-02T14:12:37Z"));
  expect(parseTime("2019-04-02T14:12:37.511999999Z")).toBe(at("2019-04-02T14:12:37.511Z"));
  expect(parseTime("2019-04-02T14:12:37.5Z")).toBe(at("2019-04-02T14:12:37.500Z"));
  expect(parseTime("2019-04-02t14:12:37z")).toBe(at("2019-04-02T14:12:37Z"));
  expect(parseTime("0099-01-01T00:00:00Z")).toBe(new Date("0099-01-01T00:00:00Z").getTime()); // not 1999
  expect(parseTime("2024-02-29T00:00:00Z")).toBe(at("2024-02-29T00:00:00Z"));
  for (const bad of ["", "2019-04-02", "2019-04-02T14:12Z", "2019-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2019-04-02T24:00:00Z",
    "2019-04-02T14:12:60Z", "2019-04-02T14:12:37", "2019-04-02T14:12:37+0200", "2019-04-02T14:12:37.Z", " 2019-04-02T14:12:37Z"]) {
    expect(() => parseTime(bad)).toThrow(TimeFormatError);
  }
});

test("format then parse is the identity at millisecond precision", () => {
  for (const ms of [0, 1, 999, 1000, 1554104557371, 1554214357511, 4102444799999, -1, -86400001]) {
    expect(parseTime(formatTime(ms))).toBe(ms);
  }
});
