// Opens the index file with the settings every user of it needs.
import { Database } from "bun:sqlite";
import { migrate, schemaVersion, SCHEMA_VERSION } from "./schema.ts";

export interface OpenIndexOptions {
  /** Open without write access (the query command). Never migrates. */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** SQLite page cache of this connection, MiB. Default 8. */
  cacheMiB?: number;
  /** Told before migrations run (a large index takes a while: ~30 s per million rows for version 4). */
  onMigrate?: (from: number, to: number, rows: number) => void;
}

export function openIndexDatabase(path: string, options: OpenIndexOptions = {}): Database {
  const readonly = options.readonly ?? false;
  const db = readonly ? new Database(path, { readonly: true, strict: true }) : new Database(path, { create: true, readwrite: true, strict: true });
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    // 8 MiB page cache by default (SQLite's is 2 MiB). A cache keeps every page it reads
    // until it is full, so the collector's memory grows with the index up to this size for
    // each connection open on it (the storage worker's, the API's, the daemon's). A miss
    // is a read from the OS page cache, a few µs. Measured: on a 400k-row index the soak's
    // write batches (50 opened, 50 closed, 500 updated) took as long at 2, 8, 16 and 64 MiB;
    // at 1M rows no query of bench/index-query.ts was faster with 64 MiB, and only its
    // one-report-of-3,000-rows write was slower with 8 (260 ms, 140 ms), a shape the
    // collector, batching every 250 ms, does not produce.
    db.exec(`PRAGMA cache_size = -${Math.max(1, Math.trunc(options.cacheMiB ?? 8)) * 1024}`);
    if (readonly) {
      const version = schemaVersion(db);
      if (version !== SCHEMA_VERSION) {
        throw new Error(`index ${path} has schema version ${version}, expected ${SCHEMA_VERSION} (open it once with the collector to migrate)`);
      }
      return db;
    }
    // WAL: the API's readers never block the collector's once-per-cycle writer.
    // synchronous=NORMAL: in WAL mode a crash can lose the last transactions but never
    // corrupts the file, and commits skip an fsync each: the index can be rebuilt
    // from the archives, the poll loop's latency cannot be bought back.
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    const from = schemaVersion(db);
    if (from > 0 && from < SCHEMA_VERSION && options.onMigrate) {
      const rows = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM connections").get()?.n ?? 0;
      options.onMigrate(from, SCHEMA_VERSION, rows);
    }
    migrate(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}
