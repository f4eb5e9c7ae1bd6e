import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ClosedConnection, OpenedConnection } from "../../src/model/report.ts";
import { ConnectionIndex, encodeCursor, FilterError, type ConnectionFilter } from "../../src/index-db/index.ts";
import { buildListing } from "../../src/index-db/query.ts";
import { allPages, closed, opened, report, tempDir, uuidOf } from "./helpers.ts";

// A deterministic pseudo-random dataset, and a plain-JS model of what each filter means,
// so every query is checked against an independent answer.
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

interface Model {
  o: OpenedConnection;
  closedAt: number | null;
}

const N = 600;
// "::ffff:192.0.2.2" is how the index stores 192.0.2.2 seen from an IPv6 socket.
const IPS = ["192.0.2.1", "192.0.2.2", "::ffff:192.0.2.2", "198.51.100.9", "2001:db8::1", "2001:db8::beef"];
const PORTS = [443, 80, 22, 5000, 5001];
let tmp: ReturnType<typeof tempDir>;
let idx: ConnectionIndex;
const model: Model[] = [];

beforeAll(() => {
  tmp = tempDir();
  idx = ConnectionIndex.open(join(tmp.dir, "index.sqlite"));
  const r = rng(42);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const opens: OpenedConnection[] = [];
  const closes: ClosedConnection[] = [];
  for (let i = 0; i < N; i++) {
    // Duplicate first_seen values on purpose: the uuid must break ties.
    const firstSeen = 1_000_000 + Math.floor(r() * 200) * 1000;
    const o = opened(BigInt(i + 1), { src: { ip: pick(IPS), port: pick(PORTS) }, dst: { ip: pick(IPS), port: pick(PORTS) }, firstSeen });
    opens.push(o);
    const closedAt = r() < 0.5 ? firstSeen + Math.floor(r() * 50) * 1000 : null;
    if (closedAt !== null) closes.push(closed(o.uuid, { closedAt, lastSeen: closedAt }));
    model.push({ o, closedAt });
  }
  idx.applyCycle(report({ opened: opens, closed: closes }));
});
afterAll(async () => {
  await idx.close();
  tmp.cleanup();
});

/** The model's own notion of "the same address": an IPv4 one and its IPv4-mapped IPv6 form. */
const plain = (ip: string) => ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "");
const same = (a: string, b: string | undefined) => b === undefined || plain(a) === plain(b);

function matches(m: Model, f: ConnectionFilter): boolean {
  const { o, closedAt } = m;
  if (f.port !== undefined && o.src.port !== f.port && o.dst.port !== f.port) return false;
  if (f.sport !== undefined && o.src.port !== f.sport) return false;
  if (f.dport !== undefined && o.dst.port !== f.dport) return false;
  if (f.ip !== undefined && !same(o.src.ip, f.ip) && !same(o.dst.ip, f.ip)) return false;
  if (!same(o.src.ip, f.src) || !same(o.dst.ip, f.dst)) return false;
  if (f.state === "open" && closedAt !== null) return false;
  if (f.state === "closed" && closedAt === null) return false;
  if (f.until !== undefined && o.firstSeen > f.until) return false;
  if (f.since !== undefined && closedAt !== null && closedAt < f.since) return false;
  return true;
}

function expected(f: ConnectionFilter): string[] {
  return model
    .filter((m) => matches(m, f))
    .sort((a, b) => b.o.firstSeen - a.o.firstSeen || (a.o.uuid < b.o.uuid ? 1 : a.o.uuid > b.o.uuid ? -1 : 0))
    .map((m) => m.o.uuid);
}

describe("queryConnections", () => {
  const filters: ConnectionFilter[] = [
    {},
    { port: 443 },
    { port: 5001, limit: 7 },
    { sport: 22 },
    { dport: 80, limit: 3 },
    { sport: 443, dport: 80 },
    { port: 443, sport: 80 },
    { ip: "2001:db8::beef" },
    { src: "192.0.2.1", limit: 11 },
    { dst: "198.51.100.9", state: "closed" },
    { ip: "192.0.2.2", port: 22 },
    { state: "open", limit: 13 },
    { state: "closed", port: 5000 },
    { since: 1_100_000, until: 1_120_000 },
    { since: 1_150_000 },
    { until: 1_010_000, limit: 5 },
    { port: 443, since: 1_050_000, until: 1_060_000, state: "closed" },
    { port: 9 },
    // IPv4 and IPv4-mapped IPv6 spellings match each other, whichever is asked for.
    { ip: "192.0.2.2", limit: 9 },
    { ip: "::ffff:192.0.2.2" },
    { src: "192.0.2.2", limit: 4 },
    { dst: "::ffff:192.0.2.2", state: "open" },
    { src: "::ffff:192.0.2.2", dst: "192.0.2.2" },
    { ip: "192.0.2.2", port: 443, limit: 2 },
    { ip: "192.0.2.2", src: "2001:db8::1", limit: 3 },
    { sport: 80, dst: "192.0.2.2", since: 1_050_000 },
  ];
  for (const f of filters) {
    test(`matches the model, across all pages: ${JSON.stringify(f)}`, () => {
      const want = expected(f);
      expect(allPages(idx, f)).toEqual(want);
    });
  }

  test("the model is not trivial (filters select different, non-empty sets)", () => {
    expect(expected({ port: 443 }).length).toBeGreaterThan(50);
    expect(expected({ port: 443 }).length).toBeLessThan(N);
    expect(expected({ since: 1_100_000, until: 1_120_000 }).length).toBeGreaterThan(0);
    expect(expected({ port: 9 })).toEqual([]);
    // Both spellings are really in the data, so the ::ffff: filters are tested both ways.
    const mapped = expected({ src: "::ffff:192.0.2.2" });
    const srcs = new Set(model.filter((m) => mapped.includes(m.o.uuid)).map((m) => m.o.src.ip));
    expect([...srcs].sort()).toEqual(["192.0.2.2", "::ffff:192.0.2.2"]);
  });

  test("limit defaults to 100 and next is null on the last page", () => {
    const p = idx.queryConnections();
    expect(p.connections.length).toBe(100);
    expect(p.next).not.toBeNull();
    const last = idx.queryConnections({ port: 443, limit: 1000 });
    expect(last.next).toBeNull();
  });

  test("since/until: alive during the window, including ones that opened before it", () => {
    const f = { since: 1_100_000, until: 1_100_000 };
    const got = new Set(allPages(idx, f));
    const spanning = model.find((m) => m.o.firstSeen < 1_100_000 && (m.closedAt === null || m.closedAt > 1_100_000));
    const endedBefore = model.find((m) => m.closedAt !== null && m.closedAt < 1_100_000);
    const startedAfter = model.find((m) => m.o.firstSeen > 1_100_000);
    expect(spanning && got.has(spanning.o.uuid)).toBe(true);
    expect(endedBefore && got.has(endedBefore.o.uuid)).toBe(false);
    expect(startedAfter && got.has(startedAfter.o.uuid)).toBe(false);
  });

  test("a cursor keeps its place when newer rows arrive (keyset, not offset)", () => {
    const first = idx.queryConnections({ port: 80, limit: 5 });
    idx.applyCycle(report({ opened: [opened(999_999n, { firstSeen: 9_999_999, src: { ip: "192.0.2.1", port: 80 } })] }));
    const second = idx.queryConnections({ port: 80, limit: 5, cursor: first.next! });
    const want = expected({ port: 80 });
    expect(first.connections.map((c) => c.uuid)).toEqual(want.slice(0, 5));
    expect(second.connections.map((c) => c.uuid)).toEqual(want.slice(5, 10));
    expect(idx.queryConnections({ port: 80, limit: 1 }).connections[0].uuid).toBe(uuidOf(999_999n));
    idx.db.query("DELETE FROM connections WHERE uuid = ?").run(uuidOf(999_999n));
  });

  test("invalid filters throw FilterError naming the field", () => {
    const bad: [ConnectionFilter, string][] = [
      [{ port: 70000 }, "port"],
      [{ sport: -1 }, "sport"],
      [{ dport: 1.5 }, "dport"],
      [{ limit: 0 }, "limit"],
      [{ limit: 1001 }, "limit"],
      [{ since: 10, until: 5 }, "until"],
      [{ cursor: "!!" }, "cursor"],
      [{ cursor: Buffer.from("no-colon").toString("base64url") }, "cursor"],
      [{ state: "half" as "open" }, "state"],
    ];
    for (const [f, field] of bad) {
      let err: unknown;
      try {
        idx.queryConnections(f);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FilterError);
      expect((err as FilterError).parameter).toBe(field as keyof ConnectionFilter);
    }
  });

  test("a hand-made but well-formed cursor works like a keyset position", () => {
    const want = expected({});
    const pivot = model.find((m) => m.o.uuid === want[10])!;
    const page = idx.queryConnections({ cursor: encodeCursor({ firstSeen: pivot.o.firstSeen, uuid: pivot.o.uuid }), limit: 3 });
    expect(page.connections.map((c) => c.uuid)).toEqual(want.slice(11, 14));
  });

  test("values are bound, never spliced into the SQL", () => {
    const { sql, params } = buildListing({ ip: "x' OR 1=1 --", port: 443, since: 1, until: 2, state: "open" }, 10);
    expect(sql).not.toContain("x'");
    expect(sql).not.toContain("443");
    expect(params).toContain("x' OR 1=1 --");
    expect(idx.queryConnections({ ip: "x' OR 1=1 --" }).connections).toEqual([]);
  });

  const planOf = (f: ConnectionFilter): string => {
    const { sql, params } = buildListing({ ...f, limit: 100 }, 101);
    return idx.db
      .query<{ detail: string }, (string | number | bigint | null)[]>(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...params)
      .map((r) => r.detail)
      .join("\n");
  };

  test("port queries use the per-end indexes merged in order (no full scan, no sort)", () => {
    const plan = planOf({ port: 443 });
    expect(plan).toContain("connections_by_sport");
    expect(plan).toContain("connections_by_dport");
    expect(plan).not.toMatch(/SCAN connections\b/);
    expect(plan).not.toContain("TEMP B-TREE");
  });

  test("address queries over both IPv4 spellings stay index scans merged in order", () => {
    for (const f of [{ ip: "192.0.2.2" }, { ip: "::ffff:192.0.2.2", state: "open" as const }, { src: "192.0.2.2" }, { dst: "::ffff:192.0.2.2" }]) {
      const plan = planOf(f);
      expect(plan).toContain(f.dst ? "connections_by_dst" : "connections_by_src");
      if (f.ip) expect(plan).toContain("connections_by_dst");
      expect(plan).not.toMatch(/SCAN connections\b/);
      expect(plan).not.toContain("TEMP B-TREE");
    }
  });

  test("both spellings are bound as values, an IPv6 address only as itself", () => {
    expect(buildListing({ src: "192.0.2.7" }, 10).params).toEqual(expect.arrayContaining(["192.0.2.7", "::ffff:192.0.2.7"]));
    expect(buildListing({ ip: "::FFFF:192.0.2.7" }, 10).params).toContain("192.0.2.7");
    expect(buildListing({ src: "2001:db8::1" }, 10).params).toEqual(["2001:db8::1", 10]);
  });
});
