// Fixed-layout fields of the last rows kept whole, one copy per struct per row, and
// turned into columns with one loop per column (ColumnBuilder.appendStrided) when the
// arena fills: ~150 columns filled value by value across rows cost more than the rest of
// a row, and a row function that filled them all took the JIT ~250 ms to compile. A small
// fixed arena stays in cache and makes no garbage.
import type { ColumnBuilder } from "./column-builder.ts";
import type { RowInput } from "./row-input.ts";
import { fieldSize, type Field } from "../diag/struct.ts";

/** The attribute type that stands for the row's inet_diag_msg itself. */
export const IDM = -1;

/** A column the arena fills: a field of attribute `attr`'s struct (or of the inet_diag_msg: IDM). */
export interface ArenaColumn {
  readonly attr: number;
  readonly field: Field;
}

export class StructArena {
  private rows = 0;
  /** The attribute types the columns read, and the bytes of each kept per row (a multiple of 8). */
  private readonly types: readonly number[];
  private readonly strides: readonly number[];
  /** Per column, the index of its attribute type in `types`. */
  private readonly typeOf: readonly number[];
  private readonly bufs: Uint8Array[];
  /** Word views of the buffers: Int32Array, as every bit pattern fits an int (see strided-copy.ts). */
  private readonly words: Int32Array[];
  /** The last row's bytes, and a word view of them when they start aligned. */
  private src: Uint8Array | null = null;
  private src32: Int32Array | null = null;
  private readonly lens: Int32Array[];
  /** Per attribute type, the shortest and longest copies since the last drain (-1: absent). */
  private readonly shortest: Int32Array;
  private readonly longest: Int32Array;

  constructor(private readonly columns: readonly ArenaColumn[], readonly capacity = 1024) {
    this.types = [...new Set(columns.map((c) => c.attr))];
    // Rounded up to 8 bytes: every row's copy then starts aligned, so whole fields move as words.
    this.strides = this.types.map((t) => (Math.max(...columns.filter((c) => c.attr === t).map((c) => c.field.offset + fieldSize(c.field))) + 7) & ~7);
    this.typeOf = columns.map((c) => this.types.indexOf(c.attr));
    this.bufs = this.strides.map((s) => new Uint8Array(s * capacity));
    this.words = this.bufs.map((b) => new Int32Array(b.buffer));
    this.lens = this.types.map(() => new Int32Array(capacity));
    this.shortest = new Int32Array(this.types.length).fill(0x7fffffff);
    this.longest = new Int32Array(this.types.length).fill(-1);
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
    const types = this.types;
    for (let i = 0; i < types.length; i++) {
      const t = types[i];
      const at = t === IDM ? r.idmOffset : r.offset(t);
      if (at < 0) {
        this.lens[i][row] = -1;
        this.shortest[i] = -1;
        continue;
      }
      const n = t === IDM ? r.idmLength : r.length(t);
      this.lens[i][row] = n;
      if (n < this.shortest[i]) this.shortest[i] = n;
      if (n > this.longest[i]) this.longest[i] = n;
      const stride = this.strides[i];
      const copy = n < stride ? n : stride;
      const buf = this.bufs[i];
      const to = row * stride;
      let j = 0;
      // Aligned attributes (the archive scanner's are) move as words, the rest byte by byte.
      if (src32 !== null && (at & 3) === 0) {
        const w = this.words[i];
        const f = at >> 2;
        const t32 = to >> 2;
        const n32 = copy >> 2;
        for (; j < n32; j++) w[t32 + j] = src32[f + j];
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

  /** Appends every row's values to `cols` (one per column given to the constructor, in order). */
  drainInto(cols: readonly ColumnBuilder[]): void {
    for (let k = 0; k < this.columns.length; k++) {
      const field = this.columns[k].field;
      const i = this.typeOf[k];
      // An attribute no row carried (or none long enough): nulls, without a look at a row.
      if (this.longest[i] < field.offset + fieldSize(field)) cols[k].appendNulls(this.rows);
      else cols[k].appendStrided(this.bufs[i], this.strides[i], field, this.rows, this.lens[i], this.shortest[i]);
    }
    this.reset();
  }
}
