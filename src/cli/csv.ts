// The `csv` command: archives in, CSV out (csvtool's columns), one row per snapshot.
// Several files (or stdin) give one header and the rows of all of them.
import { csvHeader, csvRow } from "../archive/csv.ts";
import type { CsvColumnOptions } from "../archive/csv-columns.ts";
import { looksLikeZstd } from "../archive/inflate.ts";
import { readArchive, type MalformedLine } from "../archive/reader.ts";
import { createReadStream } from "node:fs";

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
  /** Files that could not be opened or read, or are not archives. */
  failedFiles: number;
  /** 0 when every file was read, 1 otherwise: for process.exitCode. */
  exitCode: number;
}

const OUT_CHUNK = 64 * 1024;

async function write(out: WritableLike, text: string): Promise<void> {
  const ok = out.write(text);
  if (ok === false && typeof out.once === "function") await new Promise<void>((resolve) => out.once!("drain", resolve));
}

/** The chunks of `source`, keeping its first 4 bytes in `head` (to tell zstd from text). */
async function* sniffed(source: AsyncIterable<Uint8Array>, head: number[]): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    for (let i = 0; i < chunk.byteLength && head.length < 4; i++) head.push(chunk[i]);
    yield chunk;
  }
}

/** Why an input whose first line is not an archive line is skipped: said once, not per line. */
function notAnArchive(head: number[], m: MalformedLine): Error {
  const what = looksLikeZstd(Uint8Array.from(head))
    ? "zstd data, but not M-Lab JSONL inside"
    : "neither zstd-compressed nor M-Lab JSONL";
  return new Error(`not a tcp-info archive: ${what} (line ${m.line}: ${m.reason})`);
}

/**
 * The whole `csv` subcommand: reads each archive (.jsonl.zst or .jsonl; stdin when
 * `files` is empty) and writes the header and one row per snapshot to `out`. Malformed
 * lines and unreadable files are reported to `err` and skipped; never throws for them.
 * An input whose first line is not an archive line (a README, an index.sqlite) is
 * reported once, as not an archive, and counts as a failed file.
 */
export async function runCsv(files: readonly string[], out: WritableLike, opts: RunCsvOptions = {}): Promise<RunCsvResult> {
  const err = opts.err ?? process.stderr;
  const sources = (files.length === 0 ? ["-"] : files).map((f) => ({
    name: f === "-" ? "stdin" : f,
    open: (): AsyncIterable<Uint8Array> => (f === "-" ? (opts.stdin ?? process.stdin) : createReadStream(f, { highWaterMark: 256 * 1024 })),
  }));
  const result: RunCsvResult = { rows: 0, malformed: 0, failedFiles: 0, exitCode: 0 };
  let buffered = csvHeader(opts) + "\n";
  for (const { name, open } of sources) {
    const head: number[] = [];
    const onMalformed = (m: MalformedLine): void => {
      // Every archive's first line is one of its lines: a bad one means no archive at all.
      if (m.line === 1) throw notAnArchive(head, m);
      result.malformed++;
      err.write(`${name}: line ${m.line}: ${m.reason}\n`);
    };
    try {
      for await (const e of readArchive(sniffed(open(), head), { onMalformed })) {
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
  // Not even a header when no input could be read.
  if (buffered !== "" && result.failedFiles < sources.length) await write(out, buffered);
  result.exitCode = result.failedFiles > 0 ? 1 : 0;
  return result;
}
