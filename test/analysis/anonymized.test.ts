// With --anonymize-ip netblock, what the analysis shows comes from what was stored: the
// connection, its summary, its series, its snapshots and `report` carry only the kept
// netblock (127.0.0.0 for 127.0.0.1), never the address itself.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCollector, stopCollector, type CollectorProc } from "../helpers/collector-proc.ts";
import { runCliSync } from "../helpers/run-cli.ts";
import { drive, senderOf, type ConnectionRow } from "./helpers.ts";

let dir = "";
let out = "";
let collector: CollectorProc | null = null;
let sender: ConnectionRow;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-anon-"));
  out = join(dir, "out");
  collector = await startCollector(out, ["--anonymize-ip", "netblock"]);
  sender = await senderOf(collector.api, await drive("bulk", 0.5));
}, 60_000);

afterAll(async () => {
  if (collector) await stopCollector(collector);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

test("the connection, summary, series, snapshots and report show the netblock, not the address", async () => {
  expect(sender.src.ip).toBe("127.0.0.0");
  expect(sender.dst.ip).toBe("127.0.0.0");
  const base = `${collector!.api}/connections/${encodeURIComponent(sender.uuid)}`;
  const bodies: string[] = [];
  for (const url of [base, `${base}/summary`, `${base}/series?points=50`, `${base}/snapshots`]) {
    const r = await fetch(url);
    expect({ url, status: r.status }).toEqual({ url, status: 200 });
    bodies.push(await r.text());
  }
  const r = runCliSync(["report", sender.uuid, "--output", out]);
  expect(r.code).toBe(0);
  bodies.push(r.stdout);
  expect(bodies[0]).toContain('"127.0.0.0"');
  expect(bodies[3]).toContain("127.0.0.0");
  expect(r.stdout).toContain("127.0.0.0");
  for (const b of bodies) expect(b).not.toContain("127.0.0.1");
}, 30_000);
