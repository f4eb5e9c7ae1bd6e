// The collector's side of the index: one write transaction per poll cycle through
// statements prepared once, plus the restart hand-over (which connections were left open).
import type { Database, Statement } from "bun:sqlite";
import type { ClosedConnection, ConnectionProgress, CycleReport, EndReason, OpenedConnection } from "../model/report.ts";
import { cookieHex } from "../diag/sock-id.ts";
import type { ApplyResult, OpenConnectionInfo } from "./types.ts";
import { cookieFromHex, u64ToSql } from "./u64.ts";

type Bind = string | number | bigint | null;
type Run = Statement<unknown, Bind[]>;

export class IndexWriter {
  private readonly insertConn: Run;
  private readonly reopenConn: Run;
  private readonly updateConn: Run;
  private readonly closeConn: Run;
  private readonly upsertFile: Run;
  private readonly closeConnOnly: Run;
  private readonly closeOpenFiles: Run;
  private readonly selectExpired: Statement<{ uuid: string }, [number, number]>;
  private readonly deleteFiles: Run;
  private readonly deleteConn: Run;
  private readonly selectOpen: Statement<
    { uuid: string; cookie: string; first_seen: number; snapshots: number; highest_seq: number | null; highest_path: string | null },
    []
  >;
  private readonly setLastBatch: Run;
  private readonly countSnapshots: Run;
  private readonly applyTx: (reports: readonly CycleReport[]) => Omit<ApplyResult, "seconds">;
  private rows: number;

  constructor(private readonly db: Database) {
    // INSERT OR IGNORE, then a reopen UPDATE only when nothing was inserted: the common
    // case costs one statement, and `changes` tells new rows from known ones exactly.
    this.insertConn = db.prepare(INSERT_CONNECTION);
    // A uuid names one kernel socket of one boot: seen open again (a restarted collector
    // picking it up) means it is alive, so an earlier close is undone.
    // Its namespace is what was stored, filled in only where unknown (a row added from an
    // archive at start-up, or by an older build). Names are taken only for the same
    // inode so two namespaces' identities are never mixed (SET reads the old row).
    this.reopenConn = db.prepare(
      `UPDATE connections SET closed_at = NULL, end_reason = NULL,
         last_seen = MAX(last_seen, ?2), last_state = ?3,
         netns_inode = COALESCE(netns_inode, ?4),
         netns_name = CASE WHEN netns_inode IS NULL OR netns_inode = ?4 THEN COALESCE(netns_name, ?5) ELSE netns_name END,
         container = CASE WHEN netns_inode IS NULL OR netns_inode = ?4 THEN COALESCE(container, ?6) ELSE container END,
         pod = CASE WHEN netns_inode IS NULL OR netns_inode = ?4 THEN COALESCE(pod, ?7) ELSE pod END
       WHERE uuid = ?1`,
    );
    // COALESCE: a snapshot without (full) tcp_info must not erase the last known counters.
    const progress = `last_seen = ?2, last_state = ?3,
         bytes_sent = COALESCE(?4, bytes_sent), bytes_received = COALESCE(?5, bytes_received),
         bytes_acked = COALESCE(?6, bytes_acked)`;
    this.updateConn = db.prepare(`UPDATE connections SET ${progress} WHERE uuid = ?1`);
    this.closeConn = db.prepare(`UPDATE connections SET ${progress}, closed_at = ?7, end_reason = ?8 WHERE uuid = ?1`);
    // A connection's snapshot count is what its files hold: lines written, over every run
    // (a line still buffered, or lost in a crash, is not counted).
    this.countSnapshots = db.prepare(`UPDATE connections SET snapshots = (SELECT COALESCE(SUM(records), 0) FROM files WHERE uuid = ?1) WHERE uuid = ?1`);
    this.upsertFile = db.prepare(
      `INSERT INTO files (uuid, seq, path, opened_at, closed_at, records) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (uuid, seq) DO UPDATE SET path = excluded.path, closed_at = excluded.closed_at, records = excluded.records`,
    );
    this.closeConnOnly = db.prepare(`UPDATE connections SET closed_at = ?2, end_reason = ?3 WHERE uuid = ?1 AND closed_at IS NULL`);
    this.closeOpenFiles = db.prepare(`UPDATE files SET closed_at = ?2 WHERE uuid = ?1 AND closed_at IS NULL`);
    this.selectExpired = db.query(`SELECT uuid FROM connections WHERE closed_at IS NOT NULL AND closed_at < ?1 ORDER BY closed_at LIMIT ?2`);
    this.deleteFiles = db.prepare(`DELETE FROM files WHERE uuid = ?1`);
    this.deleteConn = db.prepare(`DELETE FROM connections WHERE uuid = ?1`);
    this.selectOpen = db.prepare(
      `SELECT c.uuid, c.cookie, c.first_seen, c.snapshots, f.seq AS highest_seq, f.path AS highest_path
       FROM connections c LEFT JOIN files f ON f.uuid = c.uuid AND f.seq = (SELECT MAX(seq) FROM files WHERE uuid = c.uuid)
       WHERE c.closed_at IS NULL ORDER BY c.first_seen, c.uuid`,
    );
    // When the last batch was written: start-up reconciliation looks for archives written after it.
    this.setLastBatch = db.prepare(`INSERT INTO meta (key, value) VALUES ('last_batch_ms', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    this.applyTx = db.transaction((reports: readonly CycleReport[]) => {
      const sum = { inserted: 0, reopened: 0, missing: 0 };
      const grown = new Set<string>();
      for (const r of reports) {
        const one = this.write(r);
        sum.inserted += one.inserted;
        sum.reopened += one.reopened;
        sum.missing += one.missing;
        for (const f of r.files) grown.add(f.uuid);
        // The storage worker may have reported a connection's file before its opening:
        // a new row counts what the files already hold.
        for (const o of r.opened) grown.add(o.uuid);
      }
      for (const uuid of grown) this.countSnapshots.run(uuid);
      if (reports.length > 0) this.setLastBatch.run(String(reports[reports.length - 1].time));
      return sum;
    });
    this.rows = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM connections").get()?.n ?? 0;
  }

  /** Rows in the connections table (kept up to date without counting). */
  get rowCount(): number {
    return this.rows;
  }

  /** Records one poll cycle in one transaction; on error nothing of it is written. */
  applyCycle(report: CycleReport): ApplyResult {
    return this.applyCycles([report]);
  }

  /**
   * Records several consecutive poll cycles, in order, in one transaction. Each commit
   * rewrites every page it touched, so fewer, larger commits cost less in total (a row
   * updated by several cycles is written once); see the figures in bench/index-query.ts.
   */
  applyCycles(reports: readonly CycleReport[]): ApplyResult {
    const t0 = performance.now();
    const r = this.applyTx(reports);
    this.rows += r.inserted;
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  }

  private write(report: CycleReport): Omit<ApplyResult, "seconds"> {
    let inserted = 0;
    let reopened = 0;
    let missing = 0;
    for (const c of report.opened) {
      const res = this.insertConn.run(...connectionParams(c, c.firstSeen, c.state));
      if (res.changes > 0) inserted++;
      else {
        this.reopenConn.run(c.uuid, c.firstSeen, c.state, ...netnsParams(c));
        reopened++;
      }
    }
    for (const u of report.updated) {
      if (this.updateConn.run(...progressParams(u)).changes === 0) missing++;
    }
    for (const c of report.closed) {
      if (this.closeConn.run(...progressParams(c), c.closedAt, c.reason).changes === 0) missing++;
    }
    for (const f of report.files) {
      this.upsertFile.run(f.uuid, f.seq, f.path, f.openedAt, f.closedAt, f.records);
    }
    return { inserted, reopened, missing };
  }

  /** Every connection not closed, oldest first, for a restarting collector. */
  openConnections(): OpenConnectionInfo[] {
    return this.selectOpen.all().map((r) => ({
      uuid: r.uuid,
      cookie: cookieFromHex(r.cookie),
      firstSeen: r.first_seen,
      snapshots: r.snapshots,
      highestSeq: r.highest_seq,
      highestPath: r.highest_path,
    }));
  }

  /**
   * Ends connections (e.g. those a restarted collector no longer finds), and marks their
   * still-open files closed at the same time. Already closed ones are left as they were.
   * Returns how many were closed.
   */
  prune(cutoff: number, limit: number): number {
    return this.db.transaction(() => {
      const expired = this.selectExpired.all(cutoff, limit);
      for (const { uuid } of expired) {
        this.deleteFiles.run(uuid);
        this.rows -= this.deleteConn.run(uuid).changes;
      }
      return expired.length;
    })();
  }

  closeConnections(uuids: Iterable<string>, at: number, reason: EndReason): number {
    return this.db.transaction(() => {
      let n = 0;
      for (const uuid of uuids) {
        const changed = this.closeConnOnly.run(uuid, at, reason).changes;
        if (changed > 0) {
          n += changed;
          this.closeOpenFiles.run(uuid, at);
        }
      }
      return n;
    })();
  }
}

/** A new connection row (nothing happens if the uuid is known); bind with connectionParams. */
export const INSERT_CONNECTION = `INSERT OR IGNORE INTO connections
     (uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode,
      first_seen, last_seen, first_state, last_state, snapshots,
      netns_inode, netns_name, container, pod)
   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0, ?15, ?16, ?17, ?18)`;

export function connectionParams(c: OpenedConnection, lastSeen: number, lastState: number): Bind[] {
  return [
    c.uuid, cookieHex(c.cookie), c.family, c.src.ip, c.src.port, c.dst.ip, c.dst.port, c.interface, c.uid, c.inode, c.firstSeen, lastSeen, c.state, lastState,
    ...netnsParams(c),
  ];
}

/** netns_inode, netns_name, container, pod: NULL for what is not known. */
function netnsParams(c: OpenedConnection): [Bind, Bind, Bind, Bind] {
  const n = c.netns;
  return n === undefined ? [null, null, null, null] : [n.inode, n.name ?? null, n.container ?? null, n.pod ?? null];
}

function progressParams(p: ConnectionProgress | ClosedConnection): [string, number, number, Bind, Bind, Bind] {
  return [p.uuid, p.lastSeen, p.state, u64ToSql(p.bytesSent), u64ToSql(p.bytesReceived), u64ToSql(p.bytesAcked)];
}
