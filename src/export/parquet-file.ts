// Parquet files written as a stream of slices, never visible half-written: each file's
// bytes go to a hidden temporary name in the same folder, are flushed to disk, and only
// then renamed into place (commit), all of a batch's files together.
//
// A file is fed slice by slice (a few thousand rows of Arrow data each) and the writer
// encodes each before it takes the next: memory holds one slice and the compressed pages,
// not a whole file's rows as Arrow IPC in JS and again in wasm (an export of 250,000 rows
// per file reached ~1 GB resident that way, and its page faults cost a third of the CPU).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import * as parquet from "parquet-wasm";
import { IpcStreamWriter } from "./arrow-ipc.ts";
import type { TableSlice } from "./table-slice.ts";

/**
 * zstd, no dictionaries, statistics per column chunk (what engines prune row groups
 * with) on `statsColumns` only (all columns when not given). Measured on 50,000
 * snapshots: the defaults (dictionaries, page statistics) took 519 ms and 395 KB, these
 * 80 ms and ~300 KB: counters that move every snapshot gain nothing from a dictionary,
 * and zstd finds the repeats in the rest. Chunk statistics on all ~150 snapshot columns
 * took 47-52 ms of the encoder's time per 50,000 snapshots, on the identity and time
 * columns alone 33-35 ms: engines prune by time, connection and address, not by a
 * counter's range. A row group holds up to a whole file (a batch), so slices do not
 * make row groups small.
 */
function writerProperties(statsColumns?: readonly string[]): parquet.WriterProperties {
  let b = new parquet.WriterPropertiesBuilder()
    .setCompression(parquet.Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(statsColumns === undefined ? parquet.EnabledStatistics.Chunk : parquet.EnabledStatistics.None)
    .setMaxRowGroupSize(1 << 20)
    .setCreatedBy("tcp-info-bun export");
  for (const name of statsColumns ?? []) b = b.setColumnStatisticsEnabled(name, parquet.EnabledStatistics.Chunk);
  return b.build();
}

/** One stream writer for every file: its buffer is kept from slice to slice. */
const ipc = new IpcStreamWriter();

/** One Parquet file being written under its temporary name. */
export class ParquetStream {
  bytes = 0;
  private ctrl!: ReadableStreamDefaultController<parquet.RecordBatch>;
  /** Resolved when the encoder asks for the next batch (or the file failed). */
  private demand!: Promise<void>;
  private signal!: () => void;
  private failure: unknown = null;
  private pump: Promise<void> = Promise.resolve();
  private fd: number;

  private constructor(readonly tmp: string) {
    this.arm();
    this.fd = openSync(tmp, "wx", 0o644);
  }

  static open(tmp: string, statsColumns?: readonly string[]): ParquetStream {
    const f = new ParquetStream(tmp);
    const source = new ReadableStream<parquet.RecordBatch>({ start: (c) => void (f.ctrl = c), pull: () => f.signal() }, { highWaterMark: 0 });
    // The encoder reads the first slice (for the schema) before it hands back its output.
    f.pump = parquet.transformParquetStream(source, writerProperties(statsColumns)).then(
      (out) => f.drain(out as ReadableStream<Uint8Array>),
      (e: unknown) => f.fail(e),
    );
    return f;
  }

  private arm(): void {
    this.demand = new Promise((resolve) => (this.signal = resolve));
  }

  /** Writes the encoder's output to the file as it comes. */
  private async drain(out: ReadableStream<Uint8Array>): Promise<void> {
    const reader = out.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        for (let off = 0; off < value.byteLength; ) off += writeSync(this.fd, value, off);
        this.bytes += value.byteLength;
      }
    } catch (e) {
      this.fail(e);
      void reader.cancel(e).catch(() => {});
    }
  }

  private fail(e: unknown): void {
    if (this.failure === null) this.failure = e;
    this.signal();
    try {
      this.ctrl.error(e);
    } catch {
      // Already closed or errored.
    }
  }

  /** Appends a slice's rows; resolves once the encoder has taken them. */
  async write(slice: TableSlice): Promise<void> {
    if (slice.length === 0) return;
    const wasm = parquet.Table.fromIPCStream(ipc.stream(slice.columns, slice.length));
    try {
      for (const batch of wasm.recordBatches()) {
        await this.demand;
        this.arm();
        if (this.failure !== null) {
          batch.free();
          throw this.failure;
        }
        this.ctrl.enqueue(batch);
      }
    } finally {
      wasm.free();
    }
  }

  /** Ends the file (footer written, flushed to disk). */
  async finish(): Promise<void> {
    if (this.failure === null) this.ctrl.close();
    await this.pump;
    if (this.failure !== null) throw this.failure;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Stops writing and removes the temporary file. Best effort: it runs on a failure's
   * way out, and a file that cannot be removed (its folder gone read-only) stays under
   * its hidden temporary name, never as a part file.
   */
  discard(): void {
    if (this.failure === null) this.fail(new Error("discarded"));
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    try {
      rmSync(this.tmp, { force: true });
    } catch {
      // Left under its hidden name.
    }
  }
}

/** Files written under temporary names, renamed into place by commit() or removed by abort(). */
export class PendingFiles {
  private readonly pending: { file: ParquetStream; final: string }[] = [];

  /** A new file for `finalPath` (under a temporary name until commit); statistics on `statsColumns` (default: all). */
  open(finalPath: string, statsColumns?: readonly string[]): ParquetStream {
    mkdirSync(dirname(finalPath), { recursive: true });
    const file = ParquetStream.open(join(dirname(finalPath), `.${basename(finalPath)}.tmp`), statsColumns);
    this.pending.push({ file, final: finalPath });
    return file;
  }

  /** Bytes written to every pending file. */
  get bytes(): number {
    return this.pending.reduce((n, p) => n + p.file.bytes, 0);
  }

  /** Finishes every file and renames it into place; returns their final paths and size. */
  async commit(): Promise<{ paths: string[]; bytes: number }> {
    for (const p of this.pending) await p.file.finish();
    const bytes = this.bytes;
    // Never replace a file of an earlier export.
    for (const p of this.pending) if (existsSync(p.final)) throw new Error(`${p.final} exists already`);
    const done: string[] = [];
    try {
      for (const p of this.pending) {
        renameSync(p.file.tmp, p.final);
        done.push(p.final);
      }
    } catch (e) {
      // All or nothing: the files renamed so far go back to their temporary names (the
      // batch stays pending, for abort() to remove), or, failing that, away. Best effort:
      // the rename's error is the one reported.
      for (let i = 0; i < done.length; i++) {
        try {
          renameSync(done[i], this.pending[i].file.tmp);
        } catch {
          try {
            rmSync(done[i], { force: true });
          } catch {
            // Left in place: the error below says the batch failed.
          }
        }
      }
      throw e;
    }
    this.pending.length = 0;
    // The renames reach the disk before the batch is marked exported.
    for (const dir of new Set(done.map((p) => dirname(p)))) {
      const fd = openSync(dir, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    return { paths: done, bytes };
  }

  /** Removes what was written (a failed batch leaves nothing behind). */
  abort(): void {
    for (const p of this.pending.splice(0)) p.file.discard();
  }
}
