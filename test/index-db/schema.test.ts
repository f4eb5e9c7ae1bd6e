import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { ConnectionIndex, SCHEMA_VERSION } from "../../src/index-db/index.ts";
import { MIGRATIONS } from "../../src/index-db/schema.ts";
import { opened, report, indexPathPerTest } from "./helpers.ts";

const tmpIndex = indexPathPerTest();

function pragma(file: string, name: string): unknown {
  const db = new Database(file, { readonly: true });
  try {
    return Object.values(db.query(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];
  } finally {
    db.close();
  }
}

describe("schema", () => {
  test("a new file gets every migration, WAL and the tables", async () => {
    const idx = ConnectionIndex.open(tmpIndex.path);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(idx.db.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    expect(idx.db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    // NORMAL = 1
    expect(idx.db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 1 });
    const tables = idx.db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    expect(tables).toEqual([{ name: "connections" }, { name: "files" }, { name: "meta" }]);
    await idx.close();
    expect(pragma(tmpIndex.path, "user_version")).toBe(SCHEMA_VERSION);
  });

  test("re-opening keeps the data and does not migrate again", async () => {
    const a = ConnectionIndex.open(tmpIndex.path);
    a.applyCycle(report({ opened: [opened(1n)] }));
    await a.close();
    const b = ConnectionIndex.open(tmpIndex.path);
    expect(b.rowCount).toBe(1);
    expect(b.queryConnections().connections.map((c) => c.cookie)).toEqual([1n]);
    await b.close();
  });

  test("a file from a newer schema is refused, not misread", async () => {
    await ConnectionIndex.open(tmpIndex.path).close();
    const db = new Database(tmpIndex.path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => ConnectionIndex.open(tmpIndex.path)).toThrow(/newer/);
  });

  test("read-only open refuses an unmigrated file and cannot write", async () => {
    new Database(tmpIndex.path, { create: true }).close();
    expect(() => ConnectionIndex.open(tmpIndex.path, { readonly: true })).toThrow(/schema version 0/);
    await ConnectionIndex.open(tmpIndex.path).close();
    const ro = ConnectionIndex.open(tmpIndex.path, { readonly: true });
    expect(ro.queryConnections().connections).toEqual([]);
    expect(() => ro.applyCycle(report({ opened: [opened(1n)] }))).toThrow(/read-only/);
    expect(() => ro.db.exec("DELETE FROM connections")).toThrow();
    await ro.close();
  });
});
