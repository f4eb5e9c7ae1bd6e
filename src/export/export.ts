// One export run: closed connections the index has not exported yet, read from their
// archives, written as hive-partitioned Parquet (table=…/date=…/host=…/part-….parquet).
// Batches of about ROWS_PER_BATCH snapshot rows: each batch's files are written under
// temporary names, renamed into place together, then its connections are marked exported
// in one transaction. A failure (a full disk) removes the batch's temporary files and
// stops the run: what earlier batches committed stays, complete and marked.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ArchiveFormatError, readArchiveSync, type SnapshotEntry } from "../archive/reader.ts";
import type { ConnectionIndex, ConnectionWithFiles } from "../index-db/index.ts";
import { ConnectionRows } from "./connection-rows.ts";
import { PendingFiles } from "./parquet-file.ts";
import { SnapshotRows } from "./snapshot-rows.ts";
import { thin } from "./thin.ts";

export const ROWS_PER_BATCH = 250_000;
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
  /** Malformed lines skipped inside archives that were otherwise read. */
  malformedLines: number;
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

export function runExport(index: ConnectionIndex, opts: ExportOptions): ExportSummary {
  const t0 = performance.now();
  const now = opts.now ?? Date.now;
  const state = index.exportState();
  const host = partitionValue(opts.host);
  // Unique per run: two runs in one second (a timer, a retry) must never reuse a name.
  const stamp = `${runStamp(now())}-${randomBytes(4).toString("hex")}`;
  const limit = opts.rowsPerBatch ?? ROWS_PER_BATCH;
  const until = opts.until ?? Number.MAX_SAFE_INTEGER;
  const sum: ExportSummary = { connections: 0, snapshots: 0, rows: 0, files: [], bytes: 0, skipped: [], malformedLines: 0, seconds: 0 };
  let part = 0;
  let after = { closedAt: Number.MIN_SAFE_INTEGER, uuid: "" };

  let snapParts = new Map<string, SnapshotRows>();
  let connParts = new Map<string, ConnectionRows>();
  let batchUuids: string[] = [];
  let batchRows = 0;
  const flush = (): void => {
    if (batchUuids.length === 0) return;
    const files = new PendingFiles();
    try {
      for (const [d, rows] of connParts) files.write(join(opts.outDir, "table=connections", `date=${d}`, `host=${host}`, `part-${stamp}-${part++}.parquet`), rows.table());
      for (const [d, rows] of snapParts) files.write(join(opts.outDir, "table=snapshots", `date=${d}`, `host=${host}`, `part-${stamp}-${part++}.parquet`), rows.table());
      const bytes = files.bytes;
      sum.files.push(...files.commit());
      sum.bytes += bytes;
    } catch (e) {
      files.abort();
      throw e;
    }
    state.markExported(batchUuids, now());
    snapParts = new Map();
    connParts = new Map();
    batchUuids = [];
    batchRows = 0;
  };

  for (;;) {
    const page = state.page(until, after.closedAt, after.uuid, PAGE);
    if (page.length === 0) break;
    for (const c of page) {
      after = { closedAt: c.closedAt!, uuid: c.uuid };
      if (opts.since !== undefined && c.closedAt! < opts.since) continue;
      const snaps = readConnection(c, opts.archiveDir, sum);
      sum.snapshots += snaps.length;
      for (const [e, represents] of opts.everyMs ? thin(snaps, opts.everyMs) : snaps.map((s) => [s, 1] as const)) {
        const d = day(e.timestamp);
        let rows = snapParts.get(d);
        if (rows === undefined) snapParts.set(d, (rows = new SnapshotRows()));
        rows.add(c.uuid, e, represents);
        sum.rows++;
        batchRows++;
      }
      const d = day(c.firstSeen);
      let rows = connParts.get(d);
      if (rows === undefined) connParts.set(d, (rows = new ConnectionRows()));
      rows.add(c, opts.host);
      batchUuids.push(c.uuid);
      sum.connections++;
      if (batchRows >= limit) flush();
    }
  }
  flush();
  sum.seconds = (performance.now() - t0) / 1000;
  return sum;
}

/** Every snapshot of a connection's archives, in order; missing or corrupt ones are skipped and named. */
function readConnection(c: ConnectionWithFiles, archiveDir: string, sum: ExportSummary): SnapshotEntry[] {
  const out: SnapshotEntry[] = [];
  for (const f of c.files) {
    const path = join(archiveDir, f.path);
    if (!existsSync(path)) {
      sum.skipped.push({ uuid: c.uuid, path: f.path, reason: "missing" });
      continue;
    }
    const before = out.length;
    try {
      for (const e of readArchiveSync(path, { onMalformed: () => sum.malformedLines++ })) if (e.kind === "snapshot") out.push(e);
    } catch (e) {
      // Unreadable as a whole (not zstd, truncated header): none of its lines count.
      out.length = before;
      sum.skipped.push({ uuid: c.uuid, path: f.path, reason: e instanceof ArchiveFormatError ? e.message : (e as Error).message });
    }
  }
  return out;
}
