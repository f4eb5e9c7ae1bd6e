// The IPC stream the export hands the Parquet encoder, read by apache-arrow (an
// independent implementation of the format): the schema's names, types, time unit and
// zone, nullability, and every value, for each column type the export writes.
import { expect, test } from "bun:test";
import { tableFromIPC, Type, type Int, type Timestamp } from "apache-arrow";
import { IpcStreamWriter } from "../../src/export/arrow-ipc.ts";
import type { ColumnType } from "../../src/export/columns.ts";
import { builders, sliceOf } from "../../src/export/table-slice.ts";

const TYPES: ColumnType[] = ["u8", "u16", "u32", "u64", "i32", "i64", "timestamp_ns", "utf8"];

/** Row i's value in a column of `type`, null on every third row of nullable columns. */
function value(type: ColumnType, i: number, nullable: boolean): number | bigint | string | null {
  if (nullable && i % 3 === 1) return null;
  switch (type) {
    case "u8": return (i * 37) & 0xff;
    case "u16": return (i * 4099) & 0xffff;
    case "u32": return (i * 2_654_435_761) % 2 ** 32;
    case "i32": return i % 2 === 0 ? i * 1000 - 5_000_000 : i * 1000;
    case "u64": return 2n ** 63n + BigInt(i) * 1_000_003n;
    case "i64": return -(2n ** 62n) + BigInt(i);
    case "timestamp_ns": return 1_700_000_000_000_000_000n + BigInt(i) * 10_000_001n;
    case "utf8": return i % 4 === 0 ? "é✓" : `conn-${i}`;
  }
}

test("every column type, with and without nulls, reads back exactly, with its schema", () => {
  const defs = TYPES.flatMap((type) => [
    { name: `${type}_req`, type, required: true, doc: "" },
    { name: `${type}_opt`, type, doc: "" },
  ]);
  const ipc = new IpcStreamWriter();
  // Two slices of different lengths through one writer: its reused buffer must not leak
  // the first slice into the second.
  for (const rows of [37, 5]) {
    const cols = builders(defs, 8);
    for (let i = 0; i < rows; i++) {
      for (const c of cols) {
        const v = value(c.def.type, i, c.def.required !== true);
        if (v === null) c.pushNull();
        else if (typeof v === "string") c.pushString(v);
        else if (c.def.type === "timestamp_ns") c.pushNanos(Number((v as bigint) / 1_000_000_000n), Number((v as bigint) % 1_000_000_000n));
        else if (typeof v === "bigint") c.pushBig(v);
        else c.push(v);
      }
    }
    const slice = sliceOf(cols);
    const table = tableFromIPC(ipc.stream(slice.columns, slice.length).slice());
    expect(table.numRows).toBe(rows);
    expect(table.schema.fields.map((f) => f.name)).toEqual(defs.map((d) => d.name));
    for (const [k, f] of table.schema.fields.entries()) {
      const type = defs[k].type;
      expect({ name: f.name, nullable: f.nullable }).toEqual({ name: f.name, nullable: defs[k].required !== true });
      if (type === "utf8") expect(f.type.typeId).toBe(Type.Utf8);
      else if (type === "timestamp_ns") {
        expect(f.type.typeId).toBe(Type.Timestamp);
        expect([(f.type as Timestamp).unit, (f.type as Timestamp).timezone]).toEqual([3, "UTC"]);
      } else {
        const int = f.type as Int;
        expect({ name: f.name, bits: int.bitWidth as number, signed: int.isSigned }).toEqual({ name: f.name, bits: Number(type.slice(1)), signed: type.startsWith("i") });
      }
      const col = table.getChildAt(k)!;
      const nullable = defs[k].required !== true;
      const want = Array.from({ length: rows }, (_, i) => value(type, i, nullable));
      // apache-arrow gives times as milliseconds: the nanoseconds are read from the buffer.
      const raw = type === "timestamp_ns" ? (col.data[0].values as BigInt64Array) : null;
      const got = Array.from({ length: rows }, (_, i) => (raw === null ? col.get(i) : col.isValid(i) ? raw[i] : null));
      expect({ name: f.name, got }).toEqual({ name: f.name, got: want });
      expect(col.nullCount).toBe(want.filter((v) => v === null).length);
    }
  }
});

test("an empty text column and a slice of no rows still make a stream the reader accepts", () => {
  const cols = builders([{ name: "s", type: "utf8", doc: "" }, { name: "n", type: "u32", doc: "" }]);
  const ipc = new IpcStreamWriter();
  let slice = sliceOf(cols);
  expect(tableFromIPC(ipc.stream(slice.columns, slice.length).slice()).numRows).toBe(0);
  cols[0].pushString("");
  cols[1].pushNull();
  slice = sliceOf(cols);
  const t = tableFromIPC(ipc.stream(slice.columns, slice.length).slice());
  expect([t.getChildAt(0)!.get(0), t.getChildAt(1)!.get(0)]).toEqual(["", null]);
});
