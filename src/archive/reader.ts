// Reads an archive (.jsonl.zst with any number of frames, or plain .jsonl: detected from
// the bytes, not the name) as a stream of entries, without holding the file in memory.
//
// Malformed input never throws by default: a bad line is skipped and reported to
// `onMalformed` with its line number, and corrupt or truncated zstd data ends the read
// the same way after every complete line before it. With `strict: true` the first problem
// throws instead (ArchiveFormatError, with `.line`). Opening the file can still throw
// (ENOENT, EACCES): that is the caller's to handle.
import { createReadStream, readFileSync } from "node:fs";
import { Inflater } from "./inflate.ts";
import { ArchiveFormatError, parseLine, type ArchiveEntry } from "./parse-line.ts";

export { ArchiveFormatError, parseLine } from "./parse-line.ts";
export type { ArchiveEntry, ArchiveMetadata, MetadataEntry, SnapshotEntry } from "./parse-line.ts";

/** A file path, bytes, or chunks of bytes (process.stdin, a fetch body, …). */
export type ArchiveSource = string | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface MalformedLine {
  /** 1-based line number (for corrupt zstd data: the line that could not be read). */
  line: number;
  reason: string;
}

export interface ReadOptions {
  /** Throw on the first malformed line or corrupt data instead of skipping it. */
  strict?: boolean;
  onMalformed?: (m: MalformedLine) => void;
}

const NEWLINE = 0x0a;
const READ_CHUNK = 256 * 1024;

/** Splits bytes into lines across chunk boundaries; drops a trailing "\r" like Go's bufio.Scanner. */
class LineSplitter {
  private carry: Buffer | null = null;
  lineNo = 0;

  push(chunk: Uint8Array, out: [number, string][]): void {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, buf]);
      this.carry = null;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, start);
      if (nl < 0) break;
      this.emit(buf, start, nl, out);
      start = nl + 1;
    }
    // Copied: the chunk's memory may be reused by its producer.
    if (start < buf.byteLength) this.carry = Buffer.from(buf.subarray(start));
  }

  end(out: [number, string][]): void {
    if (this.carry !== null) this.emit(this.carry, 0, this.carry.byteLength, out);
    this.carry = null;
  }

  private emit(buf: Buffer, start: number, end: number, out: [number, string][]): void {
    this.lineNo++;
    if (end > start && buf[end - 1] === 0x0d) end--;
    if (end > start) out.push([this.lineNo, buf.toString("utf8", start, end)]);
  }
}

/** Turns chunks of (possibly compressed) bytes into entries; shared by the sync and async readers. */
class EntryDecoder {
  private readonly inflater = new Inflater();
  private readonly lines = new LineSplitter();
  private readonly pendingLines: [number, string][] = [];
  private stopped = false;
  /** Strict mode: the problem to throw once the entries before it have been handed out. */
  error: ArchiveFormatError | null = null;

  constructor(private readonly opts: ReadOptions) {}

  /** Entries decoded from `chunk`, or from the end of input when `chunk` is null. */
  feed(chunk: Uint8Array | null): ArchiveEntry[] {
    if (this.stopped) return [];
    const out: ArchiveEntry[] = [];
    try {
      const parts = chunk === null ? this.inflater.end() : this.inflater.push(chunk);
      for (const p of parts) this.lines.push(p, this.pendingLines);
      if (chunk === null) this.lines.end(this.pendingLines);
    } catch (e) {
      // Corrupt or truncated compressed data: keep the complete lines before it, then stop.
      this.stopped = true;
      this.parsePending(out);
      this.malformed(this.lines.lineNo + 1, e instanceof Error ? e.message : String(e));
      return out;
    }
    this.parsePending(out);
    return out;
  }

  private parsePending(out: ArchiveEntry[]): void {
    for (const [lineNo, text] of this.pendingLines) {
      if (this.error !== null) break;
      try {
        for (const entry of parseLine(text, lineNo)) out.push(entry);
      } catch (e) {
        if (e instanceof ArchiveFormatError) this.malformed(lineNo, e.reason);
        else throw e;
      }
    }
    this.pendingLines.length = 0;
  }

  private malformed(line: number, reason: string): void {
    if (this.opts.strict) {
      this.error = new ArchiveFormatError(line, reason);
      this.stopped = true;
      return;
    }
    this.opts.onMalformed?.({ line, reason });
  }
}

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array> {
  return typeof (x as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

/** Streams the entries of an archive. */
export async function* readArchive(source: ArchiveSource, opts: ReadOptions = {}): AsyncGenerator<ArchiveEntry> {
  const decoder = new EntryDecoder(opts);
  // Entries before a strict-mode error are handed out first, then it is thrown.
  function* take(chunk: Uint8Array | null): Generator<ArchiveEntry> {
    yield* decoder.feed(chunk);
    if (decoder.error !== null) throw decoder.error;
  }
  if (typeof source === "string") {
    const stream = createReadStream(source, { highWaterMark: READ_CHUNK });
    try {
      for await (const chunk of stream) yield* take(chunk as Buffer);
    } finally {
      stream.destroy();
    }
  } else if (source instanceof Uint8Array) {
    yield* take(source);
  } else if (isAsyncIterable(source)) {
    for await (const chunk of source) yield* take(chunk);
  } else {
    for (const chunk of source) yield* take(chunk);
  }
  yield* take(null);
}

/** The entries of an archive already in memory (or a file, read whole). */
export function* readArchiveSync(source: string | Uint8Array, opts: ReadOptions = {}): Generator<ArchiveEntry> {
  const decoder = new EntryDecoder(opts);
  for (const chunk of [typeof source === "string" ? readFileSync(source) : source, null]) {
    yield* decoder.feed(chunk);
    if (decoder.error !== null) throw decoder.error;
  }
}

export interface ArchiveContents {
  entries: ArchiveEntry[];
  malformed: MalformedLine[];
}

/** Reads a whole archive, collecting the malformed lines instead of reporting them one by one. */
export async function readArchiveAll(source: ArchiveSource, opts: Omit<ReadOptions, "onMalformed"> = {}): Promise<ArchiveContents> {
  const malformed: MalformedLine[] = [];
  const entries: ArchiveEntry[] = [];
  for await (const e of readArchive(source, { ...opts, onMalformed: (m) => malformed.push(m) })) entries.push(e);
  return { entries, malformed };
}
