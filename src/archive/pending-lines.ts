// The lines one connection holds until its next flush, as bytes (each with its newline) in
// a chain of fixed-size chunks, with where each line ends. No line is ever a string.
//
// Why chunks: a thousand busy connections each fill ~32 KiB between flushes, together
// and over and over. One growing buffer per connection costs copies at every doubling,
// holds up to twice its lines, and leaves the outgrown buffers to the garbage collector,
// which lets them pile up (about 100 MB at 1k busy connections). Chunks of one size are
// never copied to grow, hold at most one chunk more than their lines, and go back to a
// pool that the next connection takes them from: memory follows the lines actually
// waiting. A line may span two chunks; a flush gathers the chunks into one view.
import type { AttributeIndex } from "../diag/attributes.ts";
import { encodeRecordInto, recordBound } from "./record.ts";

/**
 * Bytes per chunk: about 3 snapshot lines. Every connection's first line takes one (50k
 * new connections: 100 MB until their first write), so it stays small.
 */
export const CHUNK_BYTES = 2048;
/**
 * Bytes of free chunks the pool keeps at most. Busy connections fill up together and are
 * written together, so the chunks freed in one burst are what the next cycles take back;
 * dropping them for the collector only to allocate anew would hold both at once.
 */
const POOL_LIMIT = 16 * 1024 * 1024;

const pool: Buffer[] = [];
/** Chunks taken since the pool was last trimmed, and when that was. */
let takenSinceTrim = 0;
let lastTrimMs = 0;

function take(): Buffer {
  takenSinceTrim++;
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

/** How often the pool is trimmed to what the period before took. */
const TRIM_EVERY_MS = 250;

/**
 * Every TRIM_EVERY_MS at most: lets go of the free chunks beyond what the last period
 * took, so a burst (every connection's first line at start-up) leaves nothing behind on
 * a host that then goes quiet, while busy connections, which take chunks back every
 * cycle, keep reusing theirs.
 */
export function trimPool(nowMs: number): void {
  // A clock that went back (another set's, or the system's) starts a new period.
  if (nowMs >= lastTrimMs && nowMs - lastTrimMs < TRIM_EVERY_MS) return;
  if (pool.length > takenSinceTrim) pool.length = takenSinceTrim;
  takenSinceTrim = 0;
  lastTrimMs = nowMs;
}

function give(b: Buffer): void {
  if (pool.length * CHUNK_BYTES < POOL_LIMIT) pool.push(b);
}

/** Lets every free chunk go (to the garbage collector). */
export function emptyPool(): void {
  pool.length = 0;
}

/** Bytes the pool holds in free chunks (for tests and status). */
export function pooledBufferBytes(): number {
  return pool.length * CHUNK_BYTES;
}

// Where a line that does not fit in the rest of a chunk is encoded before it is copied
// in, and where view() gathers the chunks: one per thread, reused.
let scratch: Buffer = Buffer.allocUnsafeSlow(64 * 1024);

function scratchOf(n: number): Buffer {
  if (scratch.byteLength < n) scratch = Buffer.allocUnsafeSlow(Math.max(n, scratch.byteLength * 2));
  return scratch;
}

const NO_ENDS: number[] = [];
const NO_CHUNKS: Buffer[] = [];

export class PendingLines {
  private chunks: Buffer[] = NO_CHUNKS;
  /** Bytes held, newlines included (the chunks are full but the last). */
  private used = 0;
  /** End offset (exclusive, after the newline) of each line, from the first line's start. */
  private ends: number[] = NO_ENDS;

  get count(): number {
    return this.ends.length;
  }

  /** Bytes held, newlines included. */
  get bytes(): number {
    return this.used;
  }

  /** Bytes of the first `n` lines. */
  bytesOf(n: number): number {
    return n <= 0 ? 0 : this.ends[Math.min(n, this.ends.length) - 1];
  }

  /**
   * The first `n` lines (all by default), newlines included, as one view: of the only
   * chunk, or gathered into the thread's scratch space. Valid until the next change to
   * any PendingLines of the thread.
   */
  view(n = this.ends.length): Uint8Array {
    const len = this.bytesOf(n);
    if (len <= CHUNK_BYTES && this.chunks.length > 0) return this.chunks[0].subarray(0, len);
    const out = scratchOf(len);
    this.copyOut(0, len, out, 0);
    return out.subarray(0, len);
  }

  /** Appends the line encoded from a netlink message (see encodeRecordInto); returns its bytes. */
  appendRecord(timestamp: string, msg: Uint8Array, idm: number, attrs: AttributeIndex): number {
    const bound = recordBound(timestamp, attrs);
    const at = this.used % CHUNK_BYTES;
    if (at + bound <= CHUNK_BYTES) {
      // The common case: it fits in the last chunk (or a new one), and is encoded there.
      const last = at === 0 ? this.newChunk() : this.chunks[this.chunks.length - 1];
      const n = encodeRecordInto(last, at, timestamp, msg, idm, attrs) - at;
      return this.added(n);
    }
    const buf = scratchOf(bound);
    return this.appendBytes(buf, encodeRecordInto(buf, 0, timestamp, msg, idm, attrs));
  }

  /** Appends a line given as text (a newline is added); returns its bytes. */
  appendText(line: string): number {
    const buf = scratchOf(line.length * 3 + 1);
    let n = buf.write(line, 0, "utf8");
    buf[n++] = 0x0a;
    return this.appendBytes(buf, n);
  }

  /** Removes the first `n` lines; returns their bytes. */
  dropFirst(n: number): number {
    if (n <= 0) return 0;
    if (n >= this.ends.length) {
      const all = this.used;
      this.clear();
      return all;
    }
    const cut = this.ends[n - 1];
    // Rare (a rotation's split, lines dropped through failed writes): the rest is copied
    // to the front through the scratch space.
    const rest = this.used - cut;
    const tmp = scratchOf(rest);
    this.copyOut(cut, this.used, tmp, 0);
    const ends = this.ends.slice(n).map((e) => e - cut);
    this.clear();
    this.appendBytes(tmp, rest);
    this.ends = ends;
    return cut;
  }

  clear(): void {
    for (const c of this.chunks) give(c);
    this.chunks = NO_CHUNKS;
    this.used = 0;
    this.ends = NO_ENDS;
  }

  /** Copies `src[0, n)` in as one line (it ends in its newline). */
  private appendBytes(src: Uint8Array, n: number): number {
    let from = 0;
    while (from < n) {
      const at = this.used % CHUNK_BYTES;
      const last = at === 0 ? this.newChunk() : this.chunks[this.chunks.length - 1];
      const k = Math.min(n - from, CHUNK_BYTES - at);
      last.set(src.subarray(from, from + k), at);
      from += k;
      this.used += k;
    }
    this.pushEnd();
    return n;
  }

  /** A chunk appended to the chain (called when the chunks held are full). */
  private newChunk(): Buffer {
    if (this.chunks === NO_CHUNKS) this.chunks = [];
    const c = take();
    this.chunks.push(c);
    return c;
  }

  private added(n: number): number {
    this.used += n;
    this.pushEnd();
    return n;
  }

  private pushEnd(): void {
    if (this.ends === NO_ENDS) this.ends = [];
    this.ends.push(this.used);
  }

  /** Copies bytes [from, to) of the lines into `out` at `pos`. */
  private copyOut(from: number, to: number, out: Uint8Array, pos: number): void {
    while (from < to) {
      const c = Math.floor(from / CHUNK_BYTES);
      const at = from - c * CHUNK_BYTES;
      const k = Math.min(to - from, CHUNK_BYTES - at);
      out.set(this.chunks[c].subarray(at, at + k), pos);
      pos += k;
      from += k;
    }
  }
}
