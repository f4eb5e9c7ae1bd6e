// The export as users run it: the `export` command (usage errors, a missing index, the
// summary line) and the collector exporting by itself with --export-dir.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { runCliSync } from "../helpers/run-cli.ts";
import { killIfRunning, startCollector, stopWith, waitUntil, type RunningCollector } from "../helpers/collector-run.ts";

const dirs: string[] = [];
let collector: RunningCollector | undefined;
afterAll(async () => {
  await killIfRunning(collector?.run);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "tib-export-cli-"));
  dirs.push(d);
  return d;
}

test("export: bad flags exit 2 naming the flag; no index exits 1 saying where it looked", () => {
  const d = tmp();
  const bad = runCliSync(["export", "--out", join(d, "x"), "--every", "soon"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--every must be a duration");
  const noOut = runCliSync(["export"]);
  expect(noOut.code).toBe(2);
  const none = runCliSync(["export", "--out", join(d, "x"), "--output", join(d, "nothing")]);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain(`cannot open index ${join(d, "nothing", "index.sqlite")}`);
});

test("collector --export-dir exports closed connections by itself; a manual export after it exports nothing twice", async () => {
  const d = tmp();
  const out = join(d, "data");
  const exp = join(d, "parquet");
  collector = await startCollector(["--output", out, "--include-local", "--export-dir", exp, "--export-interval", "1s", "--status-seconds", "0"]);
  // A loopback connection that opens and closes.
  const server = createServer((s) => s.on("data", () => s.end()));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => {
    const c = connect(port, "127.0.0.1", () => c.write("x"));
    c.on("close", () => r());
  });
  server.close();
  const db = await (await DuckDBInstance.create(":memory:")).connect();
  const parquet = (table: string) => (readdirSync(exp, { recursive: true }) as string[]).filter((p) => p.startsWith(`table=${table}`) && p.endsWith(".parquet"));
  const rows = await waitUntil("the connection in the collector's export", async () => {
    try {
      if (parquet("connections").length === 0) return undefined;
      const r = (await db.runAndReadAll(`SELECT src_port, dst_port, end_reason FROM read_parquet('${exp}/table=connections/**/*.parquet') WHERE (src_port = ${port} OR dst_port = ${port}) AND dst_port <> 0`)).getRowObjectsJS();
      return r.length === 2 ? r : undefined;
    } catch {
      return undefined;
    }
  }, 30_000, 200);
  expect(rows.map((r) => r.end_reason)).toEqual(["destroy", "destroy"]);
  const snaps = (await db.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${exp}/table=snapshots/**/*.parquet') WHERE src_port = ${port} OR dst_port = ${port}`)).getRowObjectsJS();
  expect(Number(snaps[0].n)).toBeGreaterThanOrEqual(2);
  await waitUntil("an export summary in the log", () => collector!.run.stderrLines.find((l) => /^export: \d+ connections/.test(l)));
  const stopped = await stopWith(collector.run);
  expect(stopped.code).toBe(0);
  db.closeSync();
  // Everything closed is exported: a manual run adds no connection twice.
  const again = runCliSync(["export", "--out", exp, "--output", out]);
  expect(again.code).toBe(0);
  expect(again.stderr).toMatch(/^export: \d+ connections/);
  const db2 = await (await DuckDBInstance.create(":memory:")).connect();
  const dup = (await db2.runAndReadAll(`SELECT uuid, count(*) AS n FROM read_parquet('${exp}/table=connections/**/*.parquet') GROUP BY uuid HAVING count(*) > 1`)).getRowObjectsJS();
  expect(dup).toEqual([]);
  db2.closeSync();
}, 60_000);
