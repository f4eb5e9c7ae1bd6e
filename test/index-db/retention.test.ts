// Retention: old closed connections leave the index, oldest first, with their file rows;
// open ones and recent ones stay. Also the upgrade of a schema-1 file that adds its index.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { ConnectionIndex, SCHEMA_VERSION } from "../../src/index-db/index.ts";
import { MIGRATIONS } from "../../src/index-db/schema.ts";
import { closed, indexPathPerTest, opened, report } from "./helpers.ts";

const tmpIndex = indexPathPerTest();

function file(uuid: string, seq: number) {
  return { uuid, path: `2023/11/14/${uuid}.${String(seq).padStart(5, "0")}.jsonl.zst`, seq, openedAt: 1000, closedAt: null, records: 1 };
}

test("pruneClosedBefore deletes connections closed before the cutoff, oldest first, with their files", async () => {
  const idx = ConnectionIndex.open(tmpIndex.path);
  const conns = [1n, 2n, 3n, 4n, 5n].map((c) => opened(c, { firstSeen: Number(c) * 1000 }));
  idx.applyCycle(report({ opened: conns, files: conns.flatMap((c) => [file(c.uuid, 0), file(c.uuid, 1)]) }));
  // 1..4 closed at 10s, 20s, 30s, 40s; 5 stays open.
  idx.applyCycle(report({ closed: conns.slice(0, 4).map((c, i) => closed(c.uuid, { closedAt: (i + 1) * 10_000 })) }));

  expect(idx.pruneClosedBefore(35_000, 2)).toBe(2); // the limit: the two oldest
  expect(idx.getConnection(conns[0].uuid)).toBeNull();
  expect(idx.getConnection(conns[1].uuid)).toBeNull();
  expect(idx.getConnection(conns[2].uuid)!.files.length).toBe(2);
  expect(idx.pruneClosedBefore(35_000, 2)).toBe(1); // 30 s; 40 s is after the cutoff
  expect(idx.pruneClosedBefore(35_000, 2)).toBe(0);
  expect(idx.getConnection(conns[3].uuid)).not.toBeNull();
  expect(idx.getConnection(conns[4].uuid)!.closedAt).toBeNull();
  // Open connections are never pruned, whatever the cutoff.
  expect(idx.pruneClosedBefore(Number.MAX_SAFE_INTEGER)).toBe(1);
  expect(idx.getConnection(conns[4].uuid)).not.toBeNull();
  expect(idx.rowCount).toBe(1);
  const orphans = idx.db.query<{ n: number }, []>("SELECT count(*) AS n FROM files WHERE uuid NOT IN (SELECT uuid FROM connections)").get()!;
  expect(orphans.n).toBe(0);
  await idx.close();
});

test("a schema-1 index is upgraded in place and keeps its rows", async () => {
  const db = new Database(tmpIndex.path);
  db.exec(MIGRATIONS[0]);
  db.exec("PRAGMA user_version = 1");
  db.exec(`INSERT INTO connections (uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode, first_seen, last_seen, closed_at, end_reason, first_state, last_state, snapshots)
           VALUES ('u1', '0000000000000001', 4, '192.0.2.1', 1, '192.0.2.2', 2, 0, 0, 0, 1, 1, 5, 'destroy', 1, 7, 1)`);
  db.close();
  const idx = ConnectionIndex.open(tmpIndex.path);
  expect(idx.db.query<{ user_version: number }, []>("PRAGMA user_version").get()!.user_version).toBe(SCHEMA_VERSION);
  expect(SCHEMA_VERSION).toBe(6);
  const names = idx.db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'index'").all().map((r) => r.name);
  expect(names).toContain("connections_closed");
  expect(idx.getConnection("u1")!.endReason).toBe("destroy");
  expect(idx.pruneClosedBefore(10)).toBe(1);
  await idx.close();
});
