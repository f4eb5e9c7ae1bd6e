// Archived snapshots as rows of the `snapshots` table: each entry's inet_diag_msg and
// attributes read straight into the column builders (no decoded object per snapshot).
import { Table } from "apache-arrow";
import type { SnapshotEntry } from "../archive/parse-line.ts";
import { AF_INET } from "../diag/constants.ts";
import { readCookie, srcAddress, dstAddress, sourcePort, destPort } from "../diag/sock-id.ts";
import { fieldSize, readField } from "../diag/struct.ts";
import { builders, type ColumnBuilder } from "./column-builder.ts";
import { SCALAR_COLUMNS, SNAPSHOT_COLUMNS, SNAPSHOT_HEAD, STRUCT_COLUMNS } from "./columns.ts";

const HEAD = SNAPSHOT_HEAD.length;

function cstring(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end >= 0 ? b.subarray(0, end) : b);
}

export class SnapshotRows {
  private readonly cols: ColumnBuilder[] = builders(SNAPSHOT_COLUMNS, 4096);

  get length(): number {
    return this.cols[0].length;
  }

  /** One row: the snapshot in `e` of connection `uuid`, standing for `represents` snapshots. */
  add(uuid: string, e: SnapshotEntry, represents: number): void {
    const c = this.cols;
    const m = e.rawIdm;
    const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
    const family = m[0];
    c[0].pushString(uuid);
    c[1].pushBig(readCookie(m, 0));
    c[2].pushBig(BigInt(e.timestamp) * 1_000_000n + BigInt(e.timestampSubMs));
    c[3].push(represents);
    c[4].push(family === AF_INET ? 4 : 6);
    c[5].push(m[1]);
    c[6].pushString(srcAddress(family, m, 0));
    c[7].push(sourcePort(m, 0));
    c[8].pushString(dstAddress(family, m, 0));
    c[9].push(destPort(m, 0));
    c[10].push(dv.getUint32(40, false));
    c[11].push(m[2]);
    c[12].push(m[3]);
    c[13].push(dv.getUint32(52, true));
    c[14].push(dv.getUint32(56, true));
    c[15].push(dv.getUint32(60, true));
    c[16].push(dv.getUint32(64, true));
    c[17].push(dv.getUint32(68, true));
    let i = HEAD;
    let lastAttr = -1;
    let bytes: Uint8Array | null = null;
    let view: DataView | null = null;
    for (const col of STRUCT_COLUMNS) {
      const b = c[i++];
      if (col.attr !== lastAttr) {
        lastAttr = col.attr;
        bytes = e.attributes[col.attr] ?? null;
        view = bytes === null ? null : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
      // A field past what the kernel sent (an older kernel's shorter struct) is absent, not 0.
      if (view === null || col.field.offset + fieldSize(col.field) > view.byteLength) {
        b.pushNull();
        continue;
      }
      const v = readField(view, col.field.offset, col.field);
      if (typeof v === "bigint") b.pushBig(v);
      else b.push(v);
    }
    for (const col of SCALAR_COLUMNS) {
      const b = c[i++];
      const a = e.attributes[col.attr];
      const need = col.type === "u64" ? 8 : col.type === "u32" ? 4 : 1;
      if (a === null || a === undefined || (col.type !== "utf8" && a.byteLength < need)) {
        b.pushNull();
        continue;
      }
      const v = new DataView(a.buffer, a.byteOffset, a.byteLength);
      if (col.type === "utf8") b.pushString(cstring(a));
      else if (col.type === "u64") b.pushBig(v.getBigUint64(0, true));
      else if (col.type === "u32") b.push(v.getUint32(0, true));
      else b.push(a[0]);
    }
  }

  /** The rows as an Arrow table (the builders are spent). */
  table(): Table {
    return new Table(Object.fromEntries(this.cols.map((b) => [b.def.name, b.toVector()])));
  }
}
