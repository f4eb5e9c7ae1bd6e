// The exported tables' schema as Markdown, generated from columns.ts so that
// docs/parquet.md (between its schema markers) never drifts from what the writer writes.
// `bun src/export/schema-doc.ts` prints it; `--write` replaces it in docs/parquet.md.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONNECTION_COLUMNS, SNAPSHOT_COLUMNS, type ColumnDef, type ColumnType } from "./columns.ts";

export const SCHEMA_BEGIN = "<!-- schema:begin -->";
export const SCHEMA_END = "<!-- schema:end -->";
export const PARQUET_DOC = join(import.meta.dir, "..", "..", "docs", "parquet.md");

/** The type a Parquet reader sees (logical type), and what DuckDB calls it when it reads the file. */
export const READER_TYPE: Record<ColumnType, { parquet: string; duckdb: string }> = {
  u8: { parquet: "UINT8", duckdb: "UTINYINT" },
  u16: { parquet: "UINT16", duckdb: "USMALLINT" },
  u32: { parquet: "UINT32", duckdb: "UINTEGER" },
  u64: { parquet: "UINT64", duckdb: "UBIGINT" },
  i32: { parquet: "INT32", duckdb: "INTEGER" },
  i64: { parquet: "INT64", duckdb: "BIGINT" },
  utf8: { parquet: "STRING", duckdb: "VARCHAR" },
  // DuckDB keeps microseconds of a UTC-adjusted nanosecond timestamp (see docs/parquet.md).
  timestamp_ns: { parquet: "TIMESTAMP(NANOS, UTC)", duckdb: "TIMESTAMP WITH TIME ZONE" },
};

/** A table cell: pipes escaped, line breaks folded. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

function table(title: string, intro: string, columns: readonly ColumnDef[]): string {
  const rows = columns.map((c) => {
    const t = READER_TYPE[c.type];
    return `| \`${c.name}\` | \`${t.parquet}\` | \`${t.duckdb}\` | ${c.required ? "never" : "yes"} | ${cell(c.doc)} |`;
  });
  return [`### \`${title}\``, "", intro, "", "| column | Parquet type | DuckDB reads | null | meaning |", "|---|---|---|---|---|", ...rows, ""].join("\n");
}

export function schemaMarkdown(): string {
  const partitions = "Plus the partition columns `date` and `host`, read from the path.";
  return [
    table("connections", `One row per closed connection, ${CONNECTION_COLUMNS.length} columns. ${partitions}`, CONNECTION_COLUMNS),
    table("snapshots", `One row per archived snapshot (or per \`--every\` interval), ${SNAPSHOT_COLUMNS.length} columns. ${partitions}`, SNAPSHOT_COLUMNS),
  ].join("\n");
}

/** The generated text as it stands in a document, or null when its markers are missing. */
export function schemaSection(doc: string): string | null {
  const begin = doc.indexOf(SCHEMA_BEGIN);
  const end = doc.indexOf(SCHEMA_END);
  if (begin < 0 || end < begin) return null;
  return doc.slice(begin + SCHEMA_BEGIN.length + 1, end);
}

/** `doc` with the text between its markers replaced by the current schema. */
export function withSchema(doc: string): string {
  const begin = doc.indexOf(SCHEMA_BEGIN);
  const end = doc.indexOf(SCHEMA_END);
  if (begin < 0 || end < begin) throw new Error(`${SCHEMA_BEGIN} … ${SCHEMA_END} not found`);
  return `${doc.slice(0, begin + SCHEMA_BEGIN.length)}\n${schemaMarkdown()}${doc.slice(end)}`;
}

if (import.meta.main) {
  if (process.argv.includes("--write")) writeFileSync(PARQUET_DOC, withSchema(readFileSync(PARQUET_DOC, "utf8")));
  else process.stdout.write(schemaMarkdown());
}
