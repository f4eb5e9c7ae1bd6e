// One column's values in a typed array (growing by doubling) with a validity bitmap, laid
// out as Arrow lays a column out, so the IPC stream takes its buffers whole. Numbers up to
// u32 stay numbers; u64, i64 and nanosecond times are 64-bit arrays, exact.
import type { IpcColumn } from "./arrow-ipc.ts";
import type { ColumnDef, ColumnType } from "./columns.ts";
import { fieldSize, type Field } from "../diag/struct.ts";
import { copyBytesWhere, copyNarrow, copyWords, copyWordsWhere, setValidRange } from "./strided-copy.ts";

type Numbers = Uint8Array | Uint16Array | Uint32Array | Int32Array | BigUint64Array | BigInt64Array;

function numbers(type: ColumnType, n: number): Numbers | null {
  switch (type) {
    case "u8": return new Uint8Array(n);
    case "u16": return new Uint16Array(n);
    case "u32": return new Uint32Array(n);
    case "i32": return new Int32Array(n);
    case "u64": return new BigUint64Array(n);
    case "i64":
    case "timestamp_ns": return new BigInt64Array(n);
    case "utf8": return null;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TWO32 = 2 ** 32;

export class ColumnBuilder {
  length = 0;
  private nulls = 0;
  private values: Numbers | null;
  private valid: Uint8Array;
  /** The values' bytes (for the strided byte copies), remade when the values grow. */
  private bytes: Uint8Array | null;
  /** utf8 columns: where each value starts in `chars` (Arrow's offsets), and the bytes. */
  private offsets: Int32Array;
  private chars: Uint8Array;
  /**
   * The last string pushed and where its bytes lie (lastIndex its row, -1 for none): a
   * connection's rows repeat it. Always a string: a null here after each reset sent the
   * optimized callers back to slower code once per slice, until the JIT recompiled them.
   */
  private lastString = "";
  private lastStart = 0;
  private lastIndex = -1;

  constructor(readonly def: ColumnDef, capacity = 1024) {
    // Values and validity bits grow together: a whole number of bitmap bytes.
    capacity = Math.ceil(capacity / 8) * 8;
    this.values = numbers(def.type, capacity);
    this.bytes = this.values === null ? null : new Uint8Array(this.values.buffer);
    this.valid = new Uint8Array(capacity / 8);
    const text = def.type === "utf8";
    this.offsets = new Int32Array(text ? capacity + 1 : 0);
    this.chars = new Uint8Array(text ? capacity * 16 : 0);
  }

  /**
   * Empties the column and keeps its memory for the next batch: filling fresh arrays
   * costs first-touch page faults on every page, reused ones do not.
   */
  reset(): void {
    this.valid.fill(0, 0, Math.ceil(this.length / 8));
    this.length = 0;
    this.nulls = 0;
    this.lastIndex = -1;
  }

  /** Room for `n` more values, doubling the capacity as often as needed. */
  private room(n = 1): void {
    let cap = this.valid.length * 8;
    if (this.length + n <= cap) return;
    while (this.length + n > cap) cap *= 2;
    const bigger = new Uint8Array(cap / 8);
    bigger.set(this.valid);
    this.valid = bigger;
    if (this.values !== null) {
      const v = numbers(this.def.type, cap)!;
      v.set(this.values as never);
      this.values = v;
      this.bytes = new Uint8Array(v.buffer);
    } else {
      const o = new Int32Array(cap + 1);
      o.set(this.offsets.subarray(0, this.length + 1));
      this.offsets = o;
    }
  }

  /** Room for `n` more bytes of text. */
  private roomChars(n: number): void {
    const need = this.offsets[this.length] + n;
    if (need <= this.chars.length) return;
    const bigger = new Uint8Array(Math.max(need, this.chars.length * 2));
    bigger.set(this.chars.subarray(0, this.offsets[this.length]));
    this.chars = bigger;
  }

  pushNull(): void {
    if (this.def.required) throw new Error(`column ${this.def.name} cannot be null`);
    this.room();
    if (this.values === null) this.offsets[this.length + 1] = this.offsets[this.length];
    this.length++;
    this.nulls++;
  }

  /** `count` nulls. */
  appendNulls(count: number): void {
    if (count > 0 && this.def.required) throw new Error(`column ${this.def.name} cannot be null`);
    if (this.values === null) {
      for (let i = 0; i < count; i++) this.pushNull();
      return;
    }
    // The validity bits of new rows are clear already (reset() clears the used ones).
    this.room(count);
    this.length += count;
    this.nulls += count;
  }

  /** A number column's value (u8..u32, i32). */
  push(v: number): void {
    this.room();
    (this.values as Uint32Array)[this.length] = v;
    this.valid[this.length >> 3] |= 1 << (this.length & 7);
    this.length++;
  }

  /** A 64-bit column's value. */
  pushBig(v: bigint): void {
    this.room();
    (this.values as BigUint64Array)[this.length] = v;
    this.valid[this.length >> 3] |= 1 << (this.length & 7);
    this.length++;
  }

  /**
   * Appends `count` values of `field`, the i-th read at `src[i * stride + field.offset]`
   * (little-endian unless the field is big-endian; with bits, that bitfield of it), null
   * where `lens[i]` is short of the field's end (the struct was absent, -1, or shorter).
   * `shortest` is the least of `lens` when the caller knows it: the usual chunk has every
   * value, and its loop then checks none.
   */
  appendStrided(src: Uint8Array, stride: number, field: Field, count: number, lens: Int32Array, shortest = -1): void {
    this.room(count);
    const first = this.length;
    const off = field.offset;
    const width = fieldSize(field);
    const bits = field.bits;
    const be = field.type === "be16" || field.type === "be32";
    const w = this.values!.BYTES_PER_ELEMENT;
    let nulls: number;
    // Aligned 4 and 8-byte fields (most of the kernel's structs' fields, in an arena
    // whose stride is a multiple of 8) move as 32-bit words instead of byte by byte.
    if (bits === undefined && !be && (width === 4 || width === 8) && stride % 4 === 0 && src.byteOffset % 4 === 0 && off % 4 === 0 && w === width) {
      const from = new Int32Array(src.buffer, src.byteOffset, src.byteLength >> 2);
      const to = new Int32Array(this.values!.buffer, 0, this.values!.byteLength >> 2);
      if (shortest >= off + width) {
        copyWords(from, stride >> 2, off >> 2, width >> 2, count, to, first);
        setValidRange(this.valid, first, first + count);
        nulls = 0;
      } else nulls = copyWordsWhere(from, stride >> 2, off >> 2, width >> 2, count, to, first, lens, off + width, this.valid);
    } else if (width <= 4 && w <= 4 && (bits === undefined || bits[1] < 32)) {
      const shift = bits === undefined ? 0 : bits[0];
      const mask = bits === undefined ? -1 : (1 << bits[1]) - 1;
      if (shortest >= off + width) {
        copyNarrow(src, stride, off, width, be, count, this.bytes!, w, first, null, 0, shift, mask, this.valid);
        setValidRange(this.valid, first, first + count);
        nulls = 0;
      } else nulls = copyNarrow(src, stride, off, width, be, count, this.bytes!, w, first, lens, off + width, shift, mask, this.valid);
    } else if (!be) nulls = copyBytesWhere(src, stride, off, width, count, this.bytes!, w, first, lens, bits, this.valid);
    else throw new Error(`column ${this.def.name}: no copy for a big-endian ${field.type} into ${w}-byte values`);
    if (nulls > 0 && this.def.required) throw new Error(`column ${this.def.name} cannot be null`);
    this.nulls += nulls;
    this.length = first + count;
  }

  /**
   * A utf8 column's value from a NUL-terminated C string of at most `max` bytes at
   * `src[at]`: ASCII is copied as is (no string made); anything else is decoded (bad
   * UTF-8 becomes U+FFFD) and encoded, so the column always holds valid UTF-8.
   */
  pushCString(src: Uint8Array, at: number, max: number): void {
    let n = 0;
    let ascii = true;
    for (; n < max && src[at + n] !== 0; n++) if (src[at + n] >= 0x80) ascii = false;
    if (!ascii) return this.pushString(decoder.decode(src.subarray(at, at + n)));
    this.room();
    this.roomChars(n);
    const start = this.offsets[this.length];
    const chars = this.chars;
    for (let i = 0; i < n; i++) chars[start + i] = src[at + i];
    this.offsets[this.length + 1] = start + n;
    this.valid[this.length >> 3] |= 1 << (this.length & 7);
    this.length++;
    this.lastIndex = -1;
  }

  /**
   * A nanosecond time column's value sec * 1e9 + nsec, exactly. In the usual range
   * (0 <= sec < 2^32, whole) it is computed as two 32-bit words in doubles, each step
   * below 2^53: no bigint per row.
   */
  pushNanos(sec: number, nsec: number): void {
    if (!(sec >= 0 && sec < TWO32 && Number.isInteger(sec) && nsec >= 0 && nsec < 1e9 && Number.isInteger(nsec))) {
      return this.pushBig(BigInt(sec) * 1_000_000_000n + BigInt(nsec));
    }
    const sh = Math.floor(sec / 65536);
    const a = sh * 1e9; // < 2^46
    const b = (sec - sh * 65536) * 1e9 + nsec; // < 2^47
    // sec * 1e9 + nsec = a * 2^16 + b
    let lo = (a % 65536) * 65536 + (b % TWO32);
    const carry = lo >= TWO32 ? 1 : 0;
    lo -= carry * TWO32;
    let hi = Math.floor(a / 65536) + Math.floor(b / TWO32) + carry;
    this.room();
    const bytes = this.bytes!;
    const to = this.length * 8;
    for (let i = 0; i < 4; i++, lo = Math.floor(lo / 256), hi = Math.floor(hi / 256)) {
      bytes[to + i] = lo & 255;
      bytes[to + 4 + i] = hi & 255;
    }
    this.valid[this.length >> 3] |= 1 << (this.length & 7);
    this.length++;
  }

  /** A utf8 column's value, encoded straight into the column's bytes. */
  pushString(s: string): void {
    this.room();
    const start = this.offsets[this.length];
    let n: number;
    if (this.lastIndex >= 0 && s === this.lastString) {
      n = this.offsets[this.lastIndex + 1] - this.lastStart;
      this.roomChars(n);
      // A uuid or an address: a loop costs less than a native call for so few bytes.
      const chars = this.chars;
      if (n <= 64) for (let i = 0, from = this.lastStart; i < n; i++) chars[start + i] = chars[from + i];
      else chars.copyWithin(start, this.lastStart, this.lastStart + n);
    } else {
      this.roomChars(s.length * 3);
      n = encoder.encodeInto(s, this.chars.subarray(start)).written;
      this.lastString = s;
    }
    this.lastStart = start;
    this.lastIndex = this.length;
    this.offsets[this.length + 1] = start + n;
    this.valid[this.length >> 3] |= 1 << (this.length & 7);
    this.length++;
  }

  /** The column's buffers for the IPC stream (views, valid until the builder changes). */
  ipcColumn(): IpcColumn {
    const n = this.length;
    const validity = this.nulls > 0 ? this.valid.subarray(0, Math.ceil(n / 8)) : null;
    const base = { name: this.def.name, type: this.def.type, nullable: this.def.required !== true, nullCount: this.nulls, validity };
    if (this.values === null) {
      const end = this.offsets[n];
      return { ...base, values: this.chars.subarray(0, end), offsets: new Uint8Array(this.offsets.buffer, this.offsets.byteOffset, (n + 1) * 4) };
    }
    return { ...base, values: this.bytes!.subarray(0, n * this.values.BYTES_PER_ELEMENT), offsets: null };
  }
}
