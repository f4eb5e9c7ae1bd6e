// What the Parquet export has taken (schema 5 and 6): each archive file's and each
// connection's exported_at. Snapshots go out file by file, once a file is closed (rotated,
// or its connection ended); a connection's row once it is closed. A batch's files and
// connections are marked in one transaction once its Parquet files are in place.
import type { Database, Statement } from "bun:sqlite";
import { COLUMNS, toRecord, type Row } from "./rows.ts";
import type { ConnectionWithFiles, FileRecord } from "./types.ts";

/** A closed archive file not yet exported. */
export interface DueFile {
  uuid: string;
  seq: number;
  /** Relative to the collector's output folder. */
  path: string;
  closedAt: number;
}

export class ExportState {
  private readonly due: Statement<Row, [number, number, number, string, number]>;
  private readonly dueFiles: Statement<{ uuid: string; seq: number; path: string; closed_at: number }, [number, number, number, string, number, number]>;
  private readonly files: Statement<{ path: string; seq: number; opened_at: number; closed_at: number | null; records: number }, [string]>;
  private readonly mark: Statement<unknown, [number, string]>;
  private readonly markFile: Statement<unknown, [number, string, number]>;

  constructor(private readonly db: Database) {
    // Keyset pages over the partial indexes of what is still due.
    this.due = db
      .prepare<Row, [number, number, number, string, number]>(
        `SELECT ${COLUMNS} FROM connections
         WHERE closed_at IS NOT NULL AND exported_at IS NULL AND closed_at >= ?1 AND closed_at <= ?2 AND (closed_at, uuid) > (?3, ?4)
         ORDER BY closed_at, uuid LIMIT ?5`,
      )
      .safeIntegers(true);
    this.dueFiles = db.prepare(
      `SELECT uuid, seq, path, closed_at FROM files
       WHERE closed_at IS NOT NULL AND exported_at IS NULL AND closed_at >= ?1 AND closed_at <= ?2 AND (closed_at, uuid, seq) > (?3, ?4, ?5)
       ORDER BY closed_at, uuid, seq LIMIT ?6`,
    );
    this.files = db.prepare(`SELECT path, seq, opened_at, closed_at, records FROM files WHERE uuid = ?1 ORDER BY seq`);
    this.mark = db.prepare(`UPDATE connections SET exported_at = ?1 WHERE uuid = ?2`);
    this.markFile = db.prepare(`UPDATE files SET exported_at = ?1 WHERE uuid = ?2 AND seq = ?3`);
  }

  /**
   * Up to `limit` closed connections not yet exported that closed in [since, until]
   * (unix ms), after the keyset position (`afterClosedAt`, `afterUuid`), with their files.
   */
  page(since: number, until: number, afterClosedAt: number, afterUuid: string, limit: number): ConnectionWithFiles[] {
    return this.due.all(since, until, afterClosedAt, afterUuid, limit).map((r) => {
      const rec = toRecord(r);
      const files: FileRecord[] = this.files.all(rec.uuid).map((f) => ({ path: f.path, seq: f.seq, openedAt: f.opened_at, closedAt: f.closed_at, records: f.records }));
      return { ...rec, files };
    });
  }

  /** Up to `limit` closed files not yet exported, closed in [since, until], after the keyset position. */
  filePage(since: number, until: number, after: { closedAt: number; uuid: string; seq: number }, limit: number): DueFile[] {
    return this.dueFiles.all(since, until, after.closedAt, after.uuid, after.seq, limit).map((f) => ({ uuid: f.uuid, seq: f.seq, path: f.path, closedAt: f.closed_at }));
  }

  /** Marks files and connections exported at `at` (unix ms), all or none. */
  markExported(uuids: readonly string[], files: readonly { uuid: string; seq: number }[], at: number): void {
    this.db.transaction(() => {
      for (const f of files) this.markFile.run(at, f.uuid, f.seq);
      for (const u of uuids) this.mark.run(at, u);
    }).immediate();
  }
}
