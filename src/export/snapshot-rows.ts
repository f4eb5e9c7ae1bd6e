// Archived snapshots as rows of the `snapshots` table: each entry's inet_diag_msg and
// attributes read straight into the column builders (no decoded object per snapshot).
import type { RowInput } from "./row-input.ts";
import { AF_INET, Attr } from "../diag/constants.ts";
import { COOKIE_OFFSET, DST_ADDR_OFFSET, INET_DIAG_MSG, SRC_ADDR_OFFSET } from "../diag/layouts.ts";
import { formatAddress } from "../diag/address.ts";
import type { Field, FieldType } from "../diag/struct.ts";
import { builders, sliceOf, type TableSlice } from "./table-slice.ts";
import type { ColumnBuilder } from "./column-builder.ts";
import { IDM, StructArena, type ArenaColumn } from "./struct-arena.ts";
import { SCALAR_COLUMNS, SNAPSHOT_COLUMNS, SNAPSHOT_HEAD, STRUCT_COLUMNS } from "./columns.ts";

const idmField = (name: string): Field => {
  const f = INET_DIAG_MSG.find((x) => x.name === name);
  if (f === undefined) throw new Error(`inet_diag_msg has no field ${name}`);
  return f;
};

/** Head columns read from the inet_diag_msg's fixed fields (through the arena), by name. */
const HEAD_FIELDS: Readonly<Record<string, Field>> = {
  cookie: { name: "cookie", offset: COOKIE_OFFSET, type: "u64" },
  state: idmField("state"),
  src_port: idmField("sport"),
  dst_port: idmField("dport"),
  interface: idmField("interface"),
  timer: idmField("timer"),
  retrans: idmField("retrans"),
  expires: idmField("expires"),
  rqueue: idmField("rqueue"),
  wqueue: idmField("wqueue"),
  uid: idmField("uid"),
  inode: idmField("inode"),
};

/** Index of each column in SNAPSHOT_COLUMNS. */
const AT = new Map(SNAPSHOT_COLUMNS.map((c, i) => [c.name, i]));
const col = (name: string): number => AT.get(name)!;

/**
 * What the arena fills, with the index of each column: the head's fixed fields, every
 * struct field, and the numeric single-value attributes (a field at offset 0).
 */
const ARENA: readonly (ArenaColumn & { index: number })[] = [
  ...Object.entries(HEAD_FIELDS).map(([name, field]) => ({ attr: IDM, field, index: col(name) })),
  ...STRUCT_COLUMNS.map((c) => ({ attr: c.attr, field: c.field, index: col(c.name) })),
  ...SCALAR_COLUMNS.filter((c) => c.type !== "utf8").map((c) => ({ attr: c.attr, field: { name: c.name, offset: 0, type: c.type as FieldType }, index: col(c.name) })),
];
/** The text single-value attribute (INET_DIAG_CONG), read row by row. */
const CONG = col("congestion");
if (SCALAR_COLUMNS.some((c) => c.type === "utf8" && c.attr !== Attr.CONG)) throw new Error("one text attribute is read: INET_DIAG_CONG");
const [UUID, TIMESTAMP, SNAPSHOTS, FAMILY, SRC_IP, DST_IP] = ["uuid", "timestamp", "snapshots", "family", "src_ip", "dst_ip"].map(col);
if (SNAPSHOT_HEAD.some((c) => !(c.name in HEAD_FIELDS) && ![UUID, TIMESTAMP, SNAPSHOTS, FAMILY, SRC_IP, DST_IP].includes(col(c.name)))) throw new Error("a head column is not filled");

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
  private readonly cols: ColumnBuilder[];
  private readonly arena = new StructArena(ARENA);
  private readonly arenaCols: ColumnBuilder[];
  private readonly src = new AddressText(SRC_ADDR_OFFSET);
  private readonly dst = new AddressText(DST_ADDR_OFFSET);

  /**
   * `capacity`: the rows the columns first make room for. A slice's worth: grown to it by
   * doubling, they were copied twice per column on the way (~150 columns).
   */
  constructor(capacity = 4096) {
    this.cols = builders(SNAPSHOT_COLUMNS, capacity);
    this.arenaCols = ARENA.map((a) => this.cols[a.index]);
  }

  /** Rows added (the arena's columns lag behind until it drains, at the latest in table()). */
  get length(): number {
    return this.cols[UUID].length;
  }

  /**
   * One row: the snapshot `r` of connection `uuid`, standing for `represents` snapshots.
   * Everything is read from the bytes directly: a DataView (or `.buffer`) on fresh
   * arrays costs more than the rest of the row. The fixed fields wait in the arena; what
   * is left here is what a field table cannot say (text, the time, the family as 4 or 6).
   */
  add(uuid: string, r: RowInput, represents: number): void {
    const c = this.cols;
    const m = r.bytes;
    const at = r.idmOffset;
    const family = m[at];
    c[UUID].pushString(uuid);
    c[TIMESTAMP].pushNanos(r.sec, r.nsec);
    c[SNAPSHOTS].push(represents);
    c[FAMILY].push(family === AF_INET ? 4 : 6);
    c[SRC_IP].pushString(this.src.of(family, m, at));
    c[DST_IP].pushString(this.dst.of(family, m, at));
    const cong = r.offset(Attr.CONG);
    if (cong < 0) c[CONG].pushNull();
    else c[CONG].pushCString(m, cong, r.length(Attr.CONG));
    if (this.arena.add(r)) this.arena.drainInto(this.arenaCols);
  }

  /** Empties the rows, keeping the builders' memory; call once the last table() is written. */
  reset(): this {
    for (const c of this.cols) c.reset();
    this.arena.reset();
    return this;
  }

  /** The rows as a slice for the Parquet writer, valid until reset(). */
  table(): TableSlice {
    this.arena.drainInto(this.arenaCols);
    return sliceOf(this.cols);
  }
}
