// What the Parquet export has taken: each connection's exported_at (schema 5). A run
// exports closed connections not yet exported, oldest close first, and marks them in one
// transaction once its files are in place.
import type { Database, Statement } from "bun:sqlite";
import { COLUMNS, toRecord, type Row } from "./rows.ts";
import type { ConnectionWithFiles, FileRecord } from "./types.ts";

export class ExportState {
  private readonly due: Statement<Row, [number, number, number, string, number]>;
  private readonly files: Statement<{ path: string; seq: number; opened_at: number; closed_at: number | null; records: number }, [string]>;
  private readonly mark: Statement<unknown, [number, string]>;

  constructor(private readonly db: Database) {
    // (closed_at, uuid) keyset over the partial index of connections still due.
    this.due = db
      .prepare<Row, [number, number, number, string, number]>(
        `SELECT ${COLUMNS} FROM connections
         WHERE closed_at IS NOT NULL AND exported_at IS NULL AND closed_at >= ?1 AND closed_at <= ?2 AND (closed_at, uuid) > (?3, ?4)
         ORDER BY closed_at, uuid LIMIT ?5`,
      )
      .safeIntegers(true);
    this.files = db.prepare(`SELECT path, seq, opened_at, closed_at, records FROM files WHERE uuid = ?1 ORDER BY seq`);
    this.mark = db.prepare(`UPDATE connections SET exported_at = ?1 WHERE uuid = ?2`);
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

  /** Marks connections exported at `at` (unix ms), all or none. */
  markExported(uuids: readonly string[], at: number): void {
    this.db.transaction(() => {
      for (const u of uuids) this.mark.run(at, u);
    }).immediate();
  }
}
