// Archived snapshots as rows of the `snapshots` table: each entry's inet_diag_msg and
// attributes read straight into the column builders (no decoded object per snapshot).
import type { Table } from "apache-arrow";
import type { RowInput } from "./row-input.ts";
import { AF_INET } from "../diag/constants.ts";
import { COOKIE_OFFSET } from "../diag/layouts.ts";
import { srcAddress, dstAddress, sourcePort, destPort } from "../diag/sock-id.ts";
import { fieldSize } from "../diag/struct.ts";
import { builders, tableOf, type ColumnBuilder } from "./column-builder.ts";
import { SCALAR_COLUMNS, SNAPSHOT_COLUMNS, SNAPSHOT_HEAD, STRUCT_COLUMNS } from "./columns.ts";

const HEAD = SNAPSHOT_HEAD.length;

// The struct columns as flat arrays: the per-row loop reads numbers, not objects.
const N_STRUCT = STRUCT_COLUMNS.length;
const ATTR = Int32Array.from(STRUCT_COLUMNS, (c) => c.attr);
const OFFSET = Int32Array.from(STRUCT_COLUMNS, (c) => c.field.offset);
const WIDTH = Int32Array.from(STRUCT_COLUMNS, (c) => fieldSize(c.field));
/** 1: little-endian and whole, copied as bytes; 0: a bitfield or big-endian, read. */
const COPY = Uint8Array.from(STRUCT_COLUMNS, (c) => (c.field.bits === undefined && c.field.type !== "be16" && c.field.type !== "be32" ? 1 : 0));
for (const c of STRUCT_COLUMNS) {
  if (c.field.bits === undefined && (c.field.type === "be16" || c.field.type === "be32")) throw new Error(`${c.name}: a big-endian struct field needs a reader here`);
}

/** A little-endian bitfield (struct.ts's `bits`: first bit, width) of a `width`-byte unit. */
function bitfield(b: Uint8Array, at: number, width: number, bits: readonly [number, number]): number {
  let v = 0;
  for (let j = width - 1; j >= 0; j--) v = v * 256 + b[at + j];
  return Math.floor(v / 2 ** bits[0]) % 2 ** bits[1];
}

function cstring(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end >= 0 ? b.subarray(0, end) : b);
}

export class SnapshotRows {
  private readonly cols: ColumnBuilder[] = builders(SNAPSHOT_COLUMNS, 4096);

  get length(): number {
    return this.cols[0].length;
  }

  /**
   * One row: the snapshot `r` of connection `uuid`, standing for `represents` snapshots.
   * Everything is read from the bytes directly: a DataView (or `.buffer`) on fresh
   * arrays costs more than the rest of the row.
   */
  add(uuid: string, r: RowInput, represents: number): void {
    const c = this.cols;
    const m = r.bytes;
    const at = r.idmOffset;
    const family = m[at];
    c[0].pushString(uuid);
    c[1].pushBytes(m, at + COOKIE_OFFSET, 8);
    c[2].pushBig(BigInt(r.sec) * 1_000_000_000n + BigInt(r.nsec));
    c[3].push(represents);
    c[4].push(family === AF_INET ? 4 : 6);
    c[5].push(m[at + 1]);
    c[6].pushString(srcAddress(family, m, at));
    c[7].push(sourcePort(m, at));
    c[8].pushString(dstAddress(family, m, at));
    c[9].push(destPort(m, at));
    c[10].push(((m[at + 40] << 24) | (m[at + 41] << 16) | (m[at + 42] << 8) | m[at + 43]) >>> 0);
    c[11].push(m[at + 2]);
    c[12].push(m[at + 3]);
    for (let k = 0; k < 5; k++) c[13 + k].pushBytes(m, at + 52 + 4 * k, 4); // expires, rqueue, wqueue, uid, inode
    let i = HEAD;
    let lastAttr = -1;
    let base = -1;
    let length = 0;
    for (let k = 0; k < N_STRUCT; k++) {
      const b = c[i++];
      const a = ATTR[k];
      if (a !== lastAttr) {
        lastAttr = a;
        base = r.offset(a);
        length = r.length(a);
      }
      const off = OFFSET[k];
      const width = WIDTH[k];
      // A field past what the kernel sent (an older kernel's shorter struct) is absent, not 0.
      if (base < 0 || off + width > length) b.pushNull();
      else if (COPY[k] === 1) b.pushBytes(m, base + off, width);
      else b.push(bitfield(m, base + off, width, STRUCT_COLUMNS[k].field.bits!));
    }
    for (let k = 0; k < SCALAR_COLUMNS.length; k++) {
      const col = SCALAR_COLUMNS[k];
      const b = c[i++];
      const a = r.offset(col.attr);
      const n = r.length(col.attr);
      const width = col.type === "u64" ? 8 : col.type === "u32" ? 4 : 1;
      if (a < 0 || (col.type !== "utf8" && n < width)) b.pushNull();
      else if (col.type === "utf8") b.pushString(cstring(m.subarray(a, a + n)));
      else b.pushBytes(m, a, width);
    }
  }

  /** The rows as an Arrow table (the builders are spent). */
  table(): Table {
    return tableOf(this.cols);
  }
}
