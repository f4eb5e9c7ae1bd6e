// The struct attributes of the last rows kept whole, one copy per attribute per row,
// and turned into columns with one loop per column (ColumnBuilder.appendStrided) when
// the arena fills: ~130 columns filled value by value across rows cost more than the
// rest of a row. A small fixed arena stays in cache and makes no garbage.
import type { ColumnBuilder } from "./column-builder.ts";
import { STRUCT_COLUMNS } from "./columns.ts";
import type { RowInput } from "./row-input.ts";
import { fieldSize } from "../diag/struct.ts";

/** Attribute types the struct columns read, and how many bytes of each they need. */
const TYPES = [...new Set(STRUCT_COLUMNS.map((c) => c.attr))];
// Rounded up to 8 bytes: every row's copy then starts aligned, so whole fields move as words.
const STRIDE = TYPES.map((t) => (Math.max(...STRUCT_COLUMNS.filter((c) => c.attr === t).map((c) => c.field.offset + fieldSize(c.field))) + 7) & ~7);

/** Per STRUCT_COLUMNS entry, the index of its attribute type in TYPES, and its field's width. */
const TYPE_OF = STRUCT_COLUMNS.map((c) => TYPES.indexOf(c.attr));
const WIDTH = STRUCT_COLUMNS.map((c) => fieldSize(c.field));

export class StructArena {
  private rows = 0;
  private readonly bufs: Uint8Array[];
  /** Word views of the buffers: Int32Array, as every bit pattern fits an int (see strided-copy.ts). */
  private readonly words: Int32Array[];
  /** The last row's bytes, and a word view of them when they start aligned. */
  private src: Uint8Array | null = null;
  private src32: Int32Array | null = null;
  private readonly lens: Int32Array[];
  /** Per attribute type, the shortest and longest copies since the last drain (-1: absent). */
  private readonly shortest = new Int32Array(TYPES.length).fill(0x7fffffff);
  private readonly longest = new Int32Array(TYPES.length).fill(-1);

  constructor(readonly capacity = 1024) {
    this.bufs = STRIDE.map((s) => new Uint8Array(s * capacity));
    this.words = this.bufs.map((b) => new Int32Array(b.buffer));
    this.lens = TYPES.map(() => new Int32Array(capacity));
  }

  /** Keeps the row's structs; true when the arena is full (drain it before the next add). */
  add(r: RowInput): boolean {
    const row = this.rows++;
    const src = r.bytes;
    if (src !== this.src) {
      this.src = src;
      this.src32 = (src.byteOffset & 3) === 0 ? new Int32Array(src.buffer, src.byteOffset, src.byteLength >> 2) : null;
    }
    const src32 = this.src32;
    for (let i = 0; i < TYPES.length; i++) {
      const at = r.offset(TYPES[i]);
      if (at < 0) {
        this.lens[i][row] = -1;
        this.shortest[i] = -1;
        continue;
      }
      const n = r.length(TYPES[i]);
      this.lens[i][row] = n;
      if (n < this.shortest[i]) this.shortest[i] = n;
      if (n > this.longest[i]) this.longest[i] = n;
      const stride = STRIDE[i];
      const copy = n < stride ? n : stride;
      const buf = this.bufs[i];
      const to = row * stride;
      let j = 0;
      // Aligned attributes (the archive scanner's are) move as words, the rest byte by byte.
      if (src32 !== null && (at & 3) === 0) {
        const w = this.words[i];
        const f = at >> 2;
        const t = to >> 2;
        const n32 = copy >> 2;
        for (; j < n32; j++) w[t + j] = src32[f + j];
        j <<= 2;
      }
      for (; j < copy; j++) buf[to + j] = src[at + j];
    }
    return this.rows === this.capacity;
  }

  /** Forgets the rows (drainInto does too), keeping the memory. */
  reset(): void {
    this.rows = 0;
    this.shortest.fill(0x7fffffff);
    this.longest.fill(-1);
  }

  /** Appends every row's struct values to `cols` (one per STRUCT_COLUMNS entry, in order). */
  drainInto(cols: readonly ColumnBuilder[]): void {
    for (let k = 0; k < STRUCT_COLUMNS.length; k++) {
      const c = STRUCT_COLUMNS[k];
      const i = TYPE_OF[k];
      const width = WIDTH[k];
      // An attribute no row carried (or none long enough): nulls, without a look at a row.
      if (this.longest[i] < c.field.offset + width) cols[k].appendNulls(this.rows);
      else cols[k].appendStrided(this.bufs[i], STRIDE[i], c.field.offset, width, this.rows, this.lens[i], c.field.bits, this.shortest[i]);
    }
    this.reset();
  }
}
