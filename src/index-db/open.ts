// Opens the index file with the settings every user of it needs.
import { Database } from "bun:sqlite";
import { migrate, schemaVersion, SCHEMA_VERSION } from "./schema.ts";

export interface OpenIndexOptions {
  /** Open without write access (the query command). Never migrates. */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** SQLite page cache of this connection, MiB. Default 64. */
  cacheMiB?: number;
}

export function openIndexDatabase(path: string, options: OpenIndexOptions = {}): Database {
  const readonly = options.readonly ?? false;
  const db = readonly ? new Database(path, { readonly: true, strict: true }) : new Database(path, { create: true, readwrite: true, strict: true });
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    // 64 MiB page cache by default (SQLite's is 2 MiB): holds the upper levels and hot
    // leaves of all six indexes at a million rows; misses go to the OS page cache.
    db.exec(`PRAGMA cache_size = -${Math.max(1, Math.trunc(options.cacheMiB ?? 64)) * 1024}`);
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
    migrate(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}
