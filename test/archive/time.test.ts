// RFC 3339 as M-Lab writes it (Go's RFC3339Nano, at millisecond and nanosecond precision)
// and reads it.
import { expect, test } from "bun:test";
import {
  formatTime, formatTimeMsNs, formatTimeNs, GO_ZERO_TIME, GO_ZERO_TIME_MS, goTimeText, parseTime, parseTimeNs, subMsNs,
  TimeFormatError, timeNsFromMs, timeNsToMs,
} from "../../src/archive/time.ts";
import { readZst } from "./helpers.ts";

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

// ---- nanoseconds ----

const sec = (iso: string): number => Date.parse(iso) / 1000;

/** RFC3339Nano UTC built independently: ISO date from Date, fraction from the 9-digit string. */
function reference(s: number, ns: number): string {
  const frac = String(ns).padStart(9, "0").replace(/0+$/, "");
  return new Date(s * 1000).toISOString().slice(0, 19) + (frac === "" ? "" : "." + frac) + "Z";
}

test("formatTimeNs: no fraction at 0 ns, 1 ns, 999999999 ns, trailing zeros trimmed", () => {
  const s = sec("2019-03-29T00:12:44Z");
  expect(formatTimeNs(s, 0)).toBe("2019-03-29T00:12:44Z");
  expect(formatTimeNs(s, 1)).toBe("2019-03-29T00:12:44.000000001Z");
  expect(formatTimeNs(s, 10)).toBe("2019-03-29T00:12:44.00000001Z");
  expect(formatTimeNs(s, 999_999_999)).toBe("2019-03-29T00:12:44.999999999Z");
  expect(formatTimeNs(s, 120_000_000)).toBe("2019-03-29T00:12:44.12Z");
  expect(formatTimeNs(s, 100_000_000)).toBe("2019-03-29T00:12:44.1Z");
  expect(formatTimeNs(s, 90_551_000)).toBe("2019-03-29T00:12:44.090551Z");
  expect(formatTimeNs(s, 1_000)).toBe("2019-03-29T00:12:44.000001Z");
  expect(formatTimeNs(s, 1_500)).toBe("2019-03-29T00:12:44.0000015Z");
  expect(formatTimeNs(s, 1_000_000)).toBe("2019-03-29T00:12:44.001Z");
});

test("formatTimeNs: seconds rollover, carry from an out-of-range nsec, and the shared per-second cache", () => {
  const s = sec("2024-12-31T23:59:59Z");
  expect(formatTimeNs(s, 999_999_999)).toBe("2024-12-31T23:59:59.999999999Z");
  expect(formatTimeNs(s + 1, 0)).toBe("2025-01-01T00:00:00Z");
  expect(formatTime((s + 1) * 1000 + 5)).toBe("2025-01-01T00:00:00.005Z"); // ms form, same cache
  expect(formatTimeNs(s, 1)).toBe("2024-12-31T23:59:59.000000001Z"); // back: not the cached second
  expect(formatTimeNs(s, 1_000_000_000)).toBe("2025-01-01T00:00:00Z");
  expect(formatTimeNs(s, 1_000_000_001)).toBe("2025-01-01T00:00:00.000000001Z");
  expect(formatTimeNs(s + 1, -1)).toBe("2024-12-31T23:59:59.999999999Z");
  expect(formatTimeNs(sec("2024-02-28T23:59:59Z"), 500_000_000 + 1e9)).toBe("2024-02-29T00:00:00.5Z"); // leap day
});

test("formatTimeNs: years are four digits (Go's zero time, year 99, 9999), before 1970 too", () => {
  expect(formatTimeNs(GO_ZERO_TIME_MS / 1000, 0)).toBe(GO_ZERO_TIME);
  expect(formatTimeNs(GO_ZERO_TIME_MS / 1000, 7)).toBe("0001-01-01T00:00:00.000000007Z");
  expect(formatTimeNs(sec("0099-06-01T12:00:00Z"), 0)).toBe("0099-06-01T12:00:00Z");
  expect(formatTimeNs(sec("9999-12-31T23:59:59Z"), 999_999_999)).toBe("9999-12-31T23:59:59.999999999Z");
  expect(formatTimeNs(-1, 999_999_999)).toBe("1969-12-31T23:59:59.999999999Z");
  expect(formatTimeNs(0, 0)).toBe("1970-01-01T00:00:00Z");
});

test("formatTimeNs agrees with an independent reference over many times", () => {
  let seed = 12345;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 5000; i++) {
    const s = rnd(2 ** 31) * (i % 3 === 0 ? 2 : 1) - (i % 5 === 0 ? 2 ** 30 : 0);
    const ns = [0, rnd(1000) * 1e6, rnd(1e6) * 1000, rnd(1e9), rnd(10) * 1e8][i % 5];
    const text = formatTimeNs(s, ns);
    expect(text).toBe(reference(s, ns));
    expect(parseTimeNs(text)).toEqual({ sec: s, nsec: ns });
  }
});

test("parseTimeNs: nanoseconds kept, offsets applied, digits past the ninth truncated", () => {
  const s = sec("2019-04-02T14:12:37Z");
  expect(parseTimeNs("2019-04-02T14:12:37Z")).toEqual({ sec: s, nsec: 0 });
  expect(parseTimeNs("2019-04-02T14:12:37.000000001Z")).toEqual({ sec: s, nsec: 1 });
  expect(parseTimeNs("2019-04-02T14:12:37.12Z")).toEqual({ sec: s, nsec: 120_000_000 });
  expect(parseTimeNs("2019-04-02T16:12:37.511999999+02:00")).toEqual({ sec: s, nsec: 511_999_999 });
  expect(parseTimeNs("2019-04-02T09:42:37.5-04:30")).toEqual({ sec: s, nsec: 500_000_000 });
  expect(parseTimeNs("2019-04-02T14:12:37.1234567899999Z")).toEqual({ sec: s, nsec: 123_456_789 });
  expect(parseTimeNs("2019-04-03T00:12:37+10:00")).toEqual({ sec: s, nsec: 0 }); // offset crosses midnight
  expect(parseTimeNs(GO_ZERO_TIME)).toEqual({ sec: GO_ZERO_TIME_MS / 1000, nsec: 0 });
  expect(parseTimeNs("2024-02-29T00:00:00Z").sec).toBe(sec("2024-02-29T00:00:00Z"));
  expect(parseTimeNs("1600-03-01T00:00:00Z").sec).toBe(sec("1600-03-01T00:00:00Z"));
  const out = { sec: 0, nsec: 0 };
  expect(parseTimeNs("2019-04-02T14:12:37.25Z", out)).toBe(out); // fills the caller's object
  expect(out).toEqual({ sec: s, nsec: 250_000_000 });
  for (const bad of ["2019-04-02T14:12:37.Z", "2019-02-29T00:00:00Z", "2019-04-02T14:12:37+24:00", "x"]) {
    expect(() => parseTimeNs(bad)).toThrow(TimeFormatError);
  }
});

test("parseTime (ms) still floors and agrees with Date.parse on times with offsets", () => {
  expect(parseTime("1969-12-31T23:59:59.9999Z")).toBe(-1);
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 2000; i++) {
    const iso = new Date(rnd(2 ** 31) * 1000 * (i % 2 ? 3 : -1) + rnd(1000)).toISOString();
    if (!/^\d{4}-/.test(iso)) continue;
    const off = `${i % 2 ? "+" : "-"}${String(rnd(24)).padStart(2, "0")}:${String(rnd(60)).padStart(2, "0")}`;
    const withOffset = iso.slice(0, 23) + off;
    expect(parseTime(iso)).toBe(Date.parse(iso));
    expect(parseTime(withOffset)).toBe(Date.parse(withOffset));
  }
});

test("M-Lab's own times round-trip exactly: format(parse(x)) === x", () => {
  const texts = new Set<string>(["2019-03-29T00:12:44.090551Z", "2019-03-29T00:12:44Z"]);
  for (const f of ["ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst", "archiveRecords.jsonl.zst"]) {
    for (const m of readZst(f).toString().matchAll(/"(?:Timestamp|StartTime)":"([^"]*)"/g)) texts.add(m[1]);
  }
  expect(texts.size).toBeGreaterThan(150);
  for (const x of texts) {
    const t = parseTimeNs(x);
    expect(formatTimeNs(t.sec, t.nsec)).toBe(x);
    expect(goTimeText(x)).toBe(x);
  }
});

test("ms + sub-ms ns: the collector's two-number form of a time", () => {
  const t = parseTimeNs("2019-03-29T00:12:44.090551123Z");
  const ms = timeNsToMs(t.sec, t.nsec);
  const rest = subMsNs(t.nsec);
  expect(ms).toBe(Date.parse("2019-03-29T00:12:44.090Z"));
  expect(rest).toBe(551_123);
  expect(formatTimeMsNs(ms, rest)).toBe("2019-03-29T00:12:44.090551123Z");
  expect(timeNsFromMs(ms, rest)).toEqual(t);
  expect(formatTimeMsNs(ms, 0)).toBe(formatTime(ms));
  expect(formatTimeMsNs(-1, 999_999)).toBe("1969-12-31T23:59:59.999999999Z");
  expect(timeNsFromMs(-1)).toEqual({ sec: -1, nsec: 999_000_000 });
  expect(subMsNs(999_999_999)).toBe(999_999);
});

test("goTimeText: what Go's MarshalText prints after parsing (csvtool's Timestamp column)", () => {
  const keep = ["2019-04-02T16:12:37.511999999+02:00", "2019-04-02T14:12:37Z", "2019-04-02T09:42:37.5-04:30", GO_ZERO_TIME];
  for (const x of keep) expect(goTimeText(x)).toBe(x);
  expect(goTimeText("2019-04-02T14:12:37.510Z")).toBe("2019-04-02T14:12:37.51Z");
  expect(goTimeText("2019-04-02T14:12:37.000Z")).toBe("2019-04-02T14:12:37Z");
  expect(goTimeText("2019-04-02T14:12:37.1234567899+01:00")).toBe("2019-04-02T14:12:37.123456789+01:00");
  expect(goTimeText("2019-04-02T14:12:37+00:00")).toBe("2019-04-02T14:12:37Z");
  expect(goTimeText("2019-04-02T14:12:37.5-00:00")).toBe("2019-04-02T14:12:37.5Z");
  expect(goTimeText("2019-04-02t14:12:37z")).toBe("2019-04-02T14:12:37Z");
  expect(goTimeText("2019-04-02 14:12:37.25+05:30")).toBe("2019-04-02T14:12:37.25+05:30");
  expect(() => goTimeText("2019-04-02T14:12:37")).toThrow(TimeFormatError);
});
