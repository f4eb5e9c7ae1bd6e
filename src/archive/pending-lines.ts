// The lines one connection holds until its next flush, as bytes (each with its newline) in
// one growing buffer, with where each line ends. A flush compresses a view of the buffer
// as it is; no line is ever a string. An emptied buffer goes back to a pool shared by the
// thread's writers (bounded), so the many idle connections hold nothing, busy ones reuse
// the same few buffers, and memory follows the lines actually waiting instead of what
// the garbage collector has not yet reclaimed.
import type { AttributeIndex } from "../diag/attributes.ts";
import { encodeRecordInto, recordBound } from "./record.ts";

const EMPTY = Buffer.alloc(0);
const NO_ENDS: number[] = [];
const MIN_CLASS = 11; // 2 KiB
const MAX_POOLED_CLASS = 20; // buffers above 1 MiB are rare (a failing disk): not kept
/**
 * Bytes of free buffers the pool keeps at most: enough for the busy connections flushing
 * within one tick to reuse each other's buffers, little against a 10k-connection host.
 */
const POOL_LIMIT = 2 * 1024 * 1024;

/** Free buffers by size class (2^class bytes). */
const pool: Buffer[][] = Array.from({ length: MAX_POOLED_CLASS + 1 }, () => []);
let pooledBytes = 0;

function sizeClass(n: number): number {
  return Math.max(MIN_CLASS, 32 - Math.clz32(Math.max(1, n) - 1));
}

/** A buffer of at least `n` bytes, from the pool when one is free. */
function take(n: number): Buffer {
  const c = sizeClass(n);
  const free = c <= MAX_POOLED_CLASS ? pool[c] : undefined;
  const b = free?.pop();
  if (b !== undefined) {
    pooledBytes -= b.byteLength;
    return b;
  }
  return Buffer.allocUnsafe(2 ** c);
}

function give(b: Buffer): void {
  const c = sizeClass(b.byteLength);
  if (b === EMPTY || c > MAX_POOLED_CLASS || 2 ** c !== b.byteLength || pooledBytes + b.byteLength > POOL_LIMIT) return;
  pool[c].push(b);
  pooledBytes += b.byteLength;
}

/** Lets every free buffer go (to the garbage collector). */
export function emptyPool(): void {
  for (const free of pool) free.length = 0;
  pooledBytes = 0;
}

/** Bytes the pool holds in free buffers (for tests and status). */
export function pooledBufferBytes(): number {
  return pooledBytes;
}

export class PendingLines {
  private buf: Buffer = EMPTY;
  private used = 0;
  /** End offset (exclusive, after the newline) of each line. */
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

  /** The first `n` lines (all by default), newlines included: valid until the next change. */
  view(n = this.ends.length): Uint8Array {
    return this.buf.subarray(0, this.bytesOf(n));
  }

  /** Appends the line encoded from a netlink message (see encodeRecordInto); returns its bytes. */
  appendRecord(timestamp: string, msg: Uint8Array, idm: number, attrs: AttributeIndex): number {
    this.reserve(recordBound(timestamp, attrs));
    const start = this.used;
    this.used = encodeRecordInto(this.buf, start, timestamp, msg, idm, attrs);
    this.pushEnd();
    return this.used - start;
  }

  /** Appends a line given as text (a newline is added); returns its bytes. */
  appendText(line: string): number {
    this.reserve(line.length * 3 + 1);
    const start = this.used;
    this.used += this.buf.write(line, start, "utf8");
    this.buf[this.used++] = 0x0a;
    this.pushEnd();
    return this.used - start;
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
    this.buf.copyWithin(0, cut, this.used);
    this.used -= cut;
    this.ends.splice(0, n);
    for (let i = 0; i < this.ends.length; i++) this.ends[i] -= cut;
    return cut;
  }

  clear(): void {
    give(this.buf);
    this.buf = EMPTY;
    this.used = 0;
    this.ends = NO_ENDS;
  }

  private pushEnd(): void {
    if (this.ends === NO_ENDS) this.ends = [];
    this.ends.push(this.used);
  }

  private reserve(n: number): void {
    if (this.used + n <= this.buf.byteLength) return;
    const next = take(this.used + n);
    if (this.used > 0) next.set(this.buf.subarray(0, this.used), 0);
    give(this.buf);
    this.buf = next;
  }
}
