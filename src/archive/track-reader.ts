// A connection's archives read for analysis only: per snapshot line, its time and the
// few attributes the analysis uses (tcp_info, the socket memory info, the congestion
// control name), base64-decoded into one reused buffer. It works on the decompressed
// bytes: no text is made of the lines, no JSON.parse, no decoded objects (the general
// reader spends ~50 µs a line building what a summary of 100,000 snapshots never looks
// at). Lines it cannot read are skipped, as the general reader's lenient mode does.
import { open } from "node:fs/promises";
import { decodeBase64, decodeBase64Groups } from "./base64-decode.ts";
import { eachLineRun, ZstdFormatError } from "./inflate.ts";
import { exactTimeAt, find, QUOTE, quoteAt, startsWith, timeAt } from "./line-bytes.ts";

/**
 * What a line hands its visitor, valid until the next line. The decoded attributes lie in
 * one buffer (`bytes`, with `view` over it): no object is made per line.
 */
export interface TrackLine {
  /** The Timestamp as Unix ms, with the fraction below the millisecond (see line-bytes.ts fractionMs). */
  timeMs: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Where the attribute of `type` starts in `bytes` (-1: absent or not asked for), and its length. */
  offset(type: number): number;
  length(type: number): number;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const TS_HEAD = ascii('{"Timestamp":"');
const RAW = ascii('"RawIDM":"');
const ATTRS = ascii('"Attributes":[');
const NEWLINE = 0x0a;

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
      const n = decodeBase64(buf, rawFrom, rawTo, this.scratch, 0);
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
          const n = groups === undefined ? decodeBase64(buf, pos + 1, close, this.scratch, used) : decodeBase64Groups(buf, pos + 1, close, this.scratch, used, groups);
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
