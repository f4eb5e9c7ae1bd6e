// The struct attributes of a batch's rows kept whole, one copy per attribute per row,
// and turned into columns at the end with one loop per column (ColumnBuilder.appendStrided):
// ~130 columns filled value by value across rows cost more than the rest of a row.
import type { ColumnBuilder } from "./column-builder.ts";
import { STRUCT_COLUMNS } from "./columns.ts";
import type { RowInput } from "./row-input.ts";
import { fieldSize } from "../diag/struct.ts";

/** Attribute types the struct columns read, and how many bytes of each they need. */
const TYPES = [...new Set(STRUCT_COLUMNS.map((c) => c.attr))];
// Rounded up to 8 bytes: every row's copy then starts aligned, so whole fields move as words.
const STRIDE = TYPES.map((t) => (Math.max(...STRUCT_COLUMNS.filter((c) => c.attr === t).map((c) => c.field.offset + fieldSize(c.field))) + 7) & ~7);

export class StructArena {
  private rows = 0;
  private cap: number;
  private bufs: Uint8Array[];
  private lens: Int32Array[];

  constructor(capacity = 4096) {
    this.cap = capacity;
    this.bufs = STRIDE.map((s) => new Uint8Array(s * capacity));
    this.lens = TYPES.map(() => new Int32Array(capacity));
  }

  add(r: RowInput): void {
    if (this.rows === this.cap) this.grow();
    const row = this.rows++;
    const src = r.bytes;
    for (let i = 0; i < TYPES.length; i++) {
      const at = r.offset(TYPES[i]);
      if (at < 0) {
        this.lens[i][row] = -1;
        continue;
      }
      const n = r.length(TYPES[i]);
      this.lens[i][row] = n;
      const stride = STRIDE[i];
      const copy = n < stride ? n : stride;
      const buf = this.bufs[i];
      const to = row * stride;
      for (let j = 0; j < copy; j++) buf[to + j] = src[at + j];
    }
  }

  private grow(): void {
    this.cap *= 2;
    this.bufs = this.bufs.map((b, i) => {
      const bigger = new Uint8Array(STRIDE[i] * this.cap);
      bigger.set(b);
      return bigger;
    });
    this.lens = this.lens.map((l) => {
      const bigger = new Int32Array(this.cap);
      bigger.set(l);
      return bigger;
    });
  }

  /** Forgets the rows (drainInto does too), keeping the memory. */
  reset(): void {
    this.rows = 0;
  }

  /** Appends every row's struct values to `cols` (one per STRUCT_COLUMNS entry, in order). */
  drainInto(cols: readonly ColumnBuilder[]): void {
    for (let k = 0; k < STRUCT_COLUMNS.length; k++) {
      const c = STRUCT_COLUMNS[k];
      const i = TYPES.indexOf(c.attr);
      cols[k].appendStrided(this.bufs[i], STRIDE[i], c.field.offset, fieldSize(c.field), this.rows, this.lens[i], c.field.bits);
    }
    this.rows = 0;
  }
}
