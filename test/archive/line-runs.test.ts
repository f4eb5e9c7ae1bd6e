// eachLineRun decompresses through one reused buffer and hands out runs of whole lines:
// every byte must come out once, in order, split only at newlines, whatever the frames,
// the line lengths or a tear at the end.
import { expect, test } from "bun:test";
import { compress } from "zstd-napi";
import { eachLineRun, ZstdFormatError } from "../../src/archive/inflate.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function linesOf(n: number, width: (i: number) => number): string[] {
  return Array.from({ length: n }, (_, i) => `{"i":${i},"pad":"${"x".repeat(width(i))}"}`);
}

/** The lines as zstd frames of about `perFrame` bytes each, cut anywhere (not at newlines). */
function framed(text: string, perFrame: number): Uint8Array {
  const bytes = enc.encode(text);
  const frames: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += perFrame) frames.push(compress(bytes.subarray(at, at + perFrame)));
  return Buffer.concat(frames);
}

function collect(raw: Uint8Array): { text: string; runs: number } {
  let text = "";
  let runs = 0;
  eachLineRun(raw, (run) => {
    runs++;
    // Runs end at a newline (the last may not, if the file does not).
    text += dec.decode(run);
  });
  return { text, runs };
}

test("frames cut mid-line, and 40 MB of lines, come out whole and in order", () => {
  const text = linesOf(120_000, (i) => 200 + (i % 300)).join("\n") + "\n";
  expect(text.length).toBeGreaterThan(40_000_000);
  const raw = framed(text, 77_777);
  const got = collect(raw);
  expect(got.text).toBe(text);
  // Through a 1 MiB buffer: many runs, never the whole file at once.
  expect(got.runs).toBeGreaterThan(30);
});

test("every run but the last ends with a newline; a missing last newline still gives the last line", () => {
  const text = linesOf(5000, () => 100).join("\n");
  const ends: number[] = [];
  const all: string[] = [];
  eachLineRun(framed(text, 10_000), (run) => {
    ends.push(run[run.length - 1]);
    all.push(dec.decode(run));
  });
  expect(all.join("")).toBe(text);
  expect(ends.slice(0, -1).every((b) => b === 0x0a)).toBe(true);
});

test("a line longer than the buffer (3 MB) grows it and arrives whole", () => {
  const lines = ["short", "y".repeat(3 << 20), "after"];
  const text = lines.join("\n") + "\n";
  expect(collect(framed(text, 1 << 16)).text).toBe(text);
});

test("a torn last frame: the whole lines before it, then ZstdFormatError", () => {
  const text = linesOf(2000, () => 500).join("\n") + "\n";
  const raw = framed(text, 100_000);
  const torn = raw.subarray(0, raw.length - 1000);
  let got = "";
  expect(() => eachLineRun(torn, (run) => (got += dec.decode(run)))).toThrow(ZstdFormatError);
  expect(got.length).toBeGreaterThan(0);
  expect(got.endsWith("\n")).toBe(true);
  expect(text.startsWith(got)).toBe(true);
  // The next file reads cleanly: the context was left mid-frame and is reset.
  expect(collect(raw).text).toBe(text);
});

test("corrupt bytes in the middle throw ZstdFormatError; plain (uncompressed) input passes through", () => {
  const text = linesOf(3000, () => 300).join("\n") + "\n";
  const raw = framed(text, 50_000);
  // Garbage where the second frame should start.
  const first = compress(enc.encode(text).subarray(0, 50_000));
  const bad = Buffer.concat([first, Buffer.alloc(64, 0x41), raw.subarray(first.length)]);
  let got = "";
  expect(() => eachLineRun(bad, (run) => (got += dec.decode(run)))).toThrow(ZstdFormatError);
  expect(text.startsWith(got)).toBe(true);
  expect(collect(enc.encode(text)).text).toBe(text);
  expect(collect(new Uint8Array(0)).runs).toBe(0);
});
