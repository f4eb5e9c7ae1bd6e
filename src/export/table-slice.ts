// A table's column builders, and the slice of rows they hold as the Parquet writer takes it.
import type { IpcColumn } from "./arrow-ipc.ts";
import { ColumnBuilder } from "./column-builder.ts";
import type { ColumnDef } from "./columns.ts";

/** Rows of a table, column by column (views into the builders, valid until they change). */
export interface TableSlice {
  readonly length: number;
  readonly columns: readonly IpcColumn[];
}

/** The builders' rows as a slice; its schema says which columns may be null (the rest read as required). */
export function sliceOf(cols: readonly ColumnBuilder[]): TableSlice {
  const length = cols.length > 0 ? cols[0].length : 0;
  for (const c of cols) if (c.length !== length) throw new Error(`column ${c.def.name} has ${c.length} rows, not ${length}`);
  return { length, columns: cols.map((c) => c.ipcColumn()) };
}

/** Builders for a table's columns, by name, in order. */
export function builders(defs: readonly ColumnDef[], capacity?: number): ColumnBuilder[] {
  return defs.map((d) => new ColumnBuilder(d, capacity));
}
