// `report` against a real collector's index and archives: the human text, the JSON (as
// the API's /summary), --port with and without --latest, and the exit statuses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getJson, startCollector, stopCollector, type CollectorProc } from "../helpers/collector-proc.ts";
import { runCliSync } from "../helpers/run-cli.ts";
import { drive, senderOf, type ConnectionRow } from "../analysis/helpers.ts";

let dir = "";
let out = "";
let collector: CollectorProc | null = null;
let port = 0;
let sender: ConnectionRow;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-report-"));
  out = join(dir, "out");
  collector = await startCollector(out);
  port = await drive("receiver", 0.5);
  sender = await senderOf(collector.api, port);
}, 60_000);

afterAll(async () => {
  if (collector) await stopCollector(collector);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** The command run to its end (the collector is another process, so blocking here is fine). */
function report(args: string[]): { code: number; stdout: string; stderr: string } {
  return runCliSync(["report", ...args]);
}

describe("report", () => {
  test("UUID: the summary and the verdict for humans", () => {
    const r = report([sender.uuid, "--output", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`connection    ${sender.uuid}`);
    expect(r.stdout).toMatch(/^verdict {7}receiver-limited \d+% of busy time/m);
    expect(r.stdout).toMatch(/^bytes {9}sent \d+, received \d+, acked \d+$/m);
    expect(r.stdout).toMatch(/^limited {7}busy /m);
  }, 30_000);

  test("--json: exactly what GET /connections/:uuid/summary returns", async () => {
    const r = report([sender.uuid, "--json", "--db", join(out, "index.sqlite"), "--output", out]);
    expect(r.code).toBe(0);
    const api = await getJson(`${collector!.api}/connections/${encodeURIComponent(sender.uuid)}/summary`);
    expect(JSON.parse(r.stdout)).toEqual(api.body);
  }, 30_000);

  test("--port: several match, so a list and status 1; --latest picks the newest", async () => {
    const many = report(["--port", String(port), "--output", out]);
    expect(many.code).toBe(1);
    // Both ends, and the listener while the collector saw it.
    expect(many.stderr).toMatch(new RegExp(`^[23] connections have port ${port}; give one UUID or --latest`));
    expect(many.stderr).toContain(sender.uuid);
    const latest = report(["--port", String(port), "--latest", "--json", "--output", out]);
    expect(latest.code).toBe(0);
    const newest = (await getJson(`${collector!.api}/connections?port=${port}&limit=1`)).body.connections[0].uuid;
    expect(JSON.parse(latest.stdout).uuid).toBe(newest);
  }, 30_000);

  test("runtime failures exit 1: unknown UUID, no connection on the port, no index", () => {
    const unknown = runCliSync(["report", "no-such-uuid", "--output", out]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no such connection");
    const none = runCliSync(["report", "--port", "1", "--output", out]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no connection has port 1");
    const noIndex = runCliSync(["report", sender.uuid, "--output", join(dir, "nothing")]);
    expect(noIndex.code).toBe(1);
    expect(noIndex.stderr).toContain("cannot open index");
  }, 30_000);

  test("usage errors exit 2", () => {
    for (const args of [[], ["--latest"], ["u", "--port", "5"], ["--port", "0"], ["--port", "x"], ["a", "b"], ["u", "--nope"]]) {
      const r = runCliSync(["report", ...args, "--output", out]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain("tcp-info-bun report --help");
    }
  }, 30_000);
});
