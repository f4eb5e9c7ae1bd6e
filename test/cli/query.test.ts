import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FILTER_PARAMETERS } from "../../src/api/filter-params.ts";
import { QUERY_ARGS, queryOptionsFromArgs, runQuery } from "../../src/cli/query.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { opened, report, tempDir } from "../index-db/helpers.ts";
import { BIG, CLI, seed, SSH, T0, WEB } from "../api/helpers.ts";

let tmp: ReturnType<typeof tempDir>;
let db: string;
beforeAll(async () => {
  tmp = tempDir("tcpinfo-query-");
  db = join(tmp.dir, "index.sqlite");
  const idx = ConnectionIndex.open(db);
  seed(idx);
  await idx.close();
});
afterAll(() => tmp.cleanup());

function run(args: Record<string, unknown>): { code: number; out: string; err: string } {
  let out = "";
  let err = "";
  const code = runQuery({ ...queryOptionsFromArgs({ db, ...args }), out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

describe("query command", () => {
  test("prints a table of matching connections", () => {
    const r = run({ port: "443" });
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^FIRST SEEN\s+STATUS\s+LAST STATE\s+SOURCE\s+DESTINATION\s+BYTES SENT/);
    expect(lines.length).toBe(2);
    expect(lines[1]).toContain("192.0.2.1:443");
    expect(lines[1]).toContain(BIG.toString());
    expect(lines[1]).toContain(WEB.uuid);
  });

  test("IPv6 endpoints are bracketed, closed ones show their end reason", () => {
    const r = run({ ip: "2001:db8::1" });
    expect(r.out).toContain("[2001:db8::1]:22");
    expect(r.out).toContain("closed (destroy)");
    expect(r.out).not.toContain(WEB.uuid);
  });

  test("--json prints what GET /connections returns, exactly", () => {
    const r = run({ state: "open", json: true });
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as { connections: { uuid: string }[]; next: null };
    expect(body.connections.map((c) => c.uuid)).toEqual([CLI.uuid, WEB.uuid]);
    expect(r.out).toContain(`"bytesSent":${BIG}`);
  });

  test("prints the cursor of the next page", () => {
    const r = run({ limit: 1 });
    const m = /more: --cursor (\S+)/.exec(r.out);
    expect(m).not.toBeNull();
    const next = run({ limit: 1, cursor: m![1], json: true });
    expect((JSON.parse(next.out) as { connections: { uuid: string }[] }).connections[0].uuid).toBe(SSH.uuid);
  });

  test("the same validation as the API: bad values exit 2 naming the flag", () => {
    for (const [args, flag] of [[{ port: "70000" }, "--port"], [{ state: "half" }, "--state"], [{ since: "soon" }, "--since"], [{ limit: 0 }, "--limit"]] as const) {
      const r = run(args);
      expect(r.code).toBe(2);
      expect(r.err.startsWith(`${flag}: `)).toBe(true);
      expect(r.out).toBe("");
    }
  });

  test("a missing index file exits 1 and is not created", async () => {
    const missing = join(tmp.dir, "missing.sqlite");
    let err = "";
    const code = runQuery({ db: missing, filter: {}, out: { write: () => {} }, err: { write: (s: string) => (err += s) } });
    expect(code).toBe(1);
    expect(err).toContain("cannot open index");
    expect(await Bun.file(missing).exists()).toBe(false);
  });

  test("times are printed with exactly 3 fraction digits, as the API gives them", () => {
    const r = run({ port: "443" });
    expect(r.out.split("\n")[1].startsWith("2024-05-01T12:00:00.000Z  ")).toBe(true);
    const json = JSON.parse(run({ state: "closed", json: true }).out) as { connections: { closedAt: string }[] };
    expect(json.connections[0].closedAt).toBe("2024-05-01T12:00:03.120Z");
  });

  test("--ip given as IPv4-mapped IPv6 finds rows stored as plain IPv4", () => {
    const r = run({ ip: "::ffff:192.0.2.1", json: true });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { connections: { uuid: string }[] }).connections.map((c) => c.uuid)).toEqual([CLI.uuid, WEB.uuid]);
  });

  test("no matches says so", () => {
    expect(run({ port: "9" }).out).toBe("no connections match\n");
  });
});

describe("query command: network namespaces", () => {
  const BLUE = { inode: 4026532001, name: "blue" };
  const CONTAINER = "a1b2c3d4e5f6" + "0".repeat(52);
  const POD = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  const blue = opened(0xb1n, { firstSeen: T0 + 10_000, netns: BLUE });
  const app = opened(0xa1n, { firstSeen: T0 + 11_000, netns: { inode: 4026532300, container: CONTAINER, pod: POD } });
  let nsDb = "";
  beforeAll(async () => {
    nsDb = join(tmp.dir, "netns.sqlite");
    const idx = ConnectionIndex.open(nsDb);
    seed(idx); // rows without a namespace, as an older build wrote them
    idx.applyCycle(report({ opened: [blue, app] }));
    await idx.close();
  });
  const runNs = (args: Record<string, unknown>) => run({ db: nsDb, ...args });

  test("every filter parameter is a flag with help text", () => {
    for (const name of FILTER_PARAMETERS) expect(QUERY_ARGS[name].description.length).toBeGreaterThan(0);
  });

  test("--netns (inode or name), --container (prefix), --pod select; the table shows the namespace columns", () => {
    expect(runNs({ netns: "4026532001", json: true }).out).toContain(blue.uuid);
    const named = runNs({ netns: "blue" });
    expect(named.code).toBe(0);
    const [header, row, ...rest] = named.out.trimEnd().split("\n");
    expect(rest).toEqual([]);
    expect(header).toMatch(/\bSNAPSHOTS\s+NETNS\s+UUID$/);
    expect(row).toContain("4026532001 (blue)");
    const byContainer = runNs({ container: CONTAINER.slice(0, 12).toUpperCase() });
    expect(byContainer.out).toMatch(/\bNETNS\s+CONTAINER\s+POD\s+UUID\n/);
    expect(byContainer.out).toContain(`4026532300  a1b2c3d4e5f6  ${POD}  ${app.uuid}`);
    expect(runNs({ pod: POD, json: true }).out).toContain(app.uuid);
    // Rows without one show "-"; a page of only those has no namespace columns at all.
    const cliRow = runNs({ limit: "3" }).out.split("\n").find((l) => l.endsWith(CLI.uuid));
    expect(cliRow).toMatch(/ {2}- +- +- +\S+$/);
    const plain = runNs({ port: "22" });
    expect(plain.out).toContain(SSH.uuid);
    expect(plain.out).not.toContain("NETNS");
  });

  test("--json has the netns object as GET /connections does", () => {
    const body = JSON.parse(runNs({ container: CONTAINER, json: true }).out) as { connections: { netns?: unknown }[] };
    expect(body.connections.map((c) => c.netns)).toEqual([{ inode: 4026532300, container: CONTAINER, pod: POD }]);
  });

  test("bad namespace values exit 2 naming the flag", () => {
    for (const [args, flag] of [[{ netns: "a/b" }, "--netns"], [{ container: "abc" }, "--container"], [{ pod: "x" }, "--pod"], [{ netns: "0" }, "--netns"]] as const) {
      const r = runNs(args);
      expect({ flag, code: r.code }).toEqual({ flag, code: 2 });
      expect(r.err.startsWith(`${flag}: `)).toBe(true);
    }
  });
});
