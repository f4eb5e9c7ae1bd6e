// CSV of archived snapshots, one row per snapshot, in M-Lab csvtool's columns (see
// csv-columns.ts). Quoting follows Go's encoding/csv, which csvtool writes through.
// Differences from csvtool, on purpose:
// - no row for the Metadata line (csvtool emits one with Timestamp 2009-05-29T23:59:59Z
//   and every other cell empty or 0);
// - Go's zero Timestamp stays 0001-01-01T00:00:00Z (csvtool substitutes that 2009 date);
// - several files (or stdin) give one header and the rows of all of them.
import { csvCells, csvColumnNames, type CsvColumnOptions } from "./csv-columns.ts";
import type { ArchiveEntry, SnapshotEntry } from "./parse-line.ts";
import { readArchive, type ArchiveSource, type MalformedLine } from "./reader.ts";

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

/** Where runCsv writes: process.stdout, a file stream, or anything with write(). */
export interface WritableLike {
  write(chunk: string): unknown;
  /** If write() returned false, runCsv waits for "drain" (Node streams). */
  once?(event: "drain", listener: () => void): unknown;
}

export interface RunCsvOptions extends CsvColumnOptions {
  /** Read when `files` is empty or holds "-". Default process.stdin. */
  stdin?: AsyncIterable<Uint8Array>;
  /** Warnings (malformed lines, unreadable files). Default process.stderr. */
  err?: WritableLike;
}

export interface RunCsvResult {
  rows: number;
  /** Lines skipped as malformed, across files. */
  malformed: number;
  /** Files that could not be opened or read. */
  failedFiles: number;
  /** 0 when every file was read, 1 otherwise: for process.exitCode. */
  exitCode: number;
}

const OUT_CHUNK = 64 * 1024;

async function write(out: WritableLike, text: string): Promise<void> {
  const ok = out.write(text);
  if (ok === false && typeof out.once === "function") await new Promise<void>((resolve) => out.once!("drain", resolve));
}

/**
 * The whole `csv` subcommand: reads each archive (.jsonl.zst or .jsonl; stdin when
 * `files` is empty) and writes the header and one row per snapshot to `out`. Malformed
 * lines and unreadable files are reported to `err` and skipped; never throws for them.
 */
export async function runCsv(files: readonly string[], out: WritableLike, opts: RunCsvOptions = {}): Promise<RunCsvResult> {
  const err = opts.err ?? process.stderr;
  const sources: { name: string; source: ArchiveSource }[] = (files.length === 0 ? ["-"] : files).map((f) => ({
    name: f === "-" ? "stdin" : f,
    source: f === "-" ? (opts.stdin ?? process.stdin) : f,
  }));
  const result: RunCsvResult = { rows: 0, malformed: 0, failedFiles: 0, exitCode: 0 };
  let buffered = csvHeader(opts) + "\n";
  for (const { name, source } of sources) {
    const onMalformed = (m: MalformedLine): void => {
      result.malformed++;
      err.write(`${name}: line ${m.line}: ${m.reason}\n`);
    };
    try {
      for await (const e of readArchive(source, { onMalformed })) {
        if (e.kind !== "snapshot") continue;
        buffered += csvRow(e) + "\n";
        result.rows++;
        if (buffered.length >= OUT_CHUNK) {
          await write(out, buffered);
          buffered = "";
        }
      }
    } catch (e) {
      result.failedFiles++;
      err.write(`${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  if (buffered !== "") await write(out, buffered);
  result.exitCode = result.failedFiles > 0 ? 1 : 0;
  return result;
}
