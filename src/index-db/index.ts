// The connection index: one SQLite file, written once per poll cycle by the collector and
// read by the API and the query command.
import type { Database } from "bun:sqlite";
import type { CycleReport, EndReason } from "../model/report.ts";
import { Checkpointer } from "./checkpointer.ts";
import { openIndexDatabase, type OpenIndexOptions } from "./open.ts";
import { IndexReader } from "./query.ts";
import type { ApplyResult, ConnectionFilter, ConnectionPage, ConnectionWithFiles, OpenConnectionInfo } from "./types.ts";
import { IndexWriter } from "./writer.ts";
import { IndexRecovery } from "./recovery.ts";

export * from "./types.ts";
export { CONTAINER_ID, FilterError, POD_UID } from "./query.ts";
export { CursorError, decodeCursor, encodeCursor } from "./cursor.ts";
export { SCHEMA_VERSION } from "./schema.ts";
export { ExportState, type DueFile } from "./export-state.ts";
import { ExportState } from "./export-state.ts";
export type { IndexRecovery, OpenFileRow } from "./recovery.ts";

/** What the API needs: listings and lookups. */
export interface ConnectionSource {
  queryConnections(filter?: ConnectionFilter): ConnectionPage;
  getConnection(uuid: string): ConnectionWithFiles | null;
}

/** WAL pages (4 KiB) after which the writer checkpoints itself if the worker falls behind. */
const FALLBACK_CHECKPOINT_PAGES = 10_000;

export class ConnectionIndex implements ConnectionSource {
  private readonly reader: IndexReader;
  private writer: IndexWriter | null = null;
  private checkpointer: Checkpointer | null = null;

  private constructor(readonly db: Database, readonly readonly: boolean) {
    this.reader = new IndexReader(db);
  }

  /** Opens (creating and migrating unless read-only) the index at `path`. */
  static open(path: string, options: OpenIndexOptions = {}): ConnectionIndex {
    const db = openIndexDatabase(path, options);
    try {
      return new ConnectionIndex(db, options.readonly ?? false);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * Moves WAL checkpoints (WAL read, file write, fsync) to a worker thread, off the
   * caller's: measured to roughly halve applyCycle on ext4. The writer's own automatic
   * checkpoint stays as a fallback at a much larger WAL size. close() must be awaited.
   */
  async startBackgroundCheckpoints(intervalMs = 200, onError?: (message: string) => void): Promise<void> {
    if (this.readonly) throw new Error("index opened read-only");
    if (this.checkpointer) return;
    this.checkpointer = await Checkpointer.start(this.db.filename, { intervalMs, onError });
    this.db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
  }

  private write(): IndexWriter {
    if (this.readonly) throw new Error("index opened read-only");
    // Prepared lazily so a read-only handle never prepares write statements.
    this.writer ??= new IndexWriter(this.db);
    return this.writer;
  }

  /** Records one poll cycle in one transaction. */
  applyCycle(report: CycleReport): ApplyResult {
    return this.write().applyCycle(report);
  }

  /** Records consecutive poll cycles, in order, in one transaction (cheaper than one each). */
  applyCycles(reports: readonly CycleReport[]): ApplyResult {
    return this.write().applyCycles(reports);
  }

  /** Start-up reconciliation's view of the index (write access). */
  recovery(): IndexRecovery {
    this.write();
    return new IndexRecovery(this.db);
  }

  openConnections(): OpenConnectionInfo[] {
    return this.write().openConnections();
  }

  closeConnections(uuids: Iterable<string>, at: number, reason: EndReason): number {
    return this.write().closeConnections(uuids, at, reason);
  }

  /**
   * Retention: deletes up to `limit` connections closed before `cutoff` (unix ms), oldest
   * first, with their file rows, in one transaction; open ones are never touched and the
   * archives stay on disk. Returns how many were deleted (call again while it is `limit`).
   */
  pruneClosedBefore(cutoff: number, limit = 10_000): number {
    return this.write().prune(cutoff, limit);
  }

  /** Rows in the connections table (for the index-rows gauge). */
  get rowCount(): number {
    return this.readonly ? this.countRows() : this.write().rowCount;
  }

  private countRows(): number {
    return this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM connections").get()?.n ?? 0;
  }

  queryConnections(filter: ConnectionFilter = {}): ConnectionPage {
    return this.reader.queryConnections(filter);
  }

  getConnection(uuid: string): ConnectionWithFiles | null {
    return this.reader.getConnection(uuid);
  }

  /** What the Parquet export has taken (schema 5's exported_at). */
  exportState(): ExportState {
    return new ExportState(this.db);
  }

  /** Closes the database (after stopping the checkpoint worker, if one runs). */
  async close(): Promise<void> {
    const c = this.checkpointer;
    this.checkpointer = null;
    if (c) await c.stop();
    this.db.close();
  }
}
