// The index schema as an ordered list of migrations. PRAGMA user_version records how many
// have been applied, so an existing file is brought forward step by step and a file
// written by a newer build is refused rather than misread.
import type { Database } from "bun:sqlite";

/** Each entry is applied once, in order, inside one transaction with the version bump. */
export const MIGRATIONS: readonly string[] = [
  // 1: connections and their archive files.
  `
  CREATE TABLE connections (
    uuid           TEXT PRIMARY KEY NOT NULL,
    -- 16 upper-case hex digits: exact (no 64-bit integer pitfalls) and what M-Lab shows.
    cookie         TEXT NOT NULL,
    family         INTEGER NOT NULL CHECK (family IN (4, 6)),
    src_ip         TEXT NOT NULL,
    src_port       INTEGER NOT NULL,
    dst_ip         TEXT NOT NULL,
    dst_port       INTEGER NOT NULL,
    interface      INTEGER NOT NULL,
    uid            INTEGER NOT NULL,
    inode          INTEGER NOT NULL,
    -- Unix milliseconds.
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    closed_at      INTEGER,
    end_reason     TEXT CHECK (end_reason IN ('destroy', 'vanished', 'shutdown', 'restart')),
    first_state    INTEGER NOT NULL,
    last_state     INTEGER NOT NULL,
    -- Unsigned 64-bit counters stored as their two's-complement signed value (SQLite
    -- integers are signed 64-bit); src/index-db/u64.ts converts both ways.
    bytes_sent     INTEGER,
    bytes_received INTEGER,
    bytes_acked    INTEGER,
    snapshots      INTEGER NOT NULL DEFAULT 0
  );
  -- Keyset order of every listing is (first_seen DESC, uuid DESC); each filter index ends
  -- with that pair so a LIMIT stops after reading a page's worth of entries.
  CREATE INDEX connections_by_time  ON connections (first_seen, uuid);
  CREATE INDEX connections_by_sport ON connections (src_port, first_seen, uuid);
  CREATE INDEX connections_by_dport ON connections (dst_port, first_seen, uuid);
  CREATE INDEX connections_by_src   ON connections (src_ip, first_seen, uuid);
  CREATE INDEX connections_by_dst   ON connections (dst_ip, first_seen, uuid);
  -- Small (only live connections): restart recovery and state=open listings.
  CREATE INDEX connections_open ON connections (first_seen, uuid) WHERE closed_at IS NULL;

  CREATE TABLE files (
    uuid      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    -- Relative to the collector's output folder.
    path      TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    closed_at INTEGER,
    records   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (uuid, seq)
  ) WITHOUT ROWID;
  `,
  // 2: retention deletes the oldest closed connections first.
  `
  CREATE INDEX connections_closed ON connections (closed_at) WHERE closed_at IS NOT NULL;
  `,
  // 3: start-up reconciliation: the files a stopped collector left current, and what the
  // index knows of its own state (when its last batch was written, whether the collector
  // that wrote it stopped cleanly).
  `
  CREATE INDEX files_open ON files (uuid, seq) WHERE closed_at IS NULL;
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 4: network namespaces (--netns all) and the netns_gone end reason. SQLite cannot
  // alter a CHECK, so the table is rebuilt (https://sqlite.org/lang_altertable.html,
  // "other kinds of table schema changes"). The secondary indexes are dropped first so
  // that the copy reuses their pages instead of growing the file by all of them.
  `
  DROP INDEX connections_by_time;
  DROP INDEX connections_by_sport;
  DROP INDEX connections_by_dport;
  DROP INDEX connections_by_src;
  DROP INDEX connections_by_dst;
  DROP INDEX connections_open;
  DROP INDEX connections_closed;
  CREATE TABLE connections_v4 (
    uuid           TEXT PRIMARY KEY NOT NULL,
    -- 16 upper-case hex digits: exact (no 64-bit integer pitfalls) and what M-Lab shows.
    cookie         TEXT NOT NULL,
    family         INTEGER NOT NULL CHECK (family IN (4, 6)),
    src_ip         TEXT NOT NULL,
    src_port       INTEGER NOT NULL,
    dst_ip         TEXT NOT NULL,
    dst_port       INTEGER NOT NULL,
    interface      INTEGER NOT NULL,
    uid            INTEGER NOT NULL,
    inode          INTEGER NOT NULL,
    -- Unix milliseconds.
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    closed_at      INTEGER,
    end_reason     TEXT CHECK (end_reason IN ('destroy', 'vanished', 'shutdown', 'restart', 'netns_gone')),
    first_state    INTEGER NOT NULL,
    last_state     INTEGER NOT NULL,
    -- Unsigned 64-bit counters stored as their two's-complement signed value (SQLite
    -- integers are signed 64-bit); src/index-db/u64.ts converts both ways.
    bytes_sent     INTEGER,
    bytes_received INTEGER,
    bytes_acked    INTEGER,
    snapshots      INTEGER NOT NULL DEFAULT 0,
    -- The namespace the connection was seen in; NULL when unknown (rows of older builds).
    netns_inode    INTEGER,
    -- Its /var/run/netns name, container id (lower-case hex) and pod UID, where found.
    netns_name     TEXT,
    container      TEXT,
    pod            TEXT
  );
  -- rowid kept as it was (listings join on it within one statement, never across);
  -- copied in rowid order, the new table is written as a plain append.
  INSERT INTO connections_v4 (rowid, uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode,
      first_seen, last_seen, closed_at, end_reason, first_state, last_state, bytes_sent, bytes_received, bytes_acked, snapshots)
    SELECT rowid, uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode,
      first_seen, last_seen, closed_at, end_reason, first_state, last_state, bytes_sent, bytes_received, bytes_acked, snapshots
    FROM connections;
  DROP TABLE connections;
  ALTER TABLE connections_v4 RENAME TO connections;
  -- Those of migrations 1 and 2, unchanged.
  CREATE INDEX connections_by_time  ON connections (first_seen, uuid);
  CREATE INDEX connections_by_sport ON connections (src_port, first_seen, uuid);
  CREATE INDEX connections_by_dport ON connections (dst_port, first_seen, uuid);
  CREATE INDEX connections_by_src   ON connections (src_ip, first_seen, uuid);
  CREATE INDEX connections_by_dst   ON connections (dst_ip, first_seen, uuid);
  CREATE INDEX connections_open ON connections (first_seen, uuid) WHERE closed_at IS NULL;
  CREATE INDEX connections_closed ON connections (closed_at) WHERE closed_at IS NOT NULL;
  -- The namespace filters, keyset-ordered like the others. Partial: a host-only
  -- collector has no names, containers or pods, and older rows no namespace at all, so
  -- those rows cost no index entries; an = or a range on the column implies IS NOT NULL,
  -- which lets SQLite use them.
  CREATE INDEX connections_by_netns      ON connections (netns_inode, first_seen, uuid) WHERE netns_inode IS NOT NULL;
  CREATE INDEX connections_by_netns_name ON connections (netns_name, first_seen, uuid) WHERE netns_name IS NOT NULL;
  CREATE INDEX connections_by_container  ON connections (container, first_seen, uuid) WHERE container IS NOT NULL;
  CREATE INDEX connections_by_pod        ON connections (pod, first_seen, uuid) WHERE pod IS NOT NULL;
  `,
  // 5: Parquet export (src/export): when each connection was exported, so a second run
  // exports only what closed since; a partial index holds just the ones still due.
  `
  ALTER TABLE connections ADD COLUMN exported_at INTEGER;
  CREATE INDEX connections_export_due ON connections (closed_at, uuid) WHERE closed_at IS NOT NULL AND exported_at IS NULL;
  `,
  // 6: the export takes snapshots file by file: a file closed (rotated, or its connection
  // ended) is exported once, so a long-lived connection's history is exported as it goes.
  `
  ALTER TABLE files ADD COLUMN exported_at INTEGER;
  CREATE INDEX files_export_due ON files (closed_at, uuid, seq) WHERE closed_at IS NOT NULL AND exported_at IS NULL;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  const row = db.query<{ user_version: number }, []>("PRAGMA user_version").get();
  return row?.user_version ?? 0;
}

/** Applies the missing migrations; throws if the file is from a newer schema. */
export function migrate(db: Database): void {
  const current = schemaVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new Error(`index schema version ${current} is newer than this build understands (${SCHEMA_VERSION})`);
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    // BEGIN IMMEDIATE: two processes opening a fresh file must not both migrate it.
    db.transaction(() => {
      if (schemaVersion(db) !== v) return; // someone else got there first
      db.exec(MIGRATIONS[v]);
      // PRAGMA takes no bound parameters; v + 1 is our own integer, not input.
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }).immediate();
  }
}
