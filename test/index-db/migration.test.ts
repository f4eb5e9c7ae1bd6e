// Migration 4 (netns columns, netns_gone) on a file an older build wrote: a version-3
// index with rows, built with migrations 1-3 only, opened by this build.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { ConnectionIndex, SCHEMA_VERSION } from "../../src/index-db/index.ts";
import { MIGRATIONS } from "../../src/index-db/schema.ts";
import { closed, indexPathPerTest, opened, progress, report } from "./helpers.ts";

const tmpIndex = indexPathPerTest();

/** Every column of migrations 1-3, read raw (rowid too), in a stable order. */
const OLD_ROWS = `SELECT rowid, * FROM connections ORDER BY uuid`;

function indexNames(db: Database): string[] {
  return db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name")
    .all()
    .map((r) => r.name);
}

/** A version-3 file with open, closed and huge-counter rows and files, as an older build left it. */
function writeVersion3(path: string): { rows: unknown[]; indexes: string[] } {
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  for (const m of MIGRATIONS.slice(0, 3)) db.exec(m);
  db.exec("PRAGMA user_version = 3");
  const ins = db.prepare(
    `INSERT INTO connections (uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode, first_seen, last_seen, closed_at, end_reason, first_state, last_state, bytes_sent, bytes_received, bytes_acked, snapshots)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 2, 1000, ?8, ?9, ?10, ?11, ?12, 1, ?13, ?14, ?15, ?16, ?17)`,
  );
  const reasons = [null, "destroy", "vanished", "shutdown", "restart"];
  db.transaction(() => {
    for (let i = 0; i < 50; i++) {
      const reason = reasons[i % reasons.length];
      ins.run(
        `u${String(i).padStart(3, "0")}`, i.toString(16).toUpperCase().padStart(16, "0"), i % 3 ? 4 : 6,
        i % 3 ? "192.0.2.1" : "2001:db8::1", 443 + (i % 4), i % 3 ? "198.51.100.7" : "2001:db8::9", 50_000 + i, 1000 + i,
        1_700_000_000_000 + (i % 10) * 1000, 1_700_000_100_000 + i, reason === null ? null : 1_700_000_200_000 + i, reason,
        reason === null ? 1 : 7, i % 2 ? -5 : i * 100, i % 5 ? i : null, 7, i,
      );
    }
  })();
  db.exec(`INSERT INTO files (uuid, seq, path, opened_at, closed_at, records) VALUES ('u001', 0, 'a/u001.00000.jsonl.zst', 1, NULL, 3)`);
  db.exec(`INSERT INTO meta (key, value) VALUES ('last_batch_ms', '1700000300000')`);
  const rows = db.query(OLD_ROWS).all();
  const indexes = indexNames(db);
  db.close();
  return { rows, indexes };
}

describe("migration 4", () => {
  test("a version-3 index with rows is brought forward: rows, files and meta kept", async () => {
    const before = writeVersion3(tmpIndex.path);
    const told: number[][] = [];
    const idx = ConnectionIndex.open(tmpIndex.path, { onMigrate: (from, to, rows) => told.push([from, to, rows]) });
    // The collector says so before a migration that may take a while.
    expect(told).toEqual([[3, SCHEMA_VERSION, 50]]);
    expect(SCHEMA_VERSION).toBe(6);
    expect(idx.db.query<{ user_version: number }, []>("PRAGMA user_version").get()!.user_version).toBe(SCHEMA_VERSION);
    // Every old column of every row, rowid included, exactly; the new ones NULL.
    const after = idx.db.query<Record<string, unknown>, []>(OLD_ROWS).all();
    expect(after.map(({ netns_inode, netns_name, container, pod, exported_at, ...old }) => old)).toEqual(before.rows as Record<string, unknown>[]);
    expect(after.every((r) => r.netns_inode === null && r.netns_name === null && r.container === null && r.pod === null)).toBe(true);
    expect(idx.rowCount).toBe(50);
    const c = idx.getConnection("u001")!;
    expect(c).toMatchObject({ bytesSent: 2n ** 64n - 5n, files: [{ path: "a/u001.00000.jsonl.zst", records: 3 }] });
    expect("netns" in c).toBe(false);
    expect(idx.recovery().meta("last_batch_ms")).toBe("1700000300000");
    expect(idx.openConnections().length).toBe(10);
    await idx.close();
  });

  test("every index of migrations 1-3 is there again, with the namespace ones", async () => {
    const before = writeVersion3(tmpIndex.path);
    const idx = ConnectionIndex.open(tmpIndex.path);
    const names = indexNames(idx.db);
    expect(names).toEqual(
      // Migration 4's namespace indexes, and migrations 5 and 6's (the export's).
      [...before.indexes, "connections_by_container", "connections_by_netns", "connections_by_netns_name", "connections_by_pod", "connections_export_due", "files_export_due"].sort(),
    );
    expect(idx.db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
    // The uuid primary key still holds.
    expect(() => idx.db.exec(`INSERT INTO connections (uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode, first_seen, last_seen, first_state, last_state) VALUES ('u001', '0', 4, 'a', 1, 'b', 2, 0, 0, 0, 1, 1, 1, 1)`)).toThrow(/UNIQUE/);
    // And the file is the schema a new one gets.
    const schema = (db: Database) => db.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").all();
    const migrated = schema(idx.db);
    await idx.close();
    const fresh = ConnectionIndex.open(`${tmpIndex.path}.fresh`);
    expect(migrated).toEqual(schema(fresh.db));
    await fresh.close();
  });

  test("the new CHECK accepts netns_gone (closeConnections), and still refuses other reasons", async () => {
    writeVersion3(tmpIndex.path);
    const idx = ConnectionIndex.open(tmpIndex.path);
    expect(idx.closeConnections(["u000", "u001"], 1_700_000_400_000, "netns_gone")).toBe(1); // u001 was closed
    expect(idx.getConnection("u000")).toMatchObject({ endReason: "netns_gone", closedAt: 1_700_000_400_000 });
    expect(idx.getConnection("u001")!.endReason).toBe("destroy");
    expect(() => idx.db.exec("UPDATE connections SET end_reason = 'bogus' WHERE uuid = 'u005'")).toThrow(/CHECK/);
    expect(() => idx.db.exec("UPDATE connections SET family = 5 WHERE uuid = 'u005'")).toThrow(/CHECK/);
    await idx.close();
  });

  test("after migrating, the writer stores namespaces and the old rows fill theirs on reopen", async () => {
    writeVersion3(tmpIndex.path);
    const idx = ConnectionIndex.open(tmpIndex.path);
    const fresh = opened(0xabcn, { netns: { inode: 4026531840 } });
    idx.applyCycle(report({ opened: [fresh], updated: [progress(fresh.uuid)], closed: [closed(fresh.uuid, { reason: "netns_gone" })] }));
    expect(idx.getConnection(fresh.uuid)).toMatchObject({ endReason: "netns_gone", netns: { inode: 4026531840 } });
    const resumed = { ...opened(0n, { netns: { inode: 4026531840 } }), uuid: "u000" };
    expect(idx.applyCycle(report({ opened: [resumed] }))).toMatchObject({ reopened: 1 });
    expect(idx.getConnection("u000")!.netns).toEqual({ inode: 4026531840 });
    expect(idx.queryConnections({ netns: 4026531840 }).connections.map((c) => c.uuid)).toEqual(["u000", fresh.uuid]); // same first_seen: uuid descending
    await idx.close();
  });

  test("a file migrated by another process is not migrated again", async () => {
    writeVersion3(tmpIndex.path);
    await ConnectionIndex.open(tmpIndex.path).close();
    const again = ConnectionIndex.open(tmpIndex.path);
    expect(again.rowCount).toBe(50);
    expect(again.queryConnections({ limit: 1000 }).connections.length).toBe(50);
    await again.close();
  });
});
