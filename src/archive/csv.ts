// CSV of archived snapshots, one row per snapshot, in M-Lab csvtool's columns (see
// csv-columns.ts). Quoting follows Go's encoding/csv, which csvtool writes through.
// Differences from csvtool, on purpose:
// - no row for the Metadata line (csvtool emits one with Timestamp 2009-05-29T23:59:59Z
//   and every other cell empty or 0);
// - Go's zero Timestamp stays 0001-01-01T00:00:00Z (csvtool substitutes that 2009 date);
// The command that reads files and writes the rows is src/cli/csv.ts.
import { csvCells, csvColumnNames, type CsvColumnOptions } from "./csv-columns.ts";
import type { ArchiveEntry, SnapshotEntry } from "./parse-line.ts";

export { csvColumnNames, mlabAddress } from "./csv-columns.ts";
export type { CsvColumnOptions } from "./csv-columns.ts";

/** A field as Go's csv.Writer writes it: quoted only when needed. */
export function csvField(field: string): string {
  if (field === "") return field;
  const needs = field === "\\." || /[",\r\n]/.test(field) || /^\s/u.test(field);
  return needs ? '"' + field.replace(/"/g, '""') + '"' : field;
}

export function csvHeader(opts: CsvColumnOptions = {}): string {
  return csvColumnNames(opts).map(csvField).join(",");
}

/** One snapshot as a CSV row, without the newline. */
export function csvRow(entry: SnapshotEntry): string {
  return csvCells(entry).map(csvField).join(",");
}

/** Header, then one row per snapshot entry (Metadata entries give none). Lines without newline. */
export function* csvLines(entries: Iterable<ArchiveEntry>, opts: CsvColumnOptions = {}): Generator<string> {
  yield csvHeader(opts);
  for (const e of entries) if (e.kind === "snapshot") yield csvRow(e);
}

