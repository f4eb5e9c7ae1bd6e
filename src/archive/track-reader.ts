// A connection's archives read for analysis only: per snapshot line, its time and the
// few attributes the analysis uses (tcp_info, the socket memory info, the congestion
// control name), base64-decoded into one reused buffer. It works on the decompressed
// bytes: no text is made of the lines, no JSON.parse, no decoded objects (the general
// reader spends ~50 µs a line building what a summary of 100,000 snapshots never looks
// at). Lines it cannot read are skipped, as the general reader's lenient mode does.
import { open } from "node:fs/promises";
import { eachLineRun, ZstdFormatError } from "./inflate.ts";

/**
 * What a line hands its visitor, valid until the next line. The decoded attributes lie in
 * one buffer (`bytes`, with `view` over it): no object is made per line.
 */
export interface TrackLine {
  /** The Timestamp as Unix ms, with the fraction below the millisecond (see fractionMs). */
  timeMs: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Where the attribute of `type` starts in `bytes` (-1: absent or not asked for), and its length. */
  offset(type: number): number;
  length(type: number): number;
}

/** `digits` fraction digits of a second, as the integer `value`, in ms: one formula for every reader. */
export function fractionMs(value: number, digits: number): number {
  return (value * 1000) / 10 ** digits;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const TS_HEAD = ascii('{"Timestamp":"');
const RAW = ascii('"RawIDM":"');
const ATTRS = ascii('"Attributes":[');
const QUOTE = 0x22;
const NEWLINE = 0x0a;

/** Base64 alphabet value of each byte; 255 for '=' and anything else. */
const B64 = new Uint8Array(256).fill(255);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((c, i) => (B64[c.charCodeAt(0)] = i));
/** Two base64 characters (the first in the low byte) to their 12 bits; -1 if either is not one. */
const B64_PAIR = new Int16Array(65536).fill(-1);
for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) if (B64[a] !== 255 && B64[b] !== 255) B64_PAIR[a | (b << 8)] = (B64[a] << 6) | B64[b];

function startsWith(buf: Uint8Array, at: number, s: Uint8Array): boolean {
  if (at + s.length > buf.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[at + i] !== s[i]) return false;
  return true;
}

/** Where `s` starts in buf[from, to), or -1. */
function find(buf: Uint8Array, s: Uint8Array, from: number, to: number): number {
  const first = s[0];
  for (let i = buf.indexOf(first, from); i >= 0 && i + s.length <= to; i = buf.indexOf(first, i + 1)) {
    if (startsWith(buf, i, s)) return i;
  }
  return -1;
}

/**
 * The first '"' in buf[from, end), or -1. Most strings of a line are short (a time, a
 * small attribute): a plain loop finds their end sooner than a native call; past 32
 * bytes (tcp_info is ~330) the native search is ten times faster.
 */
function quoteAt(buf: Uint8Array, from: number, end: number): number {
  let i = from;
  const near = Math.min(end, from + 32);
  while (i < near && buf[i] !== QUOTE) i++;
  if (i < near) return i;
  if (near === end) return -1;
  const q = buf.indexOf(QUOTE, near);
  return q < end ? q : -1;
}

/** `n` ASCII digits at `at` as a number, or NaN. */
function digits(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[at + i] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** The last `YYYY-MM-DDTHH` seen, and its Unix ms: snapshots come in time order, an hour's share one. */
const lastHour = new Uint8Array(13);
let lastHourMs = Number.NaN;

/** Unix ms of the whole seconds of `YYYY-MM-DDTHH:MM:SS` at buf[at, at + 19), or NaN. */
function wholeMs(buf: Uint8Array, at: number): number {
  let same = !Number.isNaN(lastHourMs);
  for (let i = 0; i < 13 && same; i++) same = buf[at + i] === lastHour[i];
  if (!same) {
    lastHourMs = Date.UTC(digits(buf, at, 4), digits(buf, at + 5, 2) - 1, digits(buf, at + 8, 2), digits(buf, at + 11, 2));
    lastHour.set(buf.subarray(at, at + 13));
  }
  // Out-of-range minutes or seconds carry over, as Date.UTC's do.
  return lastHourMs + digits(buf, at + 14, 2) * 60_000 + digits(buf, at + 17, 2) * 1000;
}

/** Unix ms of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` at buf[at, end), or NaN. */
function timeAt(buf: Uint8Array, at: number, end: number): number {
  if (end - at < 20 || buf[end - 1] !== 0x5a) return NaN;
  const whole = wholeMs(buf, at);
  if (end - at === 20) return whole;
  const n = end - at - 21;
  return whole + fractionMs(digits(buf, at + 20, n), n);
}

/**
 * Attributes of which only some bytes are read: per type, [from, to) byte ranges. Only
 * those are decoded (and checked); the line's other bytes of it are not meaningful.
 */
export type AttributeParts = ReadonlyMap<number, readonly (readonly [number, number])[]>;

/** A snapshot line as scanArchiveSync hands it: also its exact time and its inet_diag_msg. */
export interface ScannedLine extends TrackLine {
  /** The Timestamp exactly: Unix seconds and nanoseconds. */
  sec: number;
  nsec: number;
  /** Where the decoded RawIDM lies in `bytes`. */
  idmOffset: number;
  idmLength: number;
}

/** Decoded attribute bytes, by type, for the current line. */
class LineAttrs implements ScannedLine {
  timeMs = 0;
  sec = 0;
  nsec = 0;
  idmOffset = 0;
  idmLength = 0;
  private readonly scratch = new Uint8Array(64 * 1024);
  readonly bytes = this.scratch;
  readonly view = new DataView(this.scratch.buffer);
  private readonly start = new Int32Array(64).fill(-1);
  /** The types the current line set in `start`, and how many. */
  private readonly foundTypes = new Uint8Array(64);
  private found = 0;
  private readonly len = new Int32Array(64);
  private readonly wanted = new Uint8Array(64);
  /** For types read in part: the 4-character groups (3 bytes each) to decode, as [from, to) pairs. */
  private readonly groups: (Int32Array | undefined)[] = [];

  constructor(types: readonly number[], parts?: AttributeParts) {
    for (const t of types) if (t < 64) this.wanted[t] = 1;
    for (const [t, ranges] of parts ?? []) {
      const runs: number[] = [];
      for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
        const ga = Math.floor(a / 3);
        const gb = Math.ceil(b / 3);
        if (runs.length > 0 && ga <= runs[runs.length - 1]) runs[runs.length - 1] = Math.max(runs[runs.length - 1], gb);
        else runs.push(ga, gb);
      }
      this.groups[t] = Int32Array.from(runs);
    }
  }

  /**
   * Indexes the Attributes array at buf[from, end) and decodes the wanted ones (after the
   * RawIDM at buf[rawFrom, rawTo), when given). False if malformed.
   */
  load(buf: Uint8Array, from: number, end: number, rawFrom = -1, rawTo = -1): boolean {
    // The Attributes key follows the RawIDM value in every writer's lines; searched for otherwise.
    let pos = buf[from + 1] === 0x2c && startsWith(buf, from + 2, ATTRS) ? from + 2 : find(buf, ATTRS, from, end);
    if (pos < 0) return false;
    pos += ATTRS.length;
    // Forget the last line's attributes: a few stores, not a native fill of all 64.
    for (let k = 0; k < this.found; k++) this.start[this.foundTypes[k]] = -1;
    this.found = 0;
    let used = 0;
    if (rawFrom >= 0) {
      const n = this.decode(buf, rawFrom, rawTo, 0);
      if (n < 0) return false;
      this.idmOffset = 0;
      this.idmLength = n;
      used = (n + 7) & ~7;
    }
    for (let type = 0; type < 64; type++) {
      if (buf[pos] === 0x6e) {
        pos += 4; // null
      } else if (buf[pos] === QUOTE) {
        const close = quoteAt(buf, pos + 1, end);
        if (close < 0) return false;
        if (this.wanted[type] === 1) {
          const groups = this.groups[type];
          const n = groups === undefined ? this.decode(buf, pos + 1, close, used) : this.decodeParts(buf, pos + 1, close, used, groups);
          if (n < 0) return false;
          this.start[type] = used;
          this.len[type] = n;
          this.foundTypes[this.found++] = type;
          // Each attribute starts 8-byte aligned: readers copy whole fields as words.
          used = (used + n + 7) & ~7;
        }
        pos = close + 1;
      } else {
        return false;
      }
      if (buf[pos] === 0x5d) return true; // ]
      if (buf[pos] !== 0x2c) return false; // ,
      pos++;
    }
    return false;
  }

  /** Standard base64 of buf[from, to) into the scratch at `out`; its length, or -1. */
  private decode(buf: Uint8Array, from: number, to: number, out: number): number {
    let end = to;
    while (end > from && buf[end - 1] === 0x3d) end--; // '='
    if (out + ((end - from) * 3) / 4 + 3 > this.scratch.length) return -1;
    const s = this.scratch;
    let o = out;
    let i = from;
    // Two characters per lookup: half the table reads of one per character.
    for (; i + 4 <= end; i += 4) {
      const h = B64_PAIR[buf[i] | (buf[i + 1] << 8)];
      const l = B64_PAIR[buf[i + 2] | (buf[i + 3] << 8)];
      if ((h | l) < 0) return -1;
      s[o++] = h >>> 4;
      s[o++] = ((h & 15) << 4) | (l >>> 8);
      s[o++] = l & 255;
    }
    const left = end - i;
    if (left === 2 || left === 3) {
      const v = (B64[buf[i]] << 18) | (B64[buf[i + 1]] << 12) | (left === 3 ? B64[buf[i + 2]] << 6 : 0);
      s[o++] = v >>> 16;
      if (left === 3) s[o++] = (v >>> 8) & 255;
    } else if (left === 1) return -1;
    return o - out;
  }

  /**
   * Like decode, but only the groups of 4 characters in `groups` (and a short last group):
   * the bytes in between are left as they were. Its length, or -1.
   */
  private decodeParts(buf: Uint8Array, from: number, to: number, out: number, groups: Int32Array): number {
    let end = to;
    while (end > from && buf[end - 1] === 0x3d) end--; // '='
    const chars = end - from;
    if ((chars & 3) === 1 || out + ((chars * 3) >> 2) + 3 > this.scratch.length) return -1;
    const s = this.scratch;
    const whole = chars >> 2;
    for (let r = 0; r < groups.length; r += 2) {
      const last = Math.min(groups[r + 1], whole);
      for (let g = groups[r]; g < last; g++) {
        const i = from + 4 * g;
        const a = B64[buf[i]], b = B64[buf[i + 1]], c = B64[buf[i + 2]], d = B64[buf[i + 3]];
        if ((a | b | c | d) === 255) return -1;
        const v = (a << 18) | (b << 12) | (c << 6) | d;
        const o = out + 3 * g;
        s[o] = v >>> 16;
        s[o + 1] = (v >>> 8) & 255;
        s[o + 2] = v & 255;
      }
    }
    const left = chars & 3;
    if (left !== 0) {
      const i = from + 4 * whole;
      const v = (B64[buf[i]] << 18) | (B64[buf[i + 1]] << 12) | (left === 3 ? B64[buf[i + 2]] << 6 : 0);
      s[out + 3 * whole] = v >>> 16;
      if (left === 3) s[out + 3 * whole + 1] = (v >>> 8) & 255;
    }
    return (chars * 3) >> 2;
  }

  offset(type: number): number {
    return this.start[type];
  }

  length(type: number): number {
    return this.start[type] < 0 ? 0 : this.len[type];
  }

}

/**
 * The line loop both readers share: each snapshot line's time and wanted attributes (and
 * its RawIDM, with `raw`) decoded into `attrs`, then `visit`; `bad` hears of each snapshot
 * line that cannot be read (skipped). Metadata lines are skipped.
 */
function eachLine(body: Uint8Array, attrs: LineAttrs, raw: boolean, visit: (line: LineAttrs) => void, bad: () => void): void {
  let from = 0;
  while (from < body.length) {
    let nl = body.indexOf(NEWLINE, from);
    if (nl < 0) nl = body.length;
    const line = from;
    from = nl + 1;
    if (nl === line) continue;
    if (!startsWith(body, line, TS_HEAD)) {
      bad();
      continue;
    }
    const tsAt = line + TS_HEAD.length;
    const tsEnd = quoteAt(body, tsAt, nl);
    if (tsEnd < 0) {
      bad();
      continue;
    }
    // The RawIDM key comes next in every writer's lines; searched for otherwise.
    const rawAt = body[tsEnd + 1] === 0x2c && startsWith(body, tsEnd + 2, RAW) ? tsEnd + 2 : find(body, RAW, tsEnd, nl);
    if (rawAt < 0) continue; // a Metadata line
    attrs.timeMs = timeAt(body, tsAt, tsEnd);
    const rawFrom = rawAt + RAW.length;
    const rawTo = quoteAt(body, rawFrom, nl);
    let ok = !Number.isNaN(attrs.timeMs) && rawTo >= 0;
    if (ok && raw) ok = exactTimeAt(body, tsAt, tsEnd, attrs) && attrs.load(body, rawTo, nl, rawFrom, rawTo);
    else if (ok) ok = attrs.load(body, rawTo, nl);
    if (ok) visit(attrs);
    else bad();
  }
}

/**
 * Calls `visit` for every snapshot line of each file in order (Metadata lines and lines
 * that cannot be read are skipped; corrupt or truncated zstd data ends a file after the
 * whole lines before it, as the general reader's lenient mode does). `types` are the
 * attribute types to decode.
 */
export async function readTrackLines(paths: readonly string[], types: readonly number[], visit: (line: TrackLine) => void, parts?: AttributeParts): Promise<void> {
  const attrs = new LineAttrs(types, parts);
  const none = () => {};
  for (const path of paths) {
    const raw = await readWhole(path);
    try {
      eachLineRun(raw, (run) => eachLine(run, attrs, false, visit, none));
    } catch (e) {
      if (!(e instanceof ZstdFormatError)) throw e;
    } finally {
      spareRead = raw.buffer.byteLength > (spareRead?.byteLength ?? 0) ? new Uint8Array(raw.buffer) : spareRead;
    }
  }
}

/** The buffer of the last file read, for the next: fresh memory costs page faults on first touch. */
let spareRead: Uint8Array | null = null;

/** A file's bytes, in the spare buffer when it is free and big enough (a read in progress holds it). */
async function readWhole(path: string): Promise<Uint8Array> {
  const file = await open(path, "r");
  try {
    const size = (await file.stat()).size;
    let buf = spareRead !== null && spareRead.byteLength >= size ? spareRead : new Uint8Array(size);
    if (buf === spareRead) spareRead = null;
    let got = 0;
    // A live archive may grow meanwhile: what it held when asked is enough.
    while (got < size) {
      const { bytesRead } = await file.read(buf, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await file.close();
  }
}

/** Exact time of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` at buf[at, end) into `out` (sec, nsec); false if not that. */
function exactTimeAt(buf: Uint8Array, at: number, end: number, out: { sec: number; nsec: number }): boolean {
  if (end - at < 20 || buf[end - 1] !== 0x5a) return false;
  const ms = wholeMs(buf, at);
  if (Number.isNaN(ms)) return false;
  out.sec = ms / 1000;
  out.nsec = 0;
  if (end - at === 20) return true;
  const n = end - at - 21;
  if (buf[at + 19] !== 0x2e || n < 1 || n > 9) return false;
  const f = digits(buf, at + 20, n);
  if (Number.isNaN(f)) return false;
  out.nsec = f * 10 ** (9 - n);
  return true;
}

/**
 * Every snapshot line of one archive's bytes (zstd or plain), with its exact time, its
 * RawIDM and the attributes of `types` decoded into one reused buffer; `bad` hears of
 * each snapshot line that cannot be read (skipped). Metadata lines are skipped. Corrupt
 * or truncated zstd data throws ZstdFormatError after the whole lines before it.
 */
export function scanArchiveLines(raw: Uint8Array, types: readonly number[], visit: (line: ScannedLine) => void, bad: () => void): void {
  // One LineAttrs (64 KB of scratch) per list of types, not per file: an export scans
  // thousands of files. A scan from inside `visit` gets its own.
  const reuse = scanned !== null && scanned.types === types;
  const attrs = reuse ? scanned!.attrs : new LineAttrs(types);
  scanned = null;
  try {
    eachLineRun(raw, (run) => eachLine(run, attrs, true, visit, bad));
  } finally {
    scanned = { types, attrs };
  }
}

/** The last scan's types and LineAttrs, free for the next scan (null while one runs). */
let scanned: { types: readonly number[]; attrs: LineAttrs } | null = null;
