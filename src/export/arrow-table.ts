// A table's column builders, and the Arrow table made of them for the Parquet writer.
import { Field, makeData, RecordBatch, Schema, Struct, Table } from "apache-arrow";
import { ColumnBuilder } from "./column-builder.ts";
import type { ColumnDef } from "./columns.ts";

/**
 * The columns as one Arrow table whose schema says which may be null: a reader's schema
 * then shows the never-null columns as required.
 */
export function tableOf(cols: readonly ColumnBuilder[]): Table {
  const vectors = cols.map((b) => b.toVector());
  const fields = cols.map((b, i) => new Field(b.def.name, vectors[i].type, b.def.required !== true));
  const children = vectors.map((v) => {
    if (v.data.length !== 1) throw new Error(`column ${v.type} came in ${v.data.length} chunks`);
    return v.data[0];
  });
  const length = vectors.length > 0 ? vectors[0].length : 0;
  const data = makeData({ type: new Struct(fields), length, nullCount: 0, children });
  return new Table(new RecordBatch(new Schema(fields), data));
}

/** Builders for a table's columns, by name, in order. */
export function builders(defs: readonly ColumnDef[], capacity?: number): ColumnBuilder[] {
  return defs.map((d) => new ColumnBuilder(d, capacity));
}
