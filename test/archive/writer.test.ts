// The archive writers against a real folder and the real zstd CLI: frames, rotation,
// exclusive creation, no descriptor kept, and failures that are counted, not thrown.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ArchiveSet, type ArchiveSetOptions } from "../../src/archive/archive-set.ts";
import { encodeMetadata } from "../../src/archive/record.ts";
import { readArchiveAll } from "../../src/archive/reader.ts";
import { formatTime } from "../../src/archive/time.ts";
import { mlabLine, run, tmpFolder } from "./helpers.ts";

const line = mlabLine;

const UUID = "host_1700000000_unsafe_00000000000003E8";
let tmp: ReturnType<typeof tmpFolder>;
let out: string;
const unlocks: (() => void)[] = [];

beforeEach(() => {
  tmp = tmpFolder("writer");
  out = join(tmp.dir, "out");
  mkdirSync(out);
});

afterEach(() => {
  while (unlocks.length) unlocks.pop()!();
  tmp.cleanup();
});

function newSet(opts: Partial<ArchiveSetOptions> = {}): ArchiveSet {
  return new ArchiveSet({ outputDir: out, ...opts });
}

function zstdText(path: string): string {
  const r = run(["zstd", "-dc", path]);
  expect(r.code).toBe(0);
  return r.stdout.toString("utf8");
}

function zstdFrames(path: string): number {
  const r = run(["zstd", "-lv", path]);
  expect(r.code).toBe(0);
  const m = /# Zstandard Frames: (\d+)/.exec(r.stdout.toString());
  return m ? Number(m[1]) : -1;
}

function zstdTestOk(path: string): boolean {
  return run(["zstd", "-tq", path]).code === 0;
}

/** Makes `dir` refuse new entries, for root too (immutable flag), and proves it does. */
function lock(dir: string): () => void {
  let unlock: () => void;
  if (process.getuid?.() === 0 && run(["chattr", "+i", dir]).code === 0) {
    unlock = () => void run(["chattr", "-i", dir]);
  } else {
    chmodSync(dir, 0o555);
    unlock = () => chmodSync(dir, 0o755);
  }
  unlocks.push(unlock);
  expect(() => writeFileSync(join(dir, "probe"), "x")).toThrow();
  return () => {
    unlocks.splice(unlocks.indexOf(unlock), 1);
    unlock();
  };
}

const T0 = Date.parse("2024-05-06T07:08:09.010Z");

test("lines flushed several times make one file of several frames that zstd and the reader accept", async () => {
  const set = newSet({ flushIntervalMs: 1000 });
  const w = set.open(UUID, T0);
  const written: string[] = [];
  let now = T0;
  for (let flush = 0; flush < 3; flush++) {
    for (let i = 0; i < 10; i++) {
      now += 50;
      const l = line(written.length, now);
      written.push(l);
      w.append(l, now);
    }
    expect(set.flushDue(now + 999 - 450)).toBe(0); // not yet due: first line + 1000 ms
    expect(set.flushDue(now + 1000)).toBe(1);
  }
  const path = join(out, "2024/05/06", `${UUID}.00000.jsonl.zst`);
  expect(existsSync(path)).toBe(true);
  expect(zstdTestOk(path)).toBe(true);
  expect(zstdFrames(path)).toBe(3);
  const expected = encodeMetadata(UUID, 0, "2024-05-06T07:08:09.01Z") + "\n" + written.join("\n") + "\n";
  expect(zstdText(path)).toBe(expected);

  const { entries, malformed } = await readArchiveAll(path, { strict: true });
  expect(malformed).toEqual([]);
  expect(entries.length).toBe(31);
  expect(entries[0].kind).toBe("metadata");
  expect(entries.filter((e) => e.kind === "snapshot").map((e) => e.timestamp)).toEqual(Array.from({ length: 30 }, (_, i) => T0 + 50 * (i + 1)));

  const s = set.stats();
  expect(s.filesCreated).toBe(1);
  expect(s.flushes).toBe(3);
  expect(s.recordsWritten).toBe(30);
  expect(s.bytesWritten).toBe(readFileSync(path).byteLength);
  expect(s.bytesIn).toBe(Buffer.byteLength(expected));
  expect(s.pendingRecords).toBe(0);
  expect(s.errors).toEqual({});
  expect(w.files.map((f) => ({ ...f }))).toEqual([
    { uuid: UUID, path: `2024/05/06/${UUID}.00000.jsonl.zst`, seq: 0, openedAt: T0 + 50, closedAt: null, records: 30, bytes: s.bytesWritten },
  ]);
});

test("once flushBytes are buffered, the next flushDue writes them without waiting for the interval", () => {
  const set = newSet({ flushBytes: 4096, flushIntervalMs: 60_000 });
  const w = set.open(UUID, T0);
  let n = 0;
  expect(set.nextDueMs()).toBe(Number.POSITIVE_INFINITY);
  while (set.dueNowCount === 0 && n < 100) w.append(line(n, T0 + n), T0 + n++);
  expect(n).toBeGreaterThan(1);
  expect(set.nextDueMs()).toBe(Number.NEGATIVE_INFINITY); // a full buffer is due now
  // Nothing is written inside append(): the caller's cycle is never stalled by it.
  expect(set.stats().flushes).toBe(0);
  // Due now, long before the 60 s interval.
  expect(set.flushDue(T0 + n)).toBe(1);
  expect(set.dueNowCount).toBe(0);
  expect(set.stats().recordsWritten).toBe(n);
  expect(w.pendingBytes).toBe(0);
  const path = join(out, w.files[0].path);
  expect(zstdText(path).split("\n").length).toBe(n + 2); // metadata + n lines + final ""
});

test("rotation: next seq, dated by the current UTC date, own Metadata line; existing files are never overwritten", () => {
  const start = Date.parse("2024-01-01T23:59:30Z");
  const set = newSet({ rotateMinutes: 1, flushIntervalMs: 1000 });
  const w = set.open(UUID, start);
  w.append(line(0, start + 1000), start + 1000);
  set.flushDue(start + 2000);
  const first = `2024/01/01/${UUID}.00000.jsonl.zst`;
  expect(existsSync(join(out, first))).toBe(true);

  // Someone else's file where the next one would go.
  mkdirSync(join(out, "2024/01/02"), { recursive: true });
  const squatter = join(out, `2024/01/02/${UUID}.00001.jsonl.zst`);
  writeFileSync(squatter, "precious");

  const t1 = start + 61_000; // 2024-01-02T00:00:31Z, past the first boundary (start + 60 s)
  w.append(line(1, t1), t1);
  set.flushDue(t1 + 1000);
  expect(readFileSync(squatter, "utf8")).toBe("precious");
  const second = `2024/01/02/${UUID}.00002.jsonl.zst`;
  expect(zstdTestOk(join(out, second))).toBe(true);
  const text = zstdText(join(out, second)).split("\n");
  expect(text[0]).toBe(encodeMetadata(UUID, 2, "2024-01-01T23:59:30Z"));
  expect(text[1]).toBe(line(1, t1));
  expect(zstdText(join(out, first)).split("\n")[0]).toBe(encodeMetadata(UUID, 0, "2024-01-01T23:59:30Z"));

  // Idle for several periods: the next line starts just one more file.
  const t2 = start + 10 * 60_000 + 5;
  w.append(line(2, t2), t2);
  set.flushDue(t2 + 1000);
  expect(w.files.map((f) => [f.seq, f.path, f.openedAt, f.closedAt, f.records])).toEqual([
    [0, first, start + 1000, t1, 1],
    [2, second, t1, t2, 1],
    [3, `2024/01/02/${UUID}.00003.jsonl.zst`, t2, null, 1],
  ]);
  const changes = set.takeFileChanges();
  expect(changes.map((c) => c.seq).sort()).toEqual([0, 2, 3]);
  expect(set.takeFileChanges()).toEqual([]);
  expect(set.stats().filesCreated).toBe(3);
});

test("a rotation with lines buffered writes nothing at once; the next flushDue splits them at the boundary", () => {
  const start = Date.parse("2024-03-01T10:00:00Z");
  const set = newSet({ rotateMinutes: 1, flushIntervalMs: 60_000 });
  const w = set.open(UUID, start);
  const a = line(0, start + 1000);
  const b = line(1, start + 59_000);
  const c = line(2, start + 61_000);
  w.append(a, start + 1000);
  w.append(b, start + 59_000);
  w.append(c, start + 61_000); // past the boundary at start + 60 s
  // Nothing was written inside append(): the rotation is due now, not done now.
  expect(set.stats().flushes).toBe(0);
  expect(set.dueNowCount).toBe(1);
  set.flushDue(start + 61_001);
  expect(set.dueNowCount).toBe(0);
  const files = w.files;
  expect(files.map((f) => [f.seq, f.records, f.openedAt, f.closedAt])).toEqual([
    [0, 2, start + 1000, start + 61_000],
    [1, 1, start + 61_000, null],
  ]);
  expect(zstdText(join(out, files[0].path))).toBe([encodeMetadata(UUID, 0, formatTime(start)), a, b, ""].join("\n"));
  expect(zstdText(join(out, files[1].path))).toBe([encodeMetadata(UUID, 1, formatTime(start)), c, ""].join("\n"));
  expect(set.stats().recordsWritten).toBe(3);
  expect(set.stats().pendingRecords).toBe(0);
});

test("a rotation whose write fails keeps every line, split at the same boundary, for the retry", () => {
  const start = Date.parse("2024-03-01T10:00:00Z");
  const set = newSet({ rotateMinutes: 1, flushIntervalMs: 60_000, retryMs: 10 });
  const w = set.open(UUID, start);
  w.append(line(0, start + 1000), start + 1000);
  w.append(line(1, start + 61_000), start + 61_000);
  const unlock = lock(out);
  set.flushDue(start + 61_001);
  expect(set.stats().failedFlushes).toBe(1);
  expect(set.stats().pendingRecords).toBe(2);
  w.append(line(2, start + 62_000), start + 62_000);
  unlock();
  set.flushDue(start + 62_100);
  expect(w.files.map((f) => [f.seq, f.records, f.closedAt])).toEqual([
    [0, 1, start + 61_000],
    [1, 2, null],
  ]);
  expect(zstdText(join(out, w.files[1].path)).split("\n").slice(1, 3)).toEqual([line(1, start + 61_000), line(2, start + 62_000)]);
  expect(set.stats().droppedRecords).toBe(0);
});

test("a finished file of many frames is rewritten as one frame in spare time: same lines, smaller", () => {
  const set = newSet({ flushIntervalMs: 10 });
  const w = set.open(UUID, T0);
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    const l = line(i, T0 + i * 20);
    lines.push(l);
    w.append(l, T0 + i * 20);
    set.flushDue(T0 + i * 20 + 15); // one frame per line, as a slow connection gets
  }
  const path = join(out, w.files[0].path);
  expect(zstdFrames(path)).toBe(40);
  const before = w.files[0].bytes;
  set.closeLater(UUID, T0 + 1000);
  // No spare time: closed, but not compacted yet.
  set.flushDue(T0 + 1001, 0);
  expect(set.compactBacklog).toBe(1);
  expect(zstdFrames(path)).toBe(40);
  set.flushDue(T0 + 1002);
  expect(set.compactBacklog).toBe(0);
  expect(zstdFrames(path)).toBe(1);
  expect(zstdTestOk(path)).toBe(true);
  expect(zstdText(path)).toBe([encodeMetadata(UUID, 0, formatTime(T0)), ...lines, ""].join("\n"));
  const after = statSync(path).size;
  expect(after).toBeLessThan(before / 2);
  expect(set.stats().compactedFiles).toBe(1);
  expect(set.stats().compactedBytesSaved).toBe(before - after);
  // The index hears of the new size.
  expect(set.takeFileChanges().find((f) => f.path === w.files[0].path)!.bytes).toBe(after);
  expect(existsSync(`${path}.compact`)).toBe(false);
});

test("a file changed behind the writer's back is not compacted", () => {
  const set = newSet({ flushIntervalMs: 10 });
  const w = set.open(UUID, T0);
  for (let i = 0; i < 5; i++) {
    w.append(line(i, T0 + i * 20), T0 + i * 20);
    set.flushDue(T0 + i * 20 + 15);
  }
  const path = join(out, w.files[0].path);
  writeFileSync(path, readFileSync(path).subarray(0, 10), { flag: "a" }); // someone appended
  const tampered = readFileSync(path);
  set.closeLater(UUID, T0 + 1000);
  set.flushDue(T0 + 1001);
  expect(readFileSync(path).equals(tampered)).toBe(true);
  expect(set.stats().compactedFiles).toBe(0);
  expect(set.compactBacklog).toBe(0);
});

test("a restart with the same UUID and start adds a file instead of overwriting", () => {
  const a = newSet();
  a.open(UUID, T0).append(line(0, T0), T0);
  a.closeAll(T0 + 10);
  const firstPath = join(out, `2024/05/06/${UUID}.00000.jsonl.zst`);
  const before = readFileSync(firstPath);

  const b = newSet();
  b.open(UUID, T0).append(line(1, T0 + 5000), T0 + 5000);
  b.closeAll(T0 + 5010);
  expect(readFileSync(firstPath).equals(before)).toBe(true);
  const again = join(out, `2024/05/06/${UUID}.00001.jsonl.zst`);
  expect(zstdText(again).split("\n")[0]).toBe(encodeMetadata(UUID, 1, formatTime(T0)));
});

test("a resumed connection's next file is dated by its own start; StartTime keeps the start's nanoseconds", () => {
  const set = newSet();
  const threeDaysLater = T0 + 3 * 86_400_000 + 5000;
  // Resumed at seq 4 of a connection that began three days ago, at T0 and 123456 ns.
  set.open(UUID, T0, 4, 123_456).append(line(0, threeDaysLater), threeDaysLater);
  set.closeAll(threeDaysLater + 10);
  expect(existsSync(join(out, `2024/05/09/${UUID}.00004.jsonl.zst`))).toBe(true);
  expect(existsSync(join(out, "2024/05/06"))).toBe(false);
  const meta = JSON.parse(zstdText(join(out, `2024/05/09/${UUID}.00004.jsonl.zst`)).split("\n")[0]);
  expect(meta.Metadata).toEqual({ UUID, Sequence: 4, StartTime: "2024-05-06T07:08:09.010123456Z" });
  // A connection's first file (seq 0) is still dated by its start.
  const fresh = newSet();
  fresh.open(UUID + "0", T0).append(line(0, threeDaysLater), threeDaysLater);
  fresh.closeAll(threeDaysLater + 10);
  expect(existsSync(join(out, `2024/05/06/${UUID}0.00000.jsonl.zst`))).toBe(true);
});

test("lines still buffered when the set is closed for good are counted lost, by the write error", () => {
  const set = newSet({ flushIntervalMs: 10, retryMs: 10 });
  const w = set.open(UUID, T0);
  const unlock = lock(out);
  for (let i = 0; i < 5; i++) w.append(line(0, T0 + i), T0 + i);
  const r = set.closeAll(T0 + 100);
  unlock();
  expect(r).toEqual({ unflushedWriters: 1, unflushedRecords: 5 });
  const s = set.stats();
  expect(s.droppedRecords).toBe(5);
  // The reason is the errno of the failed writes (what lock() provokes: EACCES or EPERM).
  expect(s.lostByReason).toEqual({ [s.lastError!.type]: 5 });
  expect(s.lastError!.type).toMatch(/^E[A-Z]+$/);
  // Written or lost, never both, never neither.
  expect(s.recordsWritten + s.droppedRecords).toBe(5);
  expect(s.pendingRecords).toBe(0);
});

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

test("no file descriptor is held between flushes, with 1000 connections", () => {
  const set = newSet({ flushIntervalMs: 100 });
  const writers = Array.from({ length: 1000 }, (_, i) => set.open(`p_${i.toString(16).toUpperCase().padStart(16, "0")}`, T0));
  set.flushDue(T0);
  const before = openFds();
  for (let round = 0; round < 3; round++) {
    const now = T0 + round * 1000;
    writers.forEach((w, i) => w.append(line(i, now), now));
    expect(set.flushDue(now + 100)).toBe(1000);
    expect(openFds()).toBeLessThanOrEqual(before + 2);
  }
  const s = set.stats();
  expect(s.filesCreated).toBe(1000);
  expect(s.recordsWritten).toBe(3000);
  expect(s.errors).toEqual({});
  expect(readdirSync(join(out, "2024/05/06")).length).toBe(1000);
});

test("an unwritable folder: counted errors, no throw, lines kept and written once it is writable", async () => {
  const set = newSet({ flushIntervalMs: 1000, retryMs: 500 });
  const w = set.open(UUID, T0);
  const unlock = lock(out);
  const lines: string[] = [];
  for (let i = 0; i < 5; i++) {
    lines.push(line(i, T0 + i));
    w.append(lines[i], T0 + i);
  }
  expect(set.nextDueMs()).toBe(T0 + 1000); // the first line + the interval
  expect(() => set.flushDue(T0 + 1000)).not.toThrow();
  expect(set.nextDueMs()).toBe(T0 + 1500); // the failure + retryMs
  let s = set.stats();
  expect(s.flushes).toBe(0);
  expect(s.failedFlushes).toBe(1);
  const errorTypes = Object.keys(s.errors);
  expect(errorTypes.length).toBe(1);
  expect(["EACCES", "EPERM"]).toContain(errorTypes[0]);
  expect(s.lastError?.uuid).toBe(UUID);
  expect(w.pendingRecords).toBe(5);
  expect(s.retryWriters).toBe(1);

  // Retried only after retryMs; still failing meanwhile.
  expect(set.flushDue(T0 + 1400)).toBe(0);
  lines.push(line(5, T0 + 1450));
  w.append(lines[5], T0 + 1450);
  expect(set.flushDue(T0 + 1500)).toBe(1);
  expect(set.stats().failedFlushes).toBe(2);

  unlock();
  expect(set.flushDue(T0 + 1999)).toBe(0);
  expect(set.flushDue(T0 + 2000)).toBe(1);
  expect(set.nextDueMs()).toBe(Number.POSITIVE_INFINITY); // nothing buffered
  s = set.stats();
  expect(s.flushes).toBe(1);
  expect(s.recordsWritten).toBe(6);
  expect(s.pendingRecords).toBe(0);
  expect(s.retryWriters + s.dirtyWriters).toBe(0);
  const { entries } = await readArchiveAll(join(out, w.files[0].path), { strict: true });
  expect(entries.length).toBe(7);
  expect(zstdText(join(out, w.files[0].path))).toBe(encodeMetadata(UUID, 0, formatTime(T0)) + "\n" + lines.join("\n") + "\n");
});

test("buffered lines are bounded while writes fail: the oldest are dropped and counted", () => {
  const one = line(0, T0).length + 1;
  const set = newSet({ flushIntervalMs: 10, retryMs: 10, maxPendingBytes: 3 * one + 10, flushBytes: 1 << 20 });
  const w = set.open(UUID, T0);
  const unlock = lock(out);
  const lines: string[] = [];
  for (let i = 0; i < 10; i++) {
    const now = T0 + i * 20;
    lines.push(line(0, now)); // same length every time
    w.append(lines[i], now);
    set.flushDue(now + 10);
  }
  const s = set.stats();
  expect(w.pendingRecords).toBe(3);
  expect(s.droppedRecords).toBe(7);
  expect(s.errors.dropped).toBe(7);
  expect(s.pendingBytes).toBe(w.pendingBytes);
  unlock();
  set.flushDue(T0 + 10_000);
  expect(zstdText(join(out, w.files[0].path)).split("\n").slice(1, 4)).toEqual(lines.slice(7));
});

test("pressed means past three quarters of the memory bound, not past half where writers already write early", () => {
  const one = line(0, T0).length + 1;
  const set = newSet({ flushIntervalMs: 10_000, retryMs: 10_000, maxTotalPendingBytes: 8 * one, flushBytes: 1 << 20 });
  // Writes fail, so what is appended stays buffered whatever writing early would do.
  const unlock = lock(out);
  const ws = Array.from({ length: 7 }, (_, i) => set.open(`${UUID}${i}`, T0));
  for (let i = 0; i < 6; i++) ws[i].append(line(0, T0), T0 + i);
  expect(set.stats().pendingBytes).toBe(6 * one); // three quarters exactly
  expect(set.pressed).toBe(false);
  ws[6].append(line(0, T0), T0 + 6);
  expect(set.stats().pendingBytes).toBe(7 * one);
  expect(set.pressed).toBe(true);
  unlock();
});

test("the total buffered by all writers is bounded too", () => {
  const one = line(0, T0).length + 1;
  const set = newSet({ flushIntervalMs: 10_000, retryMs: 10_000, maxTotalPendingBytes: 5 * one, flushBytes: 1 << 20 });
  const unlock = lock(out);
  const ws = Array.from({ length: 4 }, (_, i) => set.open(`${UUID}${i}`, T0));
  for (let r = 0; r < 3; r++) ws.forEach((w, i) => w.append(line(0, T0 + r), T0 + r));
  const s = set.stats();
  expect(s.pendingBytes).toBeLessThanOrEqual(5 * one);
  expect(s.pendingRecords + s.droppedRecords).toBe(12);
  expect(s.droppedRecords).toBeGreaterThan(0);
  unlock();
});

test("a failed append (disk full) leaves no partial frame; the retry writes everything", () => {
  const set = newSet({ flushIntervalMs: 100, retryMs: 100 });
  const w = set.open(UUID, T0);
  const lines = [line(0, T0)];
  w.append(lines[0], T0);
  set.flushDue(T0 + 100);
  const path = join(out, w.files[0].path);
  const saved = path + ".saved";
  renameSync(path, saved);
  symlinkSync("/dev/full", path);
  lines.push(line(1, T0 + 200));
  w.append(lines[1], T0 + 200);
  set.flushDue(T0 + 300);
  expect(set.stats().errors.ENOSPC).toBe(1);
  expect(w.pendingRecords).toBe(1);
  // Put the real file back: the retry appends to it.
  unlinkSync(path);
  renameSync(saved, path);
  set.flushDue(T0 + 400);
  expect(zstdTestOk(path)).toBe(true);
  expect(zstdFrames(path)).toBe(2);
  expect(zstdText(path)).toBe(encodeMetadata(UUID, 0, formatTime(T0)) + "\n" + lines.join("\n") + "\n");
  expect(w.files[0].records).toBe(2);
});

test("close writes the rest, closes the file, and refuses later lines", () => {
  const set = newSet({ flushIntervalMs: 60_000 });
  const w = set.open(UUID, T0);
  w.append(line(0, T0), T0);
  set.takeFileChanges();
  expect(set.close(UUID, T0 + 5)).toBe(true);
  const [f] = set.takeFileChanges();
  expect(f.closedAt).toBe(T0 + 5);
  expect(f.records).toBe(1);
  w.append(line(1, T0 + 6), T0 + 6);
  expect(set.stats().errors.closed).toBe(1);
  expect(set.stats().liveWriters).toBe(0);
  expect(set.get(UUID)).toBeUndefined();
  expect(zstdText(join(out, f.path)).split("\n").length).toBe(3);
});

test("a close whose flush fails is retried by flushDue until written", () => {
  const set = newSet({ flushIntervalMs: 100, retryMs: 100 });
  const w = set.open(UUID, T0);
  w.append(line(0, T0), T0);
  const unlock = lock(out);
  expect(set.close(UUID, T0 + 1)).toBe(false);
  expect(set.stats().liveWriters).toBe(1);
  unlock();
  expect(set.flushDue(T0 + 101)).toBe(1);
  expect(set.stats().liveWriters).toBe(0);
  expect(w.files[0].closedAt).toBe(T0 + 1);
  expect(set.takeFileChanges().map((f) => f.closedAt)).toEqual([T0 + 1]);
});

test("closeLater writes nothing at once; flushDue writes closed connections first, within its budget", () => {
  const set = newSet({ flushIntervalMs: 60_000 });
  for (let i = 0; i < 200; i++) {
    const uuid = `${UUID.slice(0, -4)}${String(i).padStart(4, "0")}`;
    set.open(uuid, T0).append(line(i, T0), T0);
    set.closeLater(uuid, T0 + 1);
  }
  expect(set.dueNowCount).toBe(200);
  expect(set.stats().filesCreated).toBe(0);
  // A zero budget still makes progress (one write), so a closed connection never starves.
  expect(set.flushDue(T0 + 2, 0)).toBe(1);
  expect(set.dueNowCount).toBe(199);
  // Due now, not after flushIntervalMs: closed connections do not wait for the timer.
  set.flushDue(T0 + 2);
  expect(set.dueNowCount).toBe(0);
  expect(set.stats().filesCreated).toBe(200);
  expect(set.stats().liveWriters).toBe(0);
  const files = set.takeFileChanges();
  expect(files.length).toBe(200);
  for (const f of files) {
    expect(f.closedAt).toBe(T0 + 1);
    expect(f.records).toBe(1);
    expect(zstdTestOk(join(out, f.path))).toBe(true);
  }
});

test("closeAll writes every connection's buffered lines", async () => {
  const set = newSet({ flushIntervalMs: 60_000 });
  for (let i = 0; i < 20; i++) set.open(`${UUID}_${i}`, T0).append(line(i, T0 + i), T0 + i);
  expect(set.closeAll(T0 + 100)).toEqual({ unflushedWriters: 0, unflushedRecords: 0 });
  const s = set.stats();
  expect(s.filesCreated).toBe(20);
  expect(s.recordsWritten).toBe(20);
  expect(s.liveWriters).toBe(0);
  expect(set.takeFileChanges().every((f) => f.closedAt === T0 + 100)).toBe(true);
});

test("lines larger than the shared scratch space, and non-ASCII UUIDs, are written intact", async () => {
  const set = newSet();
  const uuid = "hôte_1_unsafe_0000000000000001";
  const w = set.open(uuid, T0);
  const big = `{"Timestamp":"${formatTime(T0)}","RawIDM":"${Buffer.alloc(72).toString("base64")}","Attributes":[null,"${Buffer.alloc(300_000, 7).toString("base64")}"]}`;
  w.append(big, T0);
  w.append(line(1, T0 + 1), T0 + 1);
  set.closeAll(T0 + 2);
  const path = join(out, w.files[0].path);
  expect(zstdText(path)).toBe(encodeMetadata(uuid, 0, formatTime(T0)) + "\n" + big + "\n" + line(1, T0 + 1) + "\n");
  const { entries } = await readArchiveAll(path, { strict: true });
  expect(entries[0].kind === "metadata" && entries[0].metadata.uuid).toBe(uuid);
  expect(entries[1].kind === "snapshot" && entries[1].attributes[1]?.byteLength).toBe(300_000);
  expect(set.stats().bytesIn).toBe(Buffer.byteLength(zstdText(path)));
});

test("past the memory bound the buffers that are due are written first, not the line that crossed it", () => {
  // One busy connection holds most of the memory; idle ones each add a line and cross
  // the bound. Writing the one that crossed would cost a one-line frame per line.
  const one = line(0, T0).length + 1;
  const hot = Math.ceil(9 * 1024 / one);
  // Lines of one message: only the timestamp's length varies (a few bytes).
  const lines = Array.from({ length: hot }, (_, r) => line(0, T0 + r));
  const bound = lines.reduce((n, l) => n + l.length + 1, 0) + 10 * one;
  const set = newSet({ flushIntervalMs: 60_000, maxTotalPendingBytes: bound, flushBytes: 1 << 20 });
  const busy = set.open(`${UUID}b`, T0);
  lines.forEach((l, r) => busy.append(l, T0 + r));
  expect(set.dueNowCount).toBe(1);
  expect(set.stats().flushes).toBe(0);
  // Twelve idle connections: the eleventh line crosses the bound.
  const idle = Array.from({ length: 12 }, (_, i) => set.open(`${UUID}${i}`, T0));
  idle.forEach((w) => w.append(line(0, T0 + hot), T0 + hot));
  const s = set.stats();
  expect(s.droppedRecords).toBe(0);
  expect(s.pendingBytes).toBeLessThanOrEqual(bound);
  // One write: the busy connection's whole buffer; every idle line still waits.
  expect(s.flushes).toBe(1);
  expect(s.recordsWritten).toBe(hot);
  expect(s.pendingRecords).toBe(12);
  set.closeAll(T0 + hot + 1);
  expect(zstdText(join(out, busy.files[0].path)).trim().split("\n").length).toBe(hot + 1);
});

test("past half the memory bound a connection holding 8 KiB is due at its next line", () => {
  const one = line(0, T0).length + 1;
  const set = newSet({ flushIntervalMs: 60_000, maxTotalPendingBytes: 64 * 1024, flushBytes: 1 << 20 });
  const w = set.open(UUID, T0);
  let n = 0;
  // Under half the bound: 8 KiB stays buffered.
  while (set.stats().pendingBytes < 9 * 1024) w.append(line(n, T0 + n), T0 + n++);
  expect(set.dueNowCount).toBe(0);
  while (set.stats().pendingBytes <= 32 * 1024) w.append(line(n, T0 + n), T0 + n++);
  expect(set.dueNowCount).toBe(1);
  expect(set.flushDue(T0 + n)).toBe(1);
  expect(set.stats().recordsWritten).toBe(n);
  expect(n * one).toBeGreaterThan(32 * 1024);
});
