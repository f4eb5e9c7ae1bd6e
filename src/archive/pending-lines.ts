// The lines one connection holds until its next flush, as bytes (each with its newline) in
// one growing buffer, with where each line ends. A flush compresses a view of the buffer
// as it is; no line is ever a string. An emptied buffer is let go, so the many idle
// connections hold nothing, and memory follows the lines actually waiting.
import type { AttributeIndex } from "../diag/attributes.ts";
import { encodeRecordInto, recordBound } from "./record.ts";

const EMPTY = Buffer.alloc(0);
const NO_ENDS: number[] = [];
const MIN_CAPACITY = 2048;

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

  /** Appends `src[start, end)`, one line with its newline. */
  appendBytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(n);
    this.buf.set(src.subarray(start, end), this.used);
    this.used += n;
    this.pushEnd();
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
    const next = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, (this.used + n) * 2));
    if (this.used > 0) next.set(this.buf.subarray(0, this.used), 0);
    this.buf = next;
  }
}
