// Network namespaces through the real HTTP server: the netns/container/pod filters (with
// paging and 400s), the netns object of rows, of one connection and of its summary, and
// the report command showing the same.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runReport } from "../../src/cli/report.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import type { NetnsIdentity, OpenedConnection } from "../../src/model/report.ts";
import { opened, report, tempDir } from "../index-db/helpers.ts";
import { startFixture, T0, writeArchives, type Fixture } from "./helpers.ts";

const HOST: NetnsIdentity = { inode: 4026531840 };
const BLUE: NetnsIdentity = { inode: 4026532001, name: "blue" };
const CONTAINER = "3f4e5d6c7b8a" + "9".repeat(52);
const POD = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const APP: NetnsIdentity = { inode: 4026532310, container: CONTAINER, pod: POD };
// Shares nothing with CONTAINER past its first 11 digits: a 12-digit prefix tells them apart.
const OTHER: NetnsIdentity = { inode: 4026532320, container: "3f4e5d6c7b8b" + "0".repeat(52) };

// 12 APP rows (paged below), one each of the others, one without a namespace (older build).
const apps = Array.from({ length: 12 }, (_, i) => opened(BigInt(0x100 + i), { firstSeen: T0 + 1000 * (i % 5), src: { ip: "192.0.2.1", port: 8080 }, netns: APP }));
const host = opened(0x1n, { firstSeen: T0 + 9000, netns: HOST });
const blue = opened(0x2n, { firstSeen: T0 + 9001, netns: BLUE });
const other = opened(0x3n, { firstSeen: T0 + 9002, netns: OTHER });
const old = opened(0x4n, { firstSeen: T0 + 9003 });
const all: OpenedConnection[] = [...apps, host, blue, other, old];
const FILE = (uuid: string) => `2024/05/01/${uuid}.00000.jsonl.zst`;

let tmp: ReturnType<typeof tempDir>;
let fx: Fixture;
let dbPath: string;
beforeAll(async () => {
  tmp = tempDir("tcpinfo-netns-api-");
  dbPath = join(tmp.dir, "index.sqlite");
  const idx = ConnectionIndex.open(dbPath);
  idx.applyCycle(
    report({
      opened: all,
      files: [apps[0], old].map((c) => ({ uuid: c.uuid, path: FILE(c.uuid), seq: 0, openedAt: c.firstSeen, closedAt: null, records: 150 })),
    }),
  );
  fx = await startFixture({ index: idx });
  writeArchives(fx.outputDir, [FILE(apps[0].uuid), FILE(old.uuid)]);
});
afterAll(async () => {
  await fx.close();
  tmp.cleanup();
});

type Row = { uuid: string; netns?: NetnsIdentity };
async function list(q: string): Promise<{ connections: Row[]; next: string | null }> {
  const res = await fx.get(`/connections?${q}`);
  expect({ q, status: res.status }).toEqual({ q, status: 200 });
  return (await res.json()) as { connections: Row[]; next: string | null };
}
const uuids = (b: { connections: Row[] }) => b.connections.map((c) => c.uuid);
/** Newest first, uuid breaking ties: the listing order. */
const newest = (cs: OpenedConnection[]) => [...cs].sort((a, b) => b.firstSeen - a.firstSeen || (a.uuid < b.uuid ? 1 : -1)).map((c) => c.uuid);

describe("GET /connections with namespace filters", () => {
  test("netns by inode or by name, container by full id or 12-digit prefix (any case), pod", async () => {
    expect(uuids(await list(`netns=${HOST.inode}`))).toEqual([host.uuid]);
    expect(uuids(await list("netns=blue"))).toEqual([blue.uuid]);
    expect(uuids(await list(`netns=${APP.inode}&limit=1000`))).toEqual(newest(apps));
    expect(uuids(await list(`container=${CONTAINER}&limit=1000`))).toEqual(newest(apps));
    expect(uuids(await list(`container=${CONTAINER.slice(0, 12)}&limit=1000`))).toEqual(newest(apps));
    expect(uuids(await list(`container=${CONTAINER.slice(0, 12).toUpperCase()}&limit=1000`))).toEqual(newest(apps));
    expect(uuids(await list(`container=${CONTAINER.slice(0, 11)}0&limit=1000`))).toEqual([]);
    expect(uuids(await list(`container=${OTHER.container!.slice(0, 14)}`))).toEqual([other.uuid]);
    expect(uuids(await list(`pod=${POD}&limit=1000`))).toEqual(newest(apps));
    // As a systemd cgroup path spells it.
    expect(uuids(await list(`pod=${POD.replaceAll("-", "_")}&limit=1000`))).toEqual(newest(apps));
    expect(uuids(await list(`netns=${APP.inode}&port=8080&limit=1000`))).toEqual(newest(apps));
    expect(uuids(await list(`netns=${HOST.inode}&port=8080`))).toEqual([]);
    expect(uuids(await list("netns=red"))).toEqual([]);
  });

  test("pages with a netns filter follow next to the end, without loss or repeats", async () => {
    for (const q of [`netns=${APP.inode}`, `container=${CONTAINER.slice(0, 12)}`, `pod=${POD}&state=open`]) {
      const seen: string[] = [];
      let cursor = "";
      for (let guard = 0; guard < 20; guard++) {
        const body = await list(`${q}&limit=5${cursor}`);
        expect(body.connections.length).toBeLessThanOrEqual(5);
        seen.push(...uuids(body));
        if (!body.next) break;
        cursor = `&cursor=${encodeURIComponent(body.next)}`;
      }
      expect({ q, seen }).toEqual({ q, seen: newest(apps) });
    }
  });

  const bad: [string, string][] = [
    ["netns=", "netns"],
    ["netns=0", "netns"],
    ["netns=99999999999999999", "netns"],
    ["netns=a%2Fb", "netns"],
    ["netns=..", "netns"],
    [`netns=${"n".repeat(256)}`, "netns"],
    ["netns=1&netns=2", "netns"],
    ["container=", "container"],
    ["container=3f4e5d6c7b8", "container"], // 11 digits
    ["container=3f4e5d6c7b8g", "container"],
    [`container=${CONTAINER}0`, "container"], // 65
    ["container=sha256:3f4e5d6c7b8a", "container"],
    ["pod=", "pod"],
    ["pod=not-a-pod", "pod"],
    [`pod=${POD.replaceAll("-", "")}`, "pod"],
    [`pod=${POD}0`, "pod"],
  ];
  for (const [q, parameter] of bad) {
    test(`400 for ${q.slice(0, 40)}`, async () => {
      const res = await fx.get(`/connections?${q}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; parameter: string };
      expect(body.parameter).toBe(parameter);
      expect(body.error).toContain(parameter);
    });
  }
});

describe("the netns object in responses", () => {
  test("rows carry {inode, name?, container?, pod?} with only the known keys, none when unknown", async () => {
    const rows = new Map((await list("limit=1000")).connections.map((c) => [c.uuid, c]));
    expect(rows.get(host.uuid)!.netns).toEqual({ inode: HOST.inode });
    expect(rows.get(blue.uuid)!.netns).toEqual({ inode: BLUE.inode, name: "blue" });
    expect(rows.get(apps[3].uuid)!.netns).toEqual({ inode: APP.inode, container: CONTAINER, pod: POD });
    expect("netns" in rows.get(old.uuid)!).toBe(false);
    // Key order as documented.
    expect(Object.keys(rows.get(apps[3].uuid)!.netns!)).toEqual(["inode", "container", "pod"]);
  });

  test("GET /connections/:uuid includes it", async () => {
    const one = (await (await fx.get(`/connections/${apps[0].uuid}`)).json()) as Row & { files: unknown[] };
    expect(one.netns).toEqual(APP);
    expect(one.files.length).toBe(1);
    const none = (await (await fx.get(`/connections/${old.uuid}`)).json()) as Row;
    expect("netns" in none).toBe(false);
  });

  test("the summary has it after uuid, and the report command prints the same JSON and a netns line", async () => {
    const res = await fx.get(`/connections/${apps[0].uuid}/summary`);
    expect(res.status).toBe(200);
    const summary = (await res.json()) as Record<string, unknown>;
    expect(summary.netns).toEqual(APP);
    expect(Object.keys(summary).slice(0, 2)).toEqual(["uuid", "netns"]);
    expect(summary.snapshots).toBe(150);
    const none = (await (await fx.get(`/connections/${old.uuid}/summary`)).json()) as Record<string, unknown>;
    expect("netns" in none).toBe(false);

    const run = async (json: boolean, uuid: string) => {
      let out = "";
      let err = "";
      const code = await runReport({ uuid, latest: false, json, output: fx.outputDir, db: dbPath, out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
      return { code, out, err };
    };
    const asJson = await run(true, apps[0].uuid);
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.out)).toEqual(summary);
    const text = await run(false, apps[0].uuid);
    expect(text.out.split("\n")[2]).toBe(`netns         ${APP.inode} container ${CONTAINER.slice(0, 12)} pod ${POD}`);
    expect((await run(false, old.uuid)).out).not.toContain("netns");
  });
});
