// The analysis reads archives through its own line scanner (no JSON.parse, no decoded
// objects). It must fill exactly the columns the general reader's decoded snapshots do:
// on M-Lab's 2019 archive (a shorter tcp_info: later fields absent) and on a malformed one.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSnapshots } from "../../src/archive/decode-entry.ts";
import { readTrackLines } from "../../src/archive/track-reader.ts";
import { TRACK_ATTRS, TRACK_FIELDS, TRACK_PARTS, TrackBuilder, type Track } from "../../src/analysis/track.ts";

const FIXTURE = join(import.meta.dir, "../fixtures/ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");

async function both(paths: string[]): Promise<[Track, Track]> {
  const a = new TrackBuilder();
  for await (const s of readSnapshots(paths)) a.add(s);
  const b = new TrackBuilder();
  await readTrackLines(paths, TRACK_ATTRS, (l) => b.addLine(l));
  // Reading only the bytes of the fields kept (as the API does) must fill the same columns.
  const c = new TrackBuilder();
  await readTrackLines(paths, TRACK_ATTRS, (l) => c.addLine(l), TRACK_PARTS);
  const [tb, tc] = [b.build(), c.build()];
  expect(tc.n).toBe(tb.n);
  for (const k of TRACK_FIELDS) expect({ k, same: same(tb.f[k], tc.f[k]) }).toEqual({ k, same: true });
  expect(same(tb.sndbuf, tc.sndbuf)).toBe(true);
  return [a.build(), tb];
}

function same(x: Float64Array, y: Float64Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (!(x[i] === y[i] || (Number.isNaN(x[i]) && Number.isNaN(y[i])))) return false;
  return true;
}

test("the scanner fills the same columns as decoded snapshots, absent fields as NaN", async () => {
  const [a, b] = await both([FIXTURE]);
  expect(b.n).toBe(150);
  expect(b.n).toBe(a.n);
  expect(same(a.t, b.t)).toBe(true);
  for (const k of TRACK_FIELDS) expect({ k, same: same(a.f[k], b.f[k]) }).toEqual({ k, same: true });
  expect(same(a.sndbuf, b.sndbuf)).toBe(true);
  expect(b.congestion).toBe(a.congestion);
  // 2019's tcp_info is shorter than today's: its later fields are absent (NaN), not 0.
  const absent = TRACK_FIELDS.filter((k) => b.f[k].every((v) => Number.isNaN(v)));
  expect(absent.length).toBeGreaterThan(0);
  expect(absent).not.toContain("rtt");
});

test("lines that are not snapshots, or whose attributes are cut, are skipped as the general reader skips them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "track-"));
  try {
    const good = (await Bun.file(FIXTURE).arrayBuffer()).byteLength > 0;
    expect(good).toBe(true);
    const text = new TextDecoder().decode(Bun.zstdDecompressSync(new Uint8Array(await Bun.file(FIXTURE).arrayBuffer())));
    const lines = text.split("\n").filter((l) => l !== "");
    // A character that is not base64 inside an attribute (tcp_info, the longest string).
    const longest = lines[4].match(/"[A-Za-z0-9+/=]{200,}"/)![0];
    const notBase64 = lines[4].replace(longest, `${longest.slice(0, 9)}!${longest.slice(10)}`);
    const broken = [lines[0], lines[1], lines[2].slice(0, lines[2].indexOf('"Attributes":[') + 30), "not json", notBase64, lines[3]].join("\n");
    const path = join(dir, "x.jsonl");
    writeFileSync(path, broken);
    const [a, b] = await both([path]);
    expect(b.n).toBe(2);
    expect(a.n).toBe(2);
    expect(same(a.f.bytesAcked, b.f.bytesAcked)).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a torn archive (a crash cut its last frame) gives the snapshots of its whole frames, not an error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "track-"));
  try {
    const text = new TextDecoder().decode(Bun.zstdDecompressSync(new Uint8Array(await Bun.file(FIXTURE).arrayBuffer())));
    const lines = text.split("\n").filter((l) => l !== "");
    // Two frames: the first 100 lines, then the rest, cut short.
    const head = Bun.zstdCompressSync(lines.slice(0, 100).join("\n") + "\n");
    const tail = Bun.zstdCompressSync(lines.slice(100).join("\n") + "\n");
    const whole = join(dir, "whole.jsonl.zst");
    writeFileSync(whole, Buffer.concat([head]));
    const path = join(dir, "torn.jsonl.zst");
    writeFileSync(path, Buffer.concat([head, tail.subarray(0, tail.length >> 1)]));
    const [, b] = await both([path]);
    const [a] = await both([whole]);
    expect(b.n).toBe(a.n);
    expect(b.n).toBeGreaterThan(90);
    expect(same(a.f.bytesAcked, b.f.bytesAcked)).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("times across hour, day, month and year boundaries equal Date.parse's", async () => {
  const dir = mkdtempSync(join(tmpdir(), "track-"));
  try {
    const text = new TextDecoder().decode(Bun.zstdDecompressSync(new Uint8Array(await Bun.file(FIXTURE).arrayBuffer())));
    const line = text.split("\n").find((l) => l.includes('"RawIDM"'))!;
    const times = ["2023-12-31T22:59:59.5Z", "2023-12-31T23:00:00Z", "2023-12-31T23:59:59.999999999Z", "2024-01-01T00:00:00.000000001Z", "2024-02-28T23:59:59Z", "2024-02-29T00:00:00.25Z", "2024-02-29T00:00:01Z", "2024-03-01T00:00:00Z"];
    const lines = times.map((t) => line.replace(/"Timestamp":"[^"]*"/, `"Timestamp":"${t}"`));
    const path = join(dir, "times.jsonl");
    writeFileSync(path, lines.join("\n") + "\n");
    const got: number[] = [];
    await readTrackLines([path], TRACK_ATTRS, (l) => got.push(l.timeMs));
    const want = times.map((t) => {
      const m = /\.(\d+)Z$/.exec(t);
      return Date.parse(m ? t.slice(0, m.index) + "Z" : t) + (m ? Number(m[1]) * 1000 / 10 ** m[1].length : 0);
    });
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 6));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
