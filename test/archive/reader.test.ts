// Reading archives: M-Lab's real segment, in every shape it can come in, and bad input
// that must be reported with its line number instead of crashing the caller.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { compress } from "zstd-napi";
import { readCookie } from "../../src/diag/sock-id.ts";
import {
  ArchiveFormatError, readArchive, readArchiveAll, readArchiveSync, type ArchiveEntry, type MalformedLine,
} from "../../src/archive/reader.ts";
import { SEGMENT_183, readZst } from "./helpers.ts";

const SEGMENT_BYTES = readFileSync(SEGMENT_183);
const SEGMENT_TEXT = readZst("ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");

async function collect(src: Parameters<typeof readArchive>[0]): Promise<{ entries: ArchiveEntry[]; malformed: MalformedLine[] }> {
  return readArchiveAll(src);
}

test("M-Lab's segment 183: its Metadata, then 150 snapshots of cookie 0x3E8", async () => {
  const { entries, malformed } = await collect(SEGMENT_183);
  expect(malformed).toEqual([]);
  expect(entries.length).toBe(151);
  const [meta, ...snaps] = entries;
  expect(meta).toEqual({
    kind: "metadata", line: 1, timestamp: -62135596800000, timestampSubMs: 0, timestampText: "0001-01-01T00:00:00Z",
    metadata: {
      uuid: "ndt-jdczh_1553815964_00000000000003E8", sequence: 183,
      startTime: Date.parse("2019-04-01T07:42:37.371Z"), startTimeSubMs: 0, startTimeText: "2019-04-01T07:42:37.371Z",
    },
  });
  expect(snaps.length).toBe(150);
  let last = 0;
  for (const [i, s] of snaps.entries()) {
    if (s.kind !== "snapshot") throw new Error("not a snapshot");
    expect(s.line).toBe(i + 2);
    expect(s.rawIdm.byteLength).toBe(72);
    expect(readCookie(s.rawIdm, 0)).toBe(0x3e8n);
    expect(s.timestamp).toBeGreaterThan(last);
    last = s.timestamp;
    expect(s.attributes[2]?.byteLength).toBeGreaterThan(100); // tcp_info
    expect(s.attributes[0]).toBeNull();
  }
  expect(snaps[0].timestamp).toBe(Date.parse("2019-04-02T14:12:37.511Z"));
  // The text of every Timestamp, as the file has it (read here without our reader).
  const texts = [...SEGMENT_TEXT.toString().matchAll(/"Timestamp":"([^"]*)"/g)].map((m) => m[1]);
  expect(entries.map((e) => e.timestampText)).toEqual(texts);
});

test("the same entries from plain JSONL, tiny chunks, several frames, stdin-like streams and the sync reader", async () => {
  const want = (await collect(SEGMENT_183)).entries;
  expect((await collect(SEGMENT_TEXT)).entries).toEqual(want);
  const chunks = (b: Uint8Array, n: number) => Array.from({ length: Math.ceil(b.byteLength / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));
  expect((await collect(chunks(SEGMENT_BYTES, 7))).entries).toEqual(want);
  expect((await collect(chunks(SEGMENT_TEXT, 3))).entries).toEqual(want);
  // Re-compressed as one frame per 10 lines: a file the writer could have made.
  const lines = SEGMENT_TEXT.toString().split("\n").filter((l) => l !== "");
  const frames: Buffer[] = [];
  for (let i = 0; i < lines.length; i += 10) frames.push(compress(Buffer.from(lines.slice(i, i + 10).join("\n") + "\n")));
  const multi = Buffer.concat(frames);
  expect((await collect(multi)).entries).toEqual(want);
  async function* stream(): AsyncGenerator<Uint8Array> {
    for (const c of chunks(multi, 1000)) yield c;
  }
  expect((await collect(stream())).entries).toEqual(want);
  expect([...readArchiveSync(SEGMENT_183)]).toEqual(want);
  expect([...readArchiveSync(multi)]).toEqual(want);
});

const GOOD_IDM = Buffer.alloc(72, 1).toString("base64");
const GOOD = `{"Timestamp":"2019-04-02T14:12:37.511Z","RawIDM":"${GOOD_IDM}","Attributes":[null,"AAEC",""]}`;

test("any RFC 3339 time is read; blank lines and CRLF are tolerated", async () => {
  const text = [
    GOOD,
    "",
    `{"Timestamp":"2019-04-02T16:12:37.511999999+02:00","RawIDM":"${GOOD_IDM}"}\r`,
    `{"Timestamp":"0001-01-01T00:00:00Z","Metadata":{"UUID":"u","Sequence":1,"StartTime":"2019-04-01T07:42:37-00:30"}}`,
  ].join("\n");
  const { entries, malformed } = await collect(Buffer.from(text));
  expect(malformed).toEqual([]);
  expect(entries.map((e) => [e.kind, e.line, e.timestamp])).toEqual([
    ["snapshot", 1, Date.parse("2019-04-02T14:12:37.511Z")],
    ["snapshot", 3, Date.parse("2019-04-02T14:12:37.511Z")],
    ["metadata", 4, -62135596800000],
  ]);
  const first = entries[0];
  if (first.kind !== "snapshot") throw new Error();
  expect(first.attributes.map((a) => (a === null ? null : [...a]))).toEqual([null, [0, 1, 2], []]);
  expect(entries[1].kind === "snapshot" && entries[1].attributes).toEqual([]);
  expect(entries[2].kind === "metadata" && entries[2].metadata.startTime).toBe(Date.parse("2019-04-01T08:12:37Z"));
});

test("nanoseconds and the original text are kept beside the ms value", async () => {
  const text = [
    `{"Timestamp":"2019-04-02T16:12:37.511999999+02:00","RawIDM":"${GOOD_IDM}"}`,
    `{"Timestamp":"2019-04-02T14:12:37.000000001Z","RawIDM":"${GOOD_IDM}"}`,
    `{"RawIDM":"${GOOD_IDM}"}`,
    `{"Metadata":{"UUID":"u","Sequence":1,"StartTime":"2019-04-01T07:42:37.123456789-00:30"}}`,
    `{"Metadata":{"UUID":"u"}}`,
  ].join("\n");
  const { entries, malformed } = await collect(Buffer.from(text));
  expect(malformed).toEqual([]);
  expect(entries.map((e) => [e.timestamp, e.timestampSubMs, e.timestampText])).toEqual([
    [Date.parse("2019-04-02T14:12:37.511Z"), 999_999, "2019-04-02T16:12:37.511999999+02:00"],
    [Date.parse("2019-04-02T14:12:37Z"), 1, "2019-04-02T14:12:37.000000001Z"],
    [-62135596800000, 0, "0001-01-01T00:00:00Z"], // absent: Go's zero time
    [-62135596800000, 0, "0001-01-01T00:00:00Z"],
    [-62135596800000, 0, "0001-01-01T00:00:00Z"],
  ]);
  const meta = entries[3].kind === "metadata" ? entries[3].metadata : null;
  expect(meta).toEqual({
    uuid: "u", sequence: 1, startTime: Date.parse("2019-04-01T08:12:37.123Z"), startTimeSubMs: 456_789,
    startTimeText: "2019-04-01T07:42:37.123456789-00:30",
  });
  expect(entries[4].kind === "metadata" && entries[4].metadata.startTimeText).toBe("0001-01-01T00:00:00Z");
});

const BAD: [string, RegExp][] = [
  ["{not json", /not JSON/],
  ["[1,2]", /not a JSON object/],
  [`{"Timestamp":"2019-04-02T14:12:37Z"}`, /neither Metadata nor RawIDM/],
  [`{"Timestamp":"yesterday","RawIDM":"${GOOD_IDM}"}`, /Timestamp: not an RFC 3339 time/],
  [`{"RawIDM":"AAAA"}`, /RawIDM has 3 bytes/],
  [`{"RawIDM":"${GOOD_IDM}!"}`, /RawIDM is not valid base64/],
  [`{"RawIDM":"${GOOD_IDM}","Attributes":[null,7]}`, /Attributes\[1\] is not a base64 string/],
  [`{"RawIDM":"${GOOD_IDM}","Attributes":"x"}`, /Attributes is not an array/],
  [`{"Metadata":{"UUID":"u","Sequence":1.5}}`, /Sequence is not an integer/],
  [`{"Metadata":"x"}`, /Metadata is not an object/],
];

test("malformed lines are skipped and reported with their line numbers; good ones still come through", async () => {
  const text = [GOOD, ...BAD.map((b) => b[0]), GOOD].join("\n") + "\n";
  const { entries, malformed } = await collect(compress(Buffer.from(text)));
  expect(entries.map((e) => e.line)).toEqual([1, BAD.length + 2]);
  expect(malformed.map((m) => m.line)).toEqual(BAD.map((_, i) => i + 2));
  BAD.forEach(([, reason], i) => expect(malformed[i].reason).toMatch(reason));
});

test("strict mode throws ArchiveFormatError with the line number", async () => {
  const text = [GOOD, GOOD, BAD[0][0], GOOD].join("\n");
  let caught: unknown;
  const seen: number[] = [];
  try {
    for await (const e of readArchive(Buffer.from(text), { strict: true })) seen.push(e.line);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ArchiveFormatError);
  expect((caught as ArchiveFormatError).line).toBe(3);
  expect((caught as ArchiveFormatError).message).toMatch(/^line 3: not JSON/);
  expect(seen).toEqual([1, 2]);
});

test("a truncated or corrupt .zst gives every line of the frames before the damage, then one report", async () => {
  const whole = (await collect(SEGMENT_183)).entries;
  // One frame per 10 lines, like the writer's flushes; cut inside the last frame.
  const lines = SEGMENT_TEXT.toString().split("\n").filter((l) => l !== "");
  const frames: Buffer[] = [];
  for (let i = 0; i < lines.length; i += 10) frames.push(compress(Buffer.from(lines.slice(i, i + 10).join("\n") + "\n")));
  const multi = Buffer.concat(frames);
  const cut = await collect(multi.subarray(0, multi.byteLength - Math.floor(frames[frames.length - 1].byteLength / 2)));
  expect(cut.entries).toEqual(whole.slice(0, 150)); // 15 frames of 10 lines, the 16th (1 line) cut
  expect(cut.malformed).toEqual([{ line: 151, reason: expect.stringMatching(/truncated/) }]);

  // M-Lab's single-frame file cut short: a prefix (maybe empty, zstd emits whole blocks), one report.
  const single = await collect(SEGMENT_BYTES.subarray(0, Math.floor(SEGMENT_BYTES.byteLength * 0.6)));
  expect(single.entries).toEqual(whole.slice(0, single.entries.length));
  expect(single.malformed.length).toBe(1);
  expect(single.malformed[0].reason).toMatch(/truncated/);

  // Two good frames, then garbage that claims to be a frame.
  const f1 = compress(Buffer.from(lines.slice(0, 5).join("\n") + "\n"));
  const f2 = compress(Buffer.from(lines.slice(5, 9).join("\n") + "\n"));
  const junk = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const bad = await collect(Buffer.concat([f1, f2, junk]));
  expect(bad.entries.length).toBe(9);
  expect(bad.malformed.length).toBe(1);
  expect(bad.malformed[0].reason).toMatch(/zstd/);
});

test("a missing file is an error for the caller, not a crash inside the reader", async () => {
  await expect(collect("/nonexistent/x.jsonl.zst")).rejects.toThrow(/ENOENT|no such file/i);
});
