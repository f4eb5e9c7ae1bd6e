// Who may read the API: with --api-token-file every route but /healthz needs the bearer
// token (against a real collector, so the token crosses into the API worker); an unusable
// token file stops the collector before it creates anything; listening beyond loopback
// without a token is warned about at start.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopbackHost } from "../../src/api/http.ts";
import { exposureWarning } from "../../src/daemon/daemon.ts";
import { startCollector, type RunningCollector } from "../helpers/collector-run.ts";
import { runCliSync, type CliRun } from "../helpers/run-cli.ts";

const TOKEN = "k7Qz-0123456789abcdef";
const WARNING = /^warning: the API on .* is reachable from other hosts without authentication.*--api-token-file.*127\.0\.0\.1/;

let dir = "";
const running: CliRun[] = [];

function freshDir(): string {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-access-"));
  return dir;
}

async function stopAll(): Promise<void> {
  for (const r of running.splice(0)) {
    r.proc.kill("SIGKILL");
    await r.exited;
  }
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
  dir = "";
}

async function start(args: string[], env: Record<string, string> = {}): Promise<RunningCollector> {
  const c = await startCollector(["--output", join(dir, "out"), ...args], env);
  running.push(c.run);
  return c;
}

describe("a collector with --api-token-file", () => {
  let c: RunningCollector;
  beforeAll(async () => {
    freshDir();
    // Surrounding whitespace and the trailing newline an editor adds are not part of it.
    writeFileSync(join(dir, "token"), `  ${TOKEN}\n\n`);
    c = await start(["--api-token-file", join(dir, "token")]);
  });
  afterAll(stopAll);

  const get = (path: string, authorization?: string) =>
    fetch(`${c.api}${path}`, { headers: authorization === undefined ? {} : { authorization } });

  const expect401 = async (r: Response, challenge: RegExp) => {
    expect(r.status).toBe(401);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.headers.get("www-authenticate")).toMatch(challenge);
    const body = (await r.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["error"]);
    expect(typeof body.error).toBe("string");
  };

  test.each(["/connections", "/connections/x_0000000000000001", "/connections/x_0000000000000001/snapshots", "/metrics", "/no-such-route"])(
    "%s without a token: 401 with a Bearer challenge",
    async (path) => {
      await expect401(await get(path), /^Bearer$/);
    },
  );

  test.each([
    ["a wrong token of the same length", `Bearer ${TOKEN.slice(0, -1)}X`, /^Bearer error="invalid_token"$/],
    ["a shorter token", `Bearer ${TOKEN.slice(0, 4)}`, /^Bearer error="invalid_token"$/],
    ["a longer token", `Bearer ${TOKEN}${TOKEN}`, /^Bearer error="invalid_token"$/],
    ["the file's whitespace included", `Bearer   ${TOKEN}x`, /^Bearer error="invalid_token"$/],
    ["another scheme", `Basic ${btoa(`user:${TOKEN}`)}`, /^Bearer$/],
    ["the scheme alone", "Bearer", /^Bearer$/],
  ])("%s: 401", async (_what, authorization, challenge) => {
    await expect401(await get("/connections", authorization), challenge);
  });

  test("the right token opens every route", async () => {
    const list = await get("/connections", `Bearer ${TOKEN}`);
    expect(list.status).toBe(200);
    expect(Array.isArray(((await list.json()) as { connections: unknown }).connections)).toBe(true);
    const one = await get("/connections/x_0000000000000001", `bearer ${TOKEN}`);
    expect(one.status).toBe(404); // authorized: the connection just does not exist
    const metrics = await get("/metrics", `Bearer ${TOKEN}`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("tcpinfo_");
  });

  test("/healthz needs no token", async () => {
    const r = await get("/healthz");
    expect(r.status).toBe(200);
    expect(typeof ((await r.json()) as { cycles: unknown }).cycles).toBe("number");
  });

  test("the token never reaches the log", () => {
    expect(c.run.stderrLines.length).toBeGreaterThan(0);
    expect(c.run.stderrLines.join("\n")).not.toContain(TOKEN);
  });
});

describe("an unusable token file stops the collector before it creates anything", () => {
  beforeEach(freshDir);
  afterEach(stopAll);

  const refuse = (args: string[], env: Record<string, string>, message: RegExp) => {
    const out = join(dir, "out");
    const r = runCliSync(["collector", "--output", out, "--listen", "127.0.0.1:0", "--reps", "1", ...args], env);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  };

  test("a missing file", () => {
    refuse(["--api-token-file", "/nonexistent/token"], {}, /--api-token-file: cannot read \/nonexistent\/token: ENOENT/);
  });
  test("an empty file", () => {
    const f = join(dir, "token");
    writeFileSync(f, "");
    refuse(["--api-token-file", f], {}, /--api-token-file: .* is empty/);
  });
  test("a file of whitespace only", () => {
    const f = join(dir, "token");
    writeFileSync(f, " \n\t\n");
    refuse(["--api-token-file", f], {}, /is empty/);
  });
  test("a folder", () => {
    const f = join(dir, "token.d");
    mkdirSync(f);
    refuse(["--api-token-file", f], {}, /--api-token-file: cannot read .*EISDIR/);
  });
  test("a token of two words", () => {
    const f = join(dir, "token");
    writeFileSync(f, "one two\n");
    refuse(["--api-token-file", f], {}, /one word of printable ASCII/);
  });
  test("the flag without a value", () => {
    refuse(["--api-token-file"], {}, /--api-token-file needs the path/);
  });
  test("TCPINFO_API_TOKEN_FILE naming a missing file", () => {
    refuse([], { TCPINFO_API_TOKEN_FILE: "/nonexistent/token" }, /TCPINFO_API_TOKEN_FILE: cannot read/);
  });
});

describe("a warning for an API reachable from other hosts without a token", () => {
  afterEach(stopAll);

  test("0.0.0.0 without a token: one warning line before the start line", async () => {
    freshDir();
    const c = await start(["--listen", "0.0.0.0:0"]);
    const warnings = c.run.stderrLines.filter((l) => WARNING.test(l));
    expect(warnings).toHaveLength(1);
    expect(c.run.stderrLines.findIndex((l) => WARNING.test(l))).toBeLessThan(c.run.stderrLines.findIndex((l) => l.startsWith("collector: writing")));
  });

  test("0.0.0.0 with a token: no warning", async () => {
    freshDir();
    writeFileSync(join(dir, "token"), TOKEN);
    const c = await start(["--listen", "0.0.0.0:0", "--api-token-file", join(dir, "token")]);
    // The warning would come before the start line, which startCollector has waited for.
    expect(c.run.stderrLines.some((l) => l.startsWith("collector: writing"))).toBe(true);
    expect(c.run.stderrLines.filter((l) => /^warning: the API/.test(l))).toEqual([]);
  });

  test("loopback without a token: no warning", async () => {
    freshDir();
    const c = await start(["--listen", "127.0.0.1:0"]);
    expect(c.run.stderrLines.some((l) => l.startsWith("collector: writing"))).toBe(true);
    expect(c.run.stderrLines.filter((l) => /^warning: the API/.test(l))).toEqual([]);
  });

  test("which hosts count as loopback", () => {
    for (const h of ["127.0.0.1", "127.255.0.9", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"]) {
      expect([h, isLoopbackHost(h)]).toEqual([h, true]);
    }
    for (const h of ["0.0.0.0", "::", "192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "::2", "128.0.0.1", "example.org", "localhost.example.org"]) {
      expect([h, isLoopbackHost(h)]).toEqual([h, false]);
    }
  });

  test("the warning names the address and both fixes, and only when due", () => {
    expect(exposureWarning("[::]:9990", false)).toMatch(/\[::\]:9990 .*--api-token-file.*--listen 127\.0\.0\.1/);
    expect(exposureWarning("[::]:9990", true)).toBeNull();
    expect(exposureWarning("[::1]:9990", false)).toBeNull();
    expect(exposureWarning(null, false)).toBeNull();
  });
});
