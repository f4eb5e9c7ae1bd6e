// Start-up repair of archive files (src/archive/repair.ts) on real files: written by the
// real writer (ArchiveSet, one zstd frame per flush) or by the zstd CLI, then torn,
// emptied, extended with garbage or corrupted the ways a killed collector, a crashed
// machine or a bad disk leave them. After a repair every file must pass `zstd -t` and
// hold exactly the lines of its complete frames.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { encodeMetadata } from "../../src/archive/record.ts";
import { frameEnd, readMetadata, repairArchive } from "../../src/archive/repair.ts";
import { formatTime, formatTimeMsNs } from "../../src/archive/time.ts";
import { mlabLine, run, tmpFolder } from "./helpers.ts";

const line = mlabLine;

const UUID = "host_1700000000_unsafe_00000000000003E8";
const T0 = Date.parse("2024-05-06T07:08:09.010Z");
const SUB_MS = 123_456; // StartTime below the millisecond: 07:08:09.010123456Z

let tmp: ReturnType<typeof tmpFolder>;
let out: string;

beforeEach(() => {
  tmp = tmpFolder("repair");
  out = join(tmp.dir, "out");
  mkdirSync(out);
});
afterEach(() => tmp.cleanup());

interface Written {
  path: string;
  bytes: Buffer;
  /** Snapshot lines per frame, in order (the first frame also holds the Metadata line). */
  linesPerFrame: number[];
  /** Every line of the file, the Metadata line first. */
  lines: string[];
  /** Offsets where frames start, then the file's size. */
  bounds: number[];
}

/** Lets the real writer make one file of `perFrame.length` frames (one per flush), left current (not closed). */
function writeWithArchiveSet(perFrame: number[], seq = 0): Written {
  const set = new ArchiveSet({ outputDir: out, flushIntervalMs: 1000, compactFinishedFiles: false });
  const w = set.open(UUID, T0, seq, SUB_MS);
  const lines = [encodeMetadata(UUID, seq, formatTimeMsNs(T0, SUB_MS))];
  let now = T0;
  for (const n of perFrame) {
    for (let i = 0; i < n; i++) {
      now += 10;
      const l = line(lines.length, now);
      lines.push(l);
      w.append(l, now);
    }
    expect(set.flushDue(now + 1000)).toBe(1);
  }
  expect(set.stats().errors).toEqual({});
  const path = join(out, w.files[0].path);
  const bytes = readFileSync(path);
  return { path, bytes, linesPerFrame: perFrame, lines, bounds: frameBounds(bytes) };
}

/** Frame start offsets found by walking frameEnd from 0, then the end. Fails unless the walk ends exactly at the end. */
function frameBounds(data: Uint8Array): number[] {
  const bounds = [0];
  let at = 0;
  while (at < data.byteLength) {
    const end = frameEnd(data, at);
    if (end <= at) throw new Error(`frameEnd(${at}) = ${end} in a file of ${data.byteLength} bytes`);
    bounds.push(end);
    at = end;
  }
  return bounds;
}

function zstdFrames(path: string): number {
  const r = run(["zstd", "-lv", path]);
  expect(r.code).toBe(0);
  return Number(/# Zstandard Frames: (\d+)/.exec(r.stdout.toString())?.[1] ?? -1);
}

function zstdText(path: string): string {
  const r = run(["zstd", "-dcq", path]);
  expect(r.code).toBe(0);
  return r.stdout.toString("utf8");
}

/** `zstd -t` on files; with several, the names of those that fail. */
function zstdFailing(paths: string[]): string[] {
  if (paths.length === 0) return [];
  if (run(["zstd", "-tq", ...paths]).code === 0) return [];
  return paths.filter((p) => run(["zstd", "-tq", p]).code !== 0);
}

/** Block types of the zstd frame at the start of `d` (read here, independently of repair.ts). */
function blockTypes(d: Uint8Array): number[] {
  const fhd = d[4];
  const single = (fhd >> 5) & 1;
  const fcs = fhd >> 6 === 0 ? single : [0, 2, 4, 8][fhd >> 6];
  let p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + fcs;
  const types: number[] = [];
  for (;;) {
    const h = d[p] | (d[p + 1] << 8) | (d[p + 2] << 16);
    const type = (h >> 1) & 3;
    types.push(type);
    p += 3 + (type === 1 ? 1 : h >>> 3);
    if (h & 1) return types;
  }
}

/** A seeded byte generator (mulberry32), for noise that does not compress. */
function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) & 0xff;
  };
}

/** A file named like an archive, holding `bytes`. */
function place(name: string, bytes: Uint8Array): string {
  const p = join(out, name);
  writeFileSync(p, bytes);
  return p;
}

/** Lines (Metadata included) the first `frames` frames of `w` hold. */
function linesIn(w: Written, frames: number): number {
  return 1 + w.linesPerFrame.slice(0, frames).reduce((a, b) => a + b, 0);
}

test("frameEnd walks the writer's frames exactly: as many as zstd counts, ending at the file's end", () => {
  const w = writeWithArchiveSet([5, 1, 7, 3]);
  expect(w.bounds.length - 1).toBe(4);
  expect(zstdFrames(w.path)).toBe(4);
  expect(w.bounds[4]).toBe(w.bytes.byteLength);
  // Each frame alone decodes (zstd CLI) to its lines.
  for (let f = 0; f < 4; f++) {
    const p = place(`frame${f}.zst`, w.bytes.subarray(w.bounds[f], w.bounds[f + 1]));
    expect(zstdText(p)).toBe(w.lines.slice(linesIn(w, f) - (f === 0 ? 1 : 0), linesIn(w, f + 1)).join("\n") + "\n");
  }
  // No frame at the end, past it, or inside a frame.
  expect(frameEnd(w.bytes, w.bytes.byteLength)).toBe(-1);
  expect(frameEnd(w.bytes, w.bytes.byteLength + 10)).toBe(-1);
  expect(frameEnd(w.bytes, 1)).toBe(-1);
  expect(frameEnd(new Uint8Array(0), 0)).toBe(-1);
  // A frame cut anywhere has no end.
  const last = w.bounds[3];
  for (let cut = last; cut < w.bytes.byteLength; cut++) expect(frameEnd(w.bytes.subarray(0, cut), last)).toBe(-1);
  for (let cut = 0; cut < w.bounds[1]; cut++) expect(frameEnd(w.bytes.subarray(0, cut), 0)).toBe(-1);
});

test("an intact file of several frames is left as it is, with its records, Metadata, first and last snapshots", () => {
  const w = writeWithArchiveSet([4, 2, 9]);
  const mtime = statSync(w.path).mtimeMs;
  const r = repairArchive(w.path);
  expect(r.action).toBe("intact");
  expect(r.bytes).toBe(w.bytes.byteLength);
  expect(r.droppedBytes).toBe(0);
  expect(r.records).toBe(15);
  expect(r.mtimeMs).toBe(mtime);
  expect(r.metadata).toEqual({
    uuid: UUID, sequence: 0, startTime: T0, startTimeSubMs: SUB_MS, startTimeText: "2024-05-06T07:08:09.010123456Z",
  });
  expect(r.first?.timestamp).toBe(T0 + 10);
  expect(r.last?.timestamp).toBe(T0 + 150);
  expect(readFileSync(w.path).equals(w.bytes)).toBe(true);
  expect(statSync(w.path).mtimeMs).toBe(mtime);
  expect(zstdFailing([w.path])).toEqual([]);
});

test("a file with one snapshot: first and last are the same snapshot", () => {
  const w = writeWithArchiveSet([1]);
  const r = repairArchive(w.path);
  expect(r.action).toBe("intact");
  expect(r.records).toBe(1);
  expect(r.first?.timestamp).toBe(T0 + 10);
  expect(r.last?.timestamp).toBe(T0 + 10);
});

test("cut at every byte inside its last frame: cut back to the frame before, zstd -t passes, records = lines of the complete frames", () => {
  const w = writeWithArchiveSet([6, 3, 4]);
  const last = w.bounds[3 - 1];
  const size = w.bytes.byteLength;
  expect(size - last).toBeGreaterThan(50);
  const paths: string[] = [];
  for (let cut = last + 1; cut < size; cut++) {
    const p = place(`${UUID}.${cut}.jsonl.zst`, w.bytes.subarray(0, cut));
    const r = repairArchive(p);
    const ctx = `cut at ${cut} (last frame ${last}..${size})`;
    expect({ ctx, action: r.action, bytes: r.bytes, dropped: r.droppedBytes, records: r.records }).toEqual({
      ctx, action: "truncated", bytes: last, dropped: cut - last, records: 9,
    });
    expect(r.metadata?.uuid).toBe(UUID);
    expect(r.last?.timestamp).toBe(T0 + 90);
    const now = readFileSync(p);
    expect(now.byteLength).toBe(last);
    expect(now.equals(w.bytes.subarray(0, last))).toBe(true);
    paths.push(p);
  }
  expect(zstdFailing(paths)).toEqual([]);
  expect(zstdText(paths[0])).toBe(w.lines.slice(0, linesIn(w, 2)).join("\n") + "\n");
  // A repaired file is intact the next time.
  expect(repairArchive(paths[0]).action).toBe("intact");
  // Cut exactly at a frame boundary: nothing to cut.
  const atBoundary = place("boundary.jsonl.zst", w.bytes.subarray(0, last));
  expect(repairArchive(atBoundary)).toMatchObject({ action: "intact", records: 9, droppedBytes: 0 });
});

test("cut inside a middle frame: everything from that frame on goes; cut inside the first frame: removed", () => {
  const w = writeWithArchiveSet([2, 5, 3, 1]);
  for (let f = 1; f < 4; f++) {
    const cut = Math.floor((w.bounds[f] + w.bounds[f + 1]) / 2);
    const p = place(`mid${f}.jsonl.zst`, w.bytes.subarray(0, cut));
    expect(repairArchive(p)).toMatchObject({ action: "truncated", bytes: w.bounds[f], records: linesIn(w, f) - 1 });
    expect(zstdFailing([p])).toEqual([]);
    expect(zstdText(p).split("\n").length - 1).toBe(linesIn(w, f));
  }
  const gone: string[] = [];
  for (let cut = 1; cut < w.bounds[1]; cut += 7) {
    const p = place(`first${cut}.jsonl.zst`, w.bytes.subarray(0, cut));
    const r = repairArchive(p);
    expect({ cut, action: r.action, bytes: r.bytes, records: r.records, metadata: r.metadata }).toEqual({ cut, action: "removed", bytes: 0, records: 0, metadata: null });
    expect(r.droppedBytes).toBe(cut);
    gone.push(p);
  }
  for (const p of gone) expect(existsSync(p)).toBe(false);
});

test("an empty file is removed", () => {
  const p = place(`${UUID}.00000.jsonl.zst`, new Uint8Array(0));
  const r = repairArchive(p);
  expect(r).toMatchObject({ action: "removed", bytes: 0, droppedBytes: 0, records: 0, metadata: null, first: null, last: null });
  expect(existsSync(p)).toBe(false);
});

test("garbage after the last frame is cut off, whatever it looks like", () => {
  const w = writeWithArchiveSet([3, 4]);
  const size = w.bytes.byteLength;
  const random = (n: number) => Uint8Array.from({ length: n }, mulberry32(7));
  const tails: [string, Uint8Array][] = [
    ["zeros", new Uint8Array(4096)],
    ["random", random(333)],
    ["text", new TextEncoder().encode('{"Timestamp":"2024-05-06T07:08:10Z","RawIDM":"AAAA"}\n')],
    ["a lone magic", Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd)],
    ["a magic and junk", Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0xff, 0xff, 0xff, 0xff)],
    ["three bytes", Uint8Array.of(0x28, 0xb5, 0x2f)],
    ["a frame header of a frame never written", w.bytes.subarray(w.bounds[1], w.bounds[1] + 12)],
  ];
  const paths: string[] = [];
  for (const [what, tail] of tails) {
    const p = place(`${what.replace(/ /g, "-")}.jsonl.zst`, Buffer.concat([w.bytes, tail]));
    const r = repairArchive(p);
    expect({ what, action: r.action, bytes: r.bytes, dropped: r.droppedBytes, records: r.records }).toEqual({
      what, action: "truncated", bytes: size, dropped: tail.byteLength, records: 7,
    });
    expect(readFileSync(p).equals(w.bytes)).toBe(true);
    paths.push(p);
  }
  expect(zstdFailing(paths)).toEqual([]);
});

test("a corrupt byte inside a complete frame (checksum or data): the file is cut where that frame starts", () => {
  const w = writeWithArchiveSet([3, 6, 2]);
  const paths: string[] = [];
  const corrupt = (name: string, at: number, frame: number) => {
    const bytes = Buffer.from(w.bytes);
    bytes[at] ^= 0x5a;
    const p = place(name, bytes);
    expect(run(["zstd", "-tq", p]).code).not.toBe(0); // the damage is real
    const r = repairArchive(p);
    if (frame === 0) {
      expect(r.action).toBe("removed");
      expect(existsSync(p)).toBe(false);
      return;
    }
    expect({ name, action: r.action, bytes: r.bytes, records: r.records }).toEqual({ name, action: "truncated", bytes: w.bounds[frame], records: linesIn(w, frame) - 1 });
    expect(readFileSync(p).equals(w.bytes.subarray(0, w.bounds[frame]))).toBe(true);
    paths.push(p);
  };
  // The middle frame's content checksum (its last 4 bytes), and a byte of its compressed data.
  corrupt("checksum.jsonl.zst", w.bounds[2] - 2, 1);
  corrupt("data.jsonl.zst", Math.floor((w.bounds[1] + w.bounds[2]) / 2), 1);
  // The last frame's checksum.
  corrupt("last.jsonl.zst", w.bytes.byteLength - 1, 2);
  // The first frame: nothing is left.
  corrupt("first.jsonl.zst", w.bounds[1] - 3, 0);
  expect(zstdFailing(paths)).toEqual([]);
});

test("files written by the zstd CLI: several frames, multi-block frames, raw and RLE blocks, no checksum, skippable frames", () => {
  const meta = encodeMetadata(UUID, 4, formatTime(T0));
  const snapshotLines = (from: number, n: number) => Array.from({ length: n }, (_, i) => line(from + i, T0 + 10 * (from + i)));
  const cli = (text: Uint8Array | string, args: string[] = []) => {
    const r = run(["zstd", "-c", "-q", ...args], typeof text === "string" ? new TextEncoder().encode(text) : text);
    expect(r.code).toBe(0);
    return r.stdout;
  };
  // Frame 1: Metadata + 20 lines (checksum, content size); frame 2: 400 lines, over one
  // 128 KiB block; frame 3: a line of 300 KiB of one byte (its middle block is RLE);
  // frame 4: random bytes (raw blocks) ending in a newline; frame 5: no checksum, level 19.
  const noise = Uint8Array.from({ length: 150_000 }, mulberry32(99));
  noise[noise.byteLength - 1] = 0x0a;
  const frames = [
    cli(meta + "\n" + snapshotLines(0, 20).join("\n") + "\n"),
    cli(snapshotLines(20, 400).join("\n") + "\n", ["--no-content-size"]),
    cli("a".repeat(300_000) + "\n"),
    cli(noise),
    cli(snapshotLines(420, 5).join("\n") + "\n", ["--no-check", "-19"]),
  ];
  // The frames are the shapes meant (block types: 0 raw, 1 RLE, 2 compressed).
  expect(blockTypes(frames[1]).length).toBeGreaterThan(1);
  expect(blockTypes(frames[2])).toContain(1);
  expect(blockTypes(frames[3])).toContain(0);
  const newlines = (b: Uint8Array) => b.reduce((n, x) => n + (x === 0x0a ? 1 : 0), 0);
  const linesPer = [21, 400, 1, newlines(noise), 5];
  const whole = Buffer.concat(frames);
  const bounds = frameBounds(whole);
  expect(bounds.slice(1)).toEqual(frames.map((_, i) => frames.slice(0, i + 1).reduce((n, f) => n + f.byteLength, 0)));

  const p = place(`${UUID}.00004.jsonl.zst`, whole);
  expect(zstdFrames(p)).toBe(5);
  const total = linesPer.reduce((a, b) => a + b, 0);
  expect(repairArchive(p)).toMatchObject({ action: "intact", records: total - 1, droppedBytes: 0 });
  expect(readMetadata(p)).toEqual({ uuid: UUID, sequence: 4, startTime: T0, startTimeSubMs: 0, startTimeText: "2024-05-06T07:08:09.01Z" });

  // Torn inside each frame after the first, at its start, middle and last byte.
  const paths: string[] = [];
  for (let f = 1; f < frames.length; f++) {
    for (const cut of [bounds[f] + 1, Math.floor((bounds[f] + bounds[f + 1]) / 2), bounds[f + 1] - 1]) {
      const q = place(`cli-${f}-${cut}.jsonl.zst`, whole.subarray(0, cut));
      const r = repairArchive(q);
      const kept = linesPer.slice(0, f).reduce((a, b) => a + b, 0) - 1;
      expect({ f, cut, action: r.action, bytes: r.bytes, records: r.records }).toEqual({ f, cut, action: "truncated", bytes: bounds[f], records: kept });
      paths.push(q);
    }
  }
  expect(zstdFailing(paths)).toEqual([]);

  // A skippable frame between two frames is valid zstd (zstd -t passes): nothing is cut.
  const skippable = Buffer.alloc(8 + 16, 0x11);
  skippable.writeUInt32LE(0x184d2a5e, 0);
  skippable.writeUInt32LE(16, 4);
  const withSkip = place(`${UUID}.00005.jsonl.zst`, Buffer.concat([frames[0], skippable, frames[4]]));
  expect(zstdFailing([withSkip])).toEqual([]);
  expect(frameBounds(readFileSync(withSkip)).length).toBe(4);
  expect(repairArchive(withSkip)).toMatchObject({ action: "intact", records: 25, droppedBytes: 0 });
});

test("a file of complete frames without a Metadata line is unusable: removed", () => {
  const text = line(0, T0) + "\n" + line(1, T0 + 10) + "\n";
  const p = place(`${UUID}.00000.jsonl.zst`, run(["zstd", "-c", "-q"], new TextEncoder().encode(text)).stdout);
  expect(zstdFailing([p])).toEqual([]);
  expect(readMetadata(p)).toBeNull();
  expect(repairArchive(p)).toMatchObject({ action: "removed", records: 0, metadata: null });
  expect(existsSync(p)).toBe(false);
  // Plain, uncompressed JSONL under an archive's name is not an archive either.
  const plain = place(`${UUID}.00001.jsonl.zst`, new TextEncoder().encode(encodeMetadata(UUID, 1, formatTime(T0)) + "\n" + text));
  expect(repairArchive(plain).action).toBe("removed");
});

test("readMetadata: the first frame's Metadata line, exact to the nanosecond, even when later frames are torn; null when unreadable", () => {
  const w = writeWithArchiveSet([2, 2], 7);
  const want = { uuid: UUID, sequence: 7, startTime: T0, startTimeSubMs: SUB_MS, startTimeText: "2024-05-06T07:08:09.010123456Z" };
  expect(readMetadata(w.path)).toEqual(want);
  const torn = place("torn.jsonl.zst", w.bytes.subarray(0, w.bytes.byteLength - 5));
  expect(readMetadata(torn)).toEqual(want);
  // readMetadata only reads: the torn file is left as it was.
  expect(statSync(torn).size).toBe(w.bytes.byteLength - 5);
  expect(readMetadata(place("cut-first.jsonl.zst", w.bytes.subarray(0, w.bounds[1] - 1)))).toBeNull();
  expect(readMetadata(place("empty.jsonl.zst", new Uint8Array(0)))).toBeNull();
  expect(readMetadata(place("junk.jsonl.zst", new TextEncoder().encode("not zstd at all\n")))).toBeNull();
  expect(readMetadata(join(out, "does-not-exist.jsonl.zst"))).toBeNull();
  const bad = Buffer.from(w.bytes);
  bad[w.bounds[1] - 1] ^= 0xff; // the first frame's checksum
  expect(readMetadata(place("bad-first.jsonl.zst", bad))).toBeNull();
  // A copy moved elsewhere still names its connection.
  const copy = join(tmp.dir, "copy.zst");
  copyFileSync(w.path, copy);
  expect(readMetadata(copy)?.uuid).toBe(UUID);
});
