// One export run, written as hive-partitioned Parquet (table=…/date=…/host=…/part-….parquet):
// the snapshots of every closed archive file the index has not exported yet (a rotated
// file of a live connection too), then the rows of the closed connections not yet
// exported. Batches of about ROWS_PER_BATCH snapshot rows: each batch's files are written
// under temporary names (fed slice by slice, SLICE_ROWS rows at a time, so memory holds a
// slice rather than a file), renamed into place together, then its archive files and
// connections are marked exported in one transaction. A failure (a full disk) removes the batch's temporary files and
// stops the run: what earlier batches committed stays, complete and marked.
import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { ZstdFormatError } from "../archive/inflate.ts";
import { scanArchiveLines } from "../archive/track-reader.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { join } from "node:path";
import type { ConnectionIndex, DueFile } from "../index-db/index.ts";
import { ConnectionRows } from "./connection-rows.ts";
import { PendingFiles, type ParquetStream } from "./parquet-file.ts";
import { SnapshotRows } from "./snapshot-rows.ts";
import { Thinner } from "./thin.ts";
import type { RowInput } from "./row-input.ts";
import { SCALAR_COLUMNS, SNAPSHOT_HEAD, STRUCT_COLUMNS } from "./columns.ts";

export const ROWS_PER_BATCH = 250_000;
/**
 * Rows handed to the Parquet writer at a time (at least; whole archive files are read).
 * Measured on 500,000 snapshots: whole batches at once took 8.7 s of CPU and 960 MB
 * resident, slices of 16,384 rows 5.1 s and a fraction of the memory.
 */
export const SLICE_ROWS = 16_384;
/** Connection rows are small: a batch of them alone is this many. */
const CONNECTIONS_PER_BATCH = 50_000;
/** The snapshot columns with min/max statistics: identity, time and the socket's id (see writerProperties). */
const SNAPSHOT_STATS = SNAPSHOT_HEAD.map((c) => c.name);
const PAGE = 500;

export interface ExportOptions {
  /** The export's root folder. */
  outDir: string;
  /** The collector's output folder (archive paths in the index are relative to it). */
  archiveDir: string;
  host: string;
  /** Only connections closed at or after / at or before (unix ms). */
  since?: number;
  until?: number;
  /** Thin snapshots to at most one per interval per connection (first and last kept). */
  everyMs?: number;
  now?: () => number;
  rowsPerBatch?: number;
  sliceRows?: number;
}

export interface SkippedArchive {
  uuid: string;
  path: string;
  reason: string;
}

export interface ExportSummary {
  connections: number;
  /** Snapshots read from archives, and rows written for them (fewer with --every). */
  snapshots: number;
  rows: number;
  files: string[];
  bytes: number;
  skipped: SkippedArchive[];
  /** Malformed lines skipped inside archives that were otherwise read, and those archives. */
  malformedLines: number;
  malformed: { uuid: string; path: string; lines: number }[];
  seconds: number;
}

/** UTC date of a unix ms time, as the partition value. */
function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function runStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** A partition value may not contain a path separator or `=`. */
function partitionValue(v: string): string {
  return v.replace(/[/\\=\0]/g, "_");
}

export async function runExport(index: ConnectionIndex, opts: ExportOptions): Promise<ExportSummary> {
  const t0 = performance.now();
  const now = opts.now ?? Date.now;
  const state = index.exportState();
  const host = partitionValue(opts.host);
  // Unique per run: two runs in one second (a timer, a retry) must never reuse a name.
  const stamp = `${runStamp(now())}-${randomBytes(4).toString("hex")}`;
  const limit = opts.rowsPerBatch ?? ROWS_PER_BATCH;
  const slice = opts.sliceRows ?? SLICE_ROWS;
  const until = opts.until ?? Number.MAX_SAFE_INTEGER;
  const sum: ExportSummary = { connections: 0, snapshots: 0, rows: 0, files: [], bytes: 0, skipped: [], malformedLines: 0, malformed: [], seconds: 0 };
  const since = opts.since ?? Number.MIN_SAFE_INTEGER;
  let part = 0;

  let snapParts = new Map<string, SnapshotRows>();
  // The batch's files, open while it fills: one per partition. One set for the run: a
  // commit or an abort leaves it empty for the next batch.
  const files = new PendingFiles();
  let snapFiles = new Map<string, ParquetStream>();
  const part$ = (table: string, d: string): string => join(opts.outDir, `table=${table}`, `date=${d}`, `host=${host}`, `part-${stamp}-${part++}.parquet`);
  /** Hands a partition's rows to its file and empties them. */
  const writeSlice = async (d: string, rows: SnapshotRows): Promise<void> => {
    let file = snapFiles.get(d);
    if (file === undefined) snapFiles.set(d, (file = files.open(part$("snapshots", d), SNAPSHOT_STATS)));
    await file.write(rows.table());
    rows.reset();
  };
  // Builders of written batches, emptied and filled again: their memory is paged in.
  const spareRows: SnapshotRows[] = [];
  let connParts = new Map<string, ConnectionRows>();
  let batchUuids: string[] = [];
  let batchFiles: DueFile[] = [];
  let dayFrom = Number.NaN;
  let dayRows: SnapshotRows | null = null;
  let batchRows = 0;
  const flush = async (): Promise<void> => {
    if (batchUuids.length === 0 && batchFiles.length === 0) return;
    for (const [d, rows] of connParts) await files.open(part$("connections", d)).write(rows.table());
    for (const [d, rows] of snapParts) if (rows.length > 0) await writeSlice(d, rows);
    const done = await files.commit();
    snapFiles = new Map();
    sum.files.push(...done.paths);
    sum.bytes += done.bytes;
    state.markExported(batchUuids, batchFiles, now());
    for (const rows of snapParts.values()) spareRows.push(rows.reset());
    snapParts = new Map();
    connParts = new Map();
    dayFrom = Number.NaN;
    batchUuids = [];
    batchFiles = [];
    batchRows = 0;
  };

  try {
    // Snapshots, file by file: every closed archive file not yet exported, whether its
    // connection is still open (a rotated file) or has ended.
    let afterFile = { closedAt: Number.MIN_SAFE_INTEGER, uuid: "", seq: -1 };
    for (;;) {
      const page = state.filePage(since, until, afterFile, PAGE);
      if (page.length === 0) break;
      for (const f of page) {
        afterFile = { closedAt: f.closedAt, uuid: f.uuid, seq: f.seq };
        const emit = (r: RowInput, represents: number): void => {
          // The day's partition, looked up again only when a line leaves the last one's day.
          if (!(r.sec >= dayFrom && r.sec < dayFrom + 86_400)) {
            dayFrom = Math.floor(r.sec / 86_400) * 86_400;
            const d = day(dayFrom * 1000);
            dayRows = snapParts.get(d) ?? spareRows.pop() ?? new SnapshotRows(slice + 1024);
            snapParts.set(d, dayRows);
          }
          dayRows!.add(f.uuid, r, represents);
          sum.rows++;
          batchRows++;
        };
        const thinner = opts.everyMs ? new Thinner(opts.everyMs, emit) : null;
        readFile(f, opts.archiveDir, sum, (r) => {
          sum.snapshots++;
          if (thinner) thinner.add(r);
          else emit(r, 1);
        });
        thinner?.end();
        batchFiles.push(f);
        for (const [d, rows] of snapParts) if (rows.length >= slice) await writeSlice(d, rows);
        if (batchRows >= limit) await flush();
      }
    }

    // Connections, once closed.
    let after = { closedAt: Number.MIN_SAFE_INTEGER, uuid: "" };
    for (;;) {
      const page = state.page(since, until, after.closedAt, after.uuid, PAGE);
      if (page.length === 0) break;
      for (const c of page) {
        after = { closedAt: c.closedAt!, uuid: c.uuid };
        const d = day(c.firstSeen);
        let rows = connParts.get(d);
        if (rows === undefined) connParts.set(d, (rows = new ConnectionRows()));
        // The partition's value: one host name in the column and the folder.
        rows.add(c, host);
        batchUuids.push(c.uuid);
        sum.connections++;
        if (batchUuids.length >= CONNECTIONS_PER_BATCH) await flush();
      }
    }
    await flush();
  } catch (e) {
    // A slice or a flush that failed: nothing of the batch stays.
    files.abort();
    throw e;
  }
  sum.seconds = (performance.now() - t0) / 1000;
  return sum;
}

/** Attribute types the snapshot rows read. */
const TYPES = [...new Set([...STRUCT_COLUMNS.map((c) => c.attr), ...SCALAR_COLUMNS.map((c) => c.attr)])];

/** The buffer every archive file is read into, kept from file to file (grown when one is bigger). */
let readBuffer = new Uint8Array(1 << 20);

/**
 * A whole file, in `readBuffer` (valid until the next call). A fresh buffer per file
 * (readFileSync) cost an allocation, its page faults and a copy for each of thousands of
 * files.
 */
function readWhole(path: string): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size >= readBuffer.byteLength) readBuffer = new Uint8Array(size + (size >> 2) + 1);
    let n = 0;
    for (;;) {
      if (n === readBuffer.byteLength) {
        const bigger = new Uint8Array(n * 2);
        bigger.set(readBuffer);
        readBuffer = bigger;
      }
      const got = readSync(fd, readBuffer, n, readBuffer.byteLength - n, null);
      if (got === 0) return readBuffer.subarray(0, n);
      n += got;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Hands every snapshot of one archive file to `visit`, in order, through the byte
 * scanner. Corrupt or truncated zstd data (a torn last frame) ends the file after the
 * whole lines before it and counts as one malformed line, as the general reader does. A
 * missing or unreadable file is skipped and named.
 */
function readFile(f: DueFile, archiveDir: string, sum: ExportSummary, visit: (r: RowInput) => void): void {
  let raw: Uint8Array;
  try {
    raw = readWhole(join(archiveDir, f.path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    sum.skipped.push({ uuid: f.uuid, path: f.path, reason: code === "ENOENT" ? "missing" : (e as Error).message });
    return;
  }
  let bad = 0;
  try {
    // A RawIDM shorter than struct inet_diag_msg cannot be a snapshot: malformed, as a
    // line the scanner cannot read.
    scanArchiveLines(raw, TYPES, (r) => (r.idmLength < INET_DIAG_MSG_SIZE ? bad++ : visit(r)), () => bad++);
  } catch (e) {
    if (!(e instanceof ZstdFormatError)) throw e;
    bad++;
  }
  if (bad > 0) {
    sum.malformedLines += bad;
    sum.malformed.push({ uuid: f.uuid, path: f.path, lines: bad });
  }
}
