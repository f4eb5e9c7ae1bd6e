// docs/parquet.md cannot drift from the export: its schema section must be the generated
// text, the DuckDB types it states must be what DuckDB reads, and its DuckDB examples run
// against a real two-host export (the Collector over recorded messages, an ArchiveSet, a
// ConnectionIndex, runExport), answering what they claim to.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { Collector, type CollectorOptions } from "../../src/collector/collector.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { DST_ADDR_OFFSET, INET_DIAG_MSG_SIZE, TCP_INFO } from "../../src/diag/layouts.ts";
import { CONNECTION_COLUMNS, SNAPSHOT_COLUMNS, type ColumnDef } from "../../src/export/columns.ts";
import { runExport } from "../../src/export/export.ts";
import { PARQUET_DOC, READER_TYPE, schemaMarkdown, schemaSection } from "../../src/export/schema-doc.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { replaySource } from "../helpers/replay-source.ts";
import { message } from "../helpers/recorded-message.ts";

const DOC = readFileSync(PARQUET_DOC, "utf8");
/** The folder the doc's DuckDB examples read; the test puts its export there. */
const FLEET = "/srv/tcpinfo-fleet";
/** The doc's client, as a dual-stack socket reports an IPv4 peer. */
const CLIENT = "::ffff:192.0.2.10";
const AT_14_02 = Date.UTC(2025, 11, 1, 14, 2, 0) / 1000;

let dir: string;
let db: DuckDBConnection;
let target: { host: string; uuid: string };
let snapshotRows = 0;

/** The recorded message with its cookie set and, for the client, its destination replaced by CLIENT. */
function socket(cookie: bigint, client: boolean, p: number): Uint8Array {
  const m = message(cookie, { acked: 1000n + BigInt(p) });
  if (client) m.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10], NLMSG_HDRLEN + DST_ADDR_OFFSET);
  return m;
}

/** One host's collector: `sockets` polled 10 times 100 ms apart from `startSec`, then gone; exported into `out`. */
async function host(name: string, out: string, startSec: number, sockets: { cookie: bigint; client: boolean }[]): Promise<ConnectionIndex> {
  const archives = join(dir, name, "data");
  mkdirSync(archives, { recursive: true });
  const index = ConnectionIndex.open(join(dir, name, "index.sqlite"));
  const steps = Array.from({ length: 10 }, (_, p) => sockets.map((s) => socket(s.cookie, s.client, p)));
  const r = replaySource([...steps, []], false);
  const opts: CollectorOptions = { uuidPrefix: `${name}_1_unsafe`, includeLocal: true, excludeSrcPorts: [], excludeDstIps: [], anonymize: "none", destroyEvents: true, vanishGraceMs: 250 };
  const c = new Collector(opts, new ArchiveSet({ outputDir: archives }), r.source);
  for (let p = 0; p < 10; p++) index.applyCycle(c.poll((startSec + p / 10) * 1000, { sec: startSec + Math.floor(p / 10), nsec: (p % 10) * 100_000_000 + 7 }));
  index.applyCycle(c.poll((startSec + 2) * 1000, { sec: startSec + 2, nsec: 7 }));
  index.applyCycle(c.shutdown((startSec + 3) * 1000));
  snapshotRows += (await runExport(index, { outDir: out, archiveDir: archives, host: name })).rows;
  return index;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-schema-doc-"));
  const out = join(dir, "fleet");
  // lga-01 served the client across 14:02:00 (cookie 1), and someone else then (cookie 2).
  const lga = await host("lga-01", out, AT_14_02 - 0.5, [{ cookie: 1n, client: true }, { cookie: 2n, client: false }]);
  // lga-02 and ams-01 served the client too, but not at 14:02; ams-01 served others at 14:02.
  await host("lga-02", out, AT_14_02 - 3600, [{ cookie: 1n, client: true }]);
  await host("ams-01", out, AT_14_02 - 0.5, [{ cookie: 1n, client: false }, { cookie: 5n, client: false }]);
  await host("ams-02", out, AT_14_02 + 5, [{ cookie: 9n, client: true }]);
  const uuid = lga.db.query<{ uuid: string }, []>(`SELECT uuid FROM connections WHERE dst_ip = '${CLIENT}'`).all();
  expect(uuid.length).toBe(1);
  target = { host: "lga-01", uuid: uuid[0].uuid };
  db = await (await DuckDBInstance.create(":memory:")).connect();
});

afterAll(() => {
  db?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

async function rows(sql: string): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  const r = await db.runAndReadAll(sql);
  return { columns: r.columnNames(), rows: r.getRowObjectsJS() as Record<string, unknown>[] };
}

/** The ```sql blocks of the doc's "### DuckDB" section, reading the test's export. */
function duckdbExamples(out: string): string[] {
  const start = DOC.indexOf("\n### DuckDB\n");
  expect(start).toBeGreaterThan(0);
  const after = DOC.slice(start + 1);
  const end = after.slice(1).search(/\n#{1,3} /);
  const section = end < 0 ? after : after.slice(0, end + 1);
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => {
    expect(m[1]).toContain(FLEET);
    return m[1].replaceAll(FLEET, out);
  });
}

test("docs/parquet.md's schema section is exactly schemaMarkdown()", () => {
  const section = schemaSection(DOC);
  if (section === null) throw new Error("docs/parquet.md lost its <!-- schema:begin --> / <!-- schema:end --> markers");
  if (section !== schemaMarkdown()) {
    const want = schemaMarkdown().split("\n");
    const have = section.split("\n");
    const at = want.findIndex((line, i) => line !== have[i]);
    throw new Error(
      `docs/parquet.md's schema is stale (first difference at line ${at + 1} of the section: have ${JSON.stringify(have[at])}, want ${JSON.stringify(want[at])}); ` +
        "run `bun src/export/schema-doc.ts --write`, or paste the output of `bun src/export/schema-doc.ts` between the markers",
    );
  }
  // Every column is in the doc, under its own name.
  for (const c of [...CONNECTION_COLUMNS, ...SNAPSHOT_COLUMNS]) expect(section).toContain(`| \`${c.name}\` |`);
});

test("the DuckDB types the schema states are the ones DuckDB reads from the files", async () => {
  const out = join(dir, "fleet");
  const check = async (table: string, defs: readonly ColumnDef[]) => {
    const read = await rows(`DESCRIBE SELECT * FROM read_parquet('${out}/table=${table}/*/*/*.parquet', hive_partitioning = true)`);
    const types = new Map(read.rows.map((r) => [r.column_name as string, r.column_type as string]));
    expect(defs.map((d) => [d.name, types.get(d.name)])).toEqual(defs.map((d) => [d.name, READER_TYPE[d.type].duckdb]));
    expect([types.get("date"), types.get("host")]).toEqual(["DATE", "VARCHAR"]);
  };
  await check("connections", CONNECTION_COLUMNS);
  await check("snapshots", SNAPSHOT_COLUMNS);
});

test("the doc's DuckDB example (a) finds the one connection that served the client at 14:02, and how it went", async () => {
  const [a] = duckdbExamples(join(dir, "fleet"));
  const r = await rows(a);
  expect(r.columns).toEqual(["host", "uuid", "src_ip", "src_port", "dst_ip", "dst_port", "first_seen", "closed_at", "end_reason", "bytes_sent", "bytes_received", "bytes_acked", "snapshots", "max_rtt_us", "total_retrans"]);
  expect(r.rows.map((x) => [x.host, x.uuid, x.dst_ip])).toEqual([[target.host, target.uuid, CLIENT]]);
  const row = r.rows[0];
  expect([row.end_reason, row.bytes_acked, Number(row.snapshots)]).toEqual(["vanished", 1009n, 10]);
  // The worst RTT is the recorded socket's tcpi_rtt, read here from the message itself.
  const m = message(1n);
  const attrs = new AttributeIndex();
  attrs.index(m, NLMSG_HDRLEN + INET_DIAG_MSG_SIZE, m.byteLength);
  const rtt = new DataView(m.buffer).getUint32(attrs.offset[Attr.INFO] + TCP_INFO.find((f) => f.name === "rtt")!.offset, true);
  expect(rtt).toBeGreaterThan(0);
  expect(row.max_rtt_us).toBe(rtt);
  expect(typeof row.total_retrans).toBe("number");
});

test("the doc's DuckDB example (b) gives p95 RTT per site per day", async () => {
  const examples = duckdbExamples(join(dir, "fleet"));
  expect(examples.length).toBe(2);
  const r = await rows(examples[1]);
  expect(r.columns).toEqual(["site", "day", "p95_rtt_us", "samples"]);
  expect(r.rows.map((x) => [x.site, (x.day as Date).toISOString().slice(0, 10)])).toEqual([
    ["ams", "2025-12-01"],
    ["lga", "2025-12-01"],
  ]);
  for (const x of r.rows) expect(Number(x.p95_rtt_us)).toBeGreaterThan(0);
  expect(r.rows.reduce((n, x) => n + Number(x.samples), 0)).toBe(snapshotRows);
});
