// The `csv` command: archives in, CSV out (csvtool's columns), one row per snapshot.
// Several files (or stdin) give one header and the rows of all of them.
import { csvHeader, csvRow } from "../archive/csv.ts";
import type { CsvColumnOptions } from "../archive/csv-columns.ts";
import { readArchive, type ArchiveSource, type MalformedLine } from "../archive/reader.ts";

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
