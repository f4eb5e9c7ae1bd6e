import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { queryOptionsFromArgs, runQuery } from "../../src/cli/query.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { tempDir } from "../index-db/helpers.ts";
import { BIG, CLI, seed, SSH, WEB } from "../api/helpers.ts";

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
