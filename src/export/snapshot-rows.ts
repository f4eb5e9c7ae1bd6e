// Archived snapshots as rows of the `snapshots` table: each entry's inet_diag_msg and
// attributes read straight into the column builders (no decoded object per snapshot).
import type { Table } from "apache-arrow";
import type { RowInput } from "./row-input.ts";
import { AF_INET } from "../diag/constants.ts";
import { COOKIE_OFFSET, DST_ADDR_OFFSET, SRC_ADDR_OFFSET } from "../diag/layouts.ts";
import { formatAddress } from "../diag/address.ts";
import { sourcePort, destPort } from "../diag/sock-id.ts";
import { builders, tableOf } from "./arrow-table.ts";
import type { ColumnBuilder } from "./column-builder.ts";
import { StructArena } from "./struct-arena.ts";
import { SCALAR_COLUMNS, SNAPSHOT_COLUMNS, SNAPSHOT_HEAD, STRUCT_COLUMNS } from "./columns.ts";

const HEAD = SNAPSHOT_HEAD.length;

const N_STRUCT = STRUCT_COLUMNS.length;

/**
 * An address column's text (the address `offset` bytes into each inet_diag_msg), made
 * again only when its bytes differ from the last row's: a file is one connection.
 */
class AddressText {
  private readonly last = new Uint8Array(17);
  private text = "";

  constructor(private readonly offset: number) {}

  of(family: number, m: Uint8Array, idm: number): string {
    const last = this.last;
    const at = idm + this.offset;
    let same = this.text !== "" && last[16] === family;
    for (let i = 0; i < 16 && same; i++) same = last[i] === m[at + i];
    if (same) return this.text;
    for (let i = 0; i < 16; i++) last[i] = m[at + i];
    last[16] = family;
    return (this.text = formatAddress(family, m, at));
  }
}

export class SnapshotRows {
  private readonly cols: ColumnBuilder[] = builders(SNAPSHOT_COLUMNS, 4096);
  private readonly structs = new StructArena();
  private readonly structCols = this.cols.slice(HEAD, HEAD + N_STRUCT);
  private readonly src = new AddressText(SRC_ADDR_OFFSET);
  private readonly dst = new AddressText(DST_ADDR_OFFSET);

  /** Rows added (the struct columns lag behind until the arena drains, at the latest in table()). */
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
    c[2].pushNanos(r.sec, r.nsec);
    c[3].push(represents);
    c[4].push(family === AF_INET ? 4 : 6);
    c[5].push(m[at + 1]);
    c[6].pushString(this.src.of(family, m, at));
    c[7].push(sourcePort(m, at));
    c[8].pushString(this.dst.of(family, m, at));
    c[9].push(destPort(m, at));
    c[10].push(((m[at + 40] << 24) | (m[at + 41] << 16) | (m[at + 42] << 8) | m[at + 43]) >>> 0);
    c[11].push(m[at + 2]);
    c[12].push(m[at + 3]);
    for (let k = 0; k < 5; k++) c[13 + k].pushBytes(m, at + 52 + 4 * k, 4); // expires, rqueue, wqueue, uid, inode
    if (this.structs.add(r)) this.structs.drainInto(this.structCols);
    let i = HEAD + N_STRUCT;
    for (let k = 0; k < SCALAR_COLUMNS.length; k++) {
      const col = SCALAR_COLUMNS[k];
      const b = c[i++];
      const a = r.offset(col.attr);
      const n = r.length(col.attr);
      const width = col.type === "u64" ? 8 : col.type === "u32" ? 4 : 1;
      if (a < 0 || (col.type !== "utf8" && n < width)) b.pushNull();
      else if (col.type === "utf8") b.pushCString(m, a, n);
      else b.pushBytes(m, a, width);
    }
  }

  /** Empties the rows, keeping the builders' memory; call once the last table() is written. */
  reset(): this {
    for (const c of this.cols) c.reset();
    this.structs.reset();
    return this;
  }

  /** The rows as an Arrow table, valid until reset(). */
  table(): Table {
    this.structs.drainInto(this.structCols);
    return tableOf(this.cols);
  }
}
