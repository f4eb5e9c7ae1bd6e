// What a starting collector asks of and tells the index to reconcile it with the archives
// on disk: which files were current when the last run stopped, which files it knows, the
// rows of files and connections that the last run wrote to disk but not to the index.
import type { Database, Statement } from "bun:sqlite";
import type { OpenedConnection } from "../model/report.ts";
import { connectionParams, INSERT_CONNECTION } from "./writer.ts";

type Bind = string | number | bigint | null;

/** A file row whose file was current (not closed) when the index was last written. */
export interface OpenFileRow {
  uuid: string;
  seq: number;
  path: string;
  openedAt: number;
}

export class IndexRecovery {
  private readonly selectOpenFiles: Statement<{ uuid: string; seq: number; path: string; opened_at: number }, []>;
  private readonly selectFile: Statement<{ path: string }, [string, number]>;
  private readonly selectConn: Statement<{ uuid: string }, [string]>;
  private readonly upsertFile: Statement<unknown, Bind[]>;
  private readonly deleteFile: Statement<unknown, Bind[]>;
  private readonly insertConn: Statement<unknown, Bind[]>;
  private readonly syncSnapshots: Statement<unknown, Bind[]>;
  private readonly closeFileStmt: Statement<unknown, Bind[]>;
  private readonly getMeta: Statement<{ value: string }, [string]>;
  private readonly setMetaStmt: Statement<unknown, Bind[]>;

  constructor(private readonly db: Database) {
    this.selectOpenFiles = db.query(`SELECT uuid, seq, path, opened_at FROM files WHERE closed_at IS NULL ORDER BY uuid, seq`);
    this.selectFile = db.query(`SELECT path FROM files WHERE uuid = ?1 AND seq = ?2`);
    this.selectConn = db.query(`SELECT uuid FROM connections WHERE uuid = ?1`);
    this.upsertFile = db.prepare(
      `INSERT INTO files (uuid, seq, path, opened_at, closed_at, records) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (uuid, seq) DO UPDATE SET path = excluded.path, closed_at = excluded.closed_at, records = excluded.records`,
    );
    this.deleteFile = db.prepare(`DELETE FROM files WHERE uuid = ?1 AND seq = ?2`);
    // A connection known only from its archive: open, so that the resume plan decides
    // whether it lives on (its cookie is in the first dump) or ended while we were down.
    this.insertConn = db.prepare(INSERT_CONNECTION);
    // A connection's count is what its files hold (as the collector's writer keeps it).
    this.syncSnapshots = db.prepare(
      `UPDATE connections SET snapshots = (SELECT COALESCE(SUM(records), 0) FROM files WHERE uuid = ?1),
         last_seen = MAX(last_seen, ?2)
       WHERE uuid = ?1`,
    );
    this.closeFileStmt = db.prepare(`UPDATE files SET closed_at = ?3 WHERE uuid = ?1 AND seq = ?2`);
    this.getMeta = db.query(`SELECT value FROM meta WHERE key = ?1`);
    this.setMetaStmt = db.prepare(`INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  }

  openFiles(): OpenFileRow[] {
    return this.selectOpenFiles.all().map((r) => ({ uuid: r.uuid, seq: r.seq, path: r.path, openedAt: r.opened_at }));
  }

  hasFile(uuid: string, seq: number): boolean {
    return this.selectFile.get(uuid, seq) !== null;
  }

  hasConnection(uuid: string): boolean {
    return this.selectConn.get(uuid) !== null;
  }

  setFile(uuid: string, seq: number, path: string, openedAt: number, closedAt: number | null, records: number): void {
    this.upsertFile.run(uuid, seq, path, openedAt, closedAt, records);
  }

  /** Closes a file row, keeping its records (the file is gone from disk, e.g. uploaded and deleted). */
  closeFile(uuid: string, seq: number, closedAt: number): void {
    this.closeFileStmt.run(uuid, seq, closedAt);
  }

  removeFile(uuid: string, seq: number): void {
    this.deleteFile.run(uuid, seq);
  }

  /** Adds a connection found only in its archive (as open; see the statement). False if the index had it. */
  addConnection(c: OpenedConnection, lastSeen: number, lastState: number): boolean {
    const r = this.insertConn.run(...connectionParams(c, lastSeen, lastState));
    return r.changes > 0;
  }

  /** Sets a connection's snapshot count to its files' records and brings its last_seen up to `lastSeen`. */
  syncCounts(uuid: string, lastSeen: number): void {
    this.syncSnapshots.run(uuid, lastSeen);
  }

  meta(key: string): string | null {
    return this.getMeta.get(key)?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.setMetaStmt.run(key, value);
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
