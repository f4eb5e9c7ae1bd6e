// Network namespaces in the index: stored from OpenedConnection.netns, read back only as
// far as known, kept on reopen, and filtered (by inode, name, container id or prefix, pod)
// with keyset pages checked against a plain-JS model.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { NetnsIdentity, OpenedConnection } from "../../src/model/report.ts";
import { ConnectionIndex, FilterError, type ConnectionFilter } from "../../src/index-db/index.ts";
import { buildListing } from "../../src/index-db/query.ts";
import { allPages, closed, indexPathPerTest, opened, report, tempDir } from "./helpers.ts";

const HOST: NetnsIdentity = { inode: 4026531840 };
const BLUE: NetnsIdentity = { inode: 4026532001, name: "blue" };
// B and C share their first 12 hex digits (a docker short id matching two containers);
// A differs from B only at the 12th.
const A_ID = "0123456789ab" + "a".repeat(52);
const B_ID = "0123456789ac" + "b".repeat(52);
const C_ID = "0123456789ac" + "c".repeat(52);
const POD = "5d3f2c1a-0b9e-4c7d-8a6f-112233445566";
const APP_A: NetnsIdentity = { inode: 4026532100, container: A_ID, pod: POD };
const APP_B: NetnsIdentity = { inode: 4026532200, container: B_ID };
const APP_C: NetnsIdentity = { inode: 4026532300, container: C_ID, name: "c-ns" };
// undefined: a row written by an older build, or restored from an archive.
const SPACES: (NetnsIdentity | undefined)[] = [HOST, BLUE, APP_A, APP_B, APP_C, undefined];

let tmp: ReturnType<typeof tempDir>;
let idx: ConnectionIndex;
const model: OpenedConnection[] = [];

beforeAll(() => {
  tmp = tempDir();
  idx = ConnectionIndex.open(join(tmp.dir, "index.sqlite"));
  for (let i = 0; i < 300; i++) {
    const netns = SPACES[(i * 7) % SPACES.length];
    // Few distinct first_seen values: the uuid breaks ties across pages.
    const o = opened(BigInt(i + 1), { firstSeen: 1_000 + (i % 40) * 10, src: { ip: "192.0.2.1", port: [443, 80][i % 2] }, ...(netns ? { netns } : {}) });
    model.push(o);
  }
  idx.applyCycle(report({ opened: model }));
});
afterAll(async () => {
  await idx.close();
  tmp.cleanup();
});

function matches(o: OpenedConnection, f: ConnectionFilter): boolean {
  const n = o.netns;
  if (f.port !== undefined && o.src.port !== f.port && o.dst.port !== f.port) return false;
  if (typeof f.netns === "number" && n?.inode !== f.netns) return false;
  if (typeof f.netns === "string" && n?.name !== f.netns) return false;
  if (f.container !== undefined && !(n?.container ?? "").startsWith(f.container)) return false;
  if (f.pod !== undefined && n?.pod !== f.pod) return false;
  return true;
}

const expected = (f: ConnectionFilter): string[] =>
  model
    .filter((o) => matches(o, f))
    .sort((a, b) => b.firstSeen - a.firstSeen || (a.uuid < b.uuid ? 1 : -1))
    .map((o) => o.uuid);

describe("netns filters", () => {
  const filters: ConnectionFilter[] = [
    { netns: HOST.inode, limit: 7 },
    { netns: "blue", limit: 9 },
    { netns: "c-ns" },
    { container: A_ID },
    { container: A_ID.slice(0, 12), limit: 4 }, // only A starts with it
    { container: B_ID.slice(0, 12), limit: 6 }, // B and C
    { container: B_ID.slice(0, 20), limit: 5 }, // only B
    { pod: POD, limit: 3 },
    { netns: APP_A.inode, port: 443, limit: 4 },
    { container: B_ID.slice(0, 12), port: 80, limit: 2 },
    { netns: HOST.inode, container: A_ID }, // different namespaces: nothing
    { netns: 1 },
    { netns: "nope" },
  ];
  for (const f of filters) {
    test(`matches the model, across all pages: ${JSON.stringify(f)}`, () => {
      expect(allPages(idx, f)).toEqual(expected(f));
    });
  }

  test("the dataset makes the filters mean something", () => {
    expect(expected({ netns: HOST.inode }).length).toBeGreaterThan(20);
    expect(expected({ container: B_ID.slice(0, 12) }).length).toBe(expected({ container: B_ID }).length + expected({ container: C_ID }).length);
    expect(expected({ container: A_ID.slice(0, 12) })).toEqual(expected({ container: A_ID }));
    expect(expected({ netns: HOST.inode, container: A_ID })).toEqual([]);
    // More than one page with the limits above.
    expect(expected({ pod: POD }).length).toBeGreaterThan(3);
  });

  test("rows read back with what is known of their namespace, and without one when none", () => {
    for (const o of model.slice(0, SPACES.length)) {
      const got = idx.getConnection(o.uuid)!;
      expect(got.netns).toEqual(o.netns);
      expect("netns" in got).toBe(o.netns !== undefined);
      const listed = idx.queryConnections({ until: o.firstSeen, since: o.firstSeen, limit: 1000 }).connections.find((c) => c.uuid === o.uuid)!;
      expect(listed.netns).toEqual(o.netns);
    }
    // Only the known fields: no name: undefined etc.
    expect(Object.keys(idx.getConnection(model.find((o) => o.netns === HOST)!.uuid)!.netns!)).toEqual(["inode"]);
  });

  test("equalities search their index in keyset order; with a port, the port indexes drive", () => {
    const planOf = (f: ConnectionFilter): string => {
      const { sql, params } = buildListing({ ...f, limit: 100 }, 101);
      return idx.db
        .query<{ detail: string }, (string | number | bigint | null)[]>(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...params)
        .map((r) => r.detail)
        .join("\n");
    };
    const cases: [ConnectionFilter, string][] = [
      [{ netns: HOST.inode }, "connections_by_netns "],
      [{ netns: "blue", state: "open" }, "connections_by_netns_name"],
      [{ container: A_ID }, "connections_by_container"],
      [{ pod: POD }, "connections_by_pod"],
    ];
    for (const [f, index] of cases) {
      const plan = planOf(f);
      expect(plan + " ").toContain(index);
      expect(plan).not.toContain("TEMP B-TREE");
    }
    const withPort = planOf({ netns: HOST.inode, port: 443 });
    expect(withPort).toContain("connections_by_sport");
    expect(withPort).toContain("connections_by_dport");
    expect(withPort).not.toContain("connections_by_netns");
    // A prefix is a range on the container index (sorted, used when several ids share it).
    expect(planOf({ container: B_ID.slice(0, 12) })).toContain("connections_by_container (container>? AND container<?)");
  });

  test("invalid namespace filters throw FilterError naming the field", () => {
    const bad: [ConnectionFilter, keyof ConnectionFilter][] = [
      [{ netns: -1 }, "netns"],
      [{ netns: 1.5 }, "netns"],
      [{ netns: "" }, "netns"],
      [{ container: "0123456789a" }, "container"], // 11 digits
      [{ container: A_ID.toUpperCase() }, "container"],
      [{ container: A_ID + "0" }, "container"],
      [{ container: "0123456789ag" }, "container"],
      [{ pod: "not-a-uid" }, "pod"],
      [{ pod: POD.toUpperCase() }, "pod"],
    ];
    for (const [f, field] of bad) {
      let err: unknown;
      try {
        idx.queryConnections(f);
      } catch (e) {
        err = e;
      }
      expect({ f, err: err instanceof FilterError ? err.parameter : String(err) }).toEqual({ f, err: field });
    }
  });
});

describe("netns on write", () => {
  const tmpIndex = indexPathPerTest();

  test("a reopened connection keeps its stored namespace, and fills in an unknown one", async () => {
    const ix = ConnectionIndex.open(tmpIndex.path);
    const known = opened(1n, { netns: BLUE });
    const unknown = opened(2n); // e.g. restored from its archive at start-up
    const partial = opened(3n, { netns: { inode: APP_A.inode } });
    ix.applyCycle(report({ opened: [known, unknown, partial], closed: [closed(known.uuid), closed(unknown.uuid)] }));
    const r = ix.applyCycle(
      report({
        opened: [
          { ...known, netns: { inode: 99, name: "other" } },
          { ...unknown, netns: APP_A },
          { ...partial, netns: APP_A },
        ],
      }),
    );
    expect(r).toMatchObject({ inserted: 0, reopened: 3 });
    expect(ix.getConnection(known.uuid)).toMatchObject({ closedAt: null, netns: BLUE });
    expect(ix.getConnection(unknown.uuid)!.netns).toEqual(APP_A);
    // Same inode: the names it lacked are filled in.
    expect(ix.getConnection(partial.uuid)!.netns).toEqual(APP_A);
    // A different inode never lends its names to the stored one.
    ix.applyCycle(report({ opened: [{ ...partial, netns: { inode: 4, name: "x" } }] }));
    ix.db.query("UPDATE connections SET netns_name = NULL WHERE uuid = ?").run(known.uuid);
    ix.applyCycle(report({ opened: [{ ...known, netns: { inode: 99, name: "other" } }] }));
    expect(ix.getConnection(partial.uuid)!.netns).toEqual(APP_A);
    expect(ix.getConnection(known.uuid)!.netns).toEqual({ inode: BLUE.inode });
    await ix.close();
  });

  test("closeConnections accepts netns_gone", async () => {
    const ix = ConnectionIndex.open(tmpIndex.path);
    const a = opened(1n, { netns: BLUE });
    ix.applyCycle(report({ opened: [a] }));
    expect(ix.closeConnections([a.uuid], 1_700_000_005_000, "netns_gone")).toBe(1);
    expect(ix.getConnection(a.uuid)).toMatchObject({ closedAt: 1_700_000_005_000, endReason: "netns_gone", netns: BLUE });
    expect(ix.queryConnections({ netns: "blue", state: "closed" }).connections.map((c) => c.uuid)).toEqual([a.uuid]);
    await ix.close();
  });

  test("a connection added from its archive at start-up keeps a namespace given to it", async () => {
    const ix = ConnectionIndex.open(tmpIndex.path);
    const a = opened(7n, { netns: APP_A });
    expect(ix.recovery().addConnection(a, a.firstSeen, 1)).toBe(true);
    expect(ix.getConnection(a.uuid)!.netns).toEqual(APP_A);
    await ix.close();
  });
});
