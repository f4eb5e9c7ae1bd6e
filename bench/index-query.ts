// Index benchmark: builds an index of synthetic connections (default 1,000,000) in a tmp
// dir, then measures
//   - GET /connections?port=… through the real HTTP server (p50/p99),
//   - the same queries straight on the DB,
//   - applyCycle for a cycle with 1,000 opened + 1,000 updated + 1,000 closed (+ files).
//   - the same spread as a 10 ms poll loop sees it: 100 cycles/s of 10 + 10 + 10.
// Usage: bun bench/index-query.ts [--rows N] [--requests N] [--keep] [--no-worker]
// (--no-worker: leave WAL checkpoints to SQLite on the writing thread, for comparison)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArchiveFile, ClosedConnection, ConnectionProgress, CycleReport, OpenedConnection } from "../src/model/report.ts";
import { startApiServer } from "../src/api/http.ts";
import { createMetrics } from "../src/api/metrics.ts";
import { createStatus } from "../src/api/status.ts";
import { ConnectionIndex, type ConnectionFilter } from "../src/index-db/index.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROWS = flag("rows", 1_000_000);
const REQUESTS = flag("requests", 2000);
const KEEP = process.argv.includes("--keep");
const WORKER = !process.argv.includes("--no-worker");

// Deterministic PRNG (mulberry32) so runs are comparable.
let seed = 0x5eed;
function rand(): number {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(rand() * n);
const pickWeighted = <T>(items: [T, number][]): T => {
  let r = rand() * items.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of items) if ((r -= w) < 0) return v;
  return items[items.length - 1][0];
};

const LOCAL4 = ["192.0.2.10", "192.0.2.11"];
const LOCAL6 = "2001:db8:1::10";
// Server ports on this host, by share of inbound connections.
const SERVER_PORTS: [number, number][] = [[443, 60], [80, 20], [9990, 5], [22, 2], [3010, 8], [8080, 5]];
// Ports this host connects out to.
const REMOTE_PORTS: [number, number][] = [[443, 50], [80, 10], [53, 20], [5432, 10], [6379, 10]];
const remote4 = () => `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`;
const remote6 = () => `2001:db8:${int(0xffff).toString(16)}:${int(0xffff).toString(16)}::${(1 + int(0xfffe)).toString(16)}`;
const ephemeral = () => 32768 + int(28232);

const PREFIX = "bench_1700000000_unsafe";
const hex = (c: bigint) => c.toString(16).toUpperCase().padStart(16, "0");
const T0 = Date.UTC(2024, 4, 1);
const SPAN_MS = 24 * 3600 * 1000; // the rows' first_seen spread over one day

let nextCookie = 0x1000n;
function synth(firstSeen: number): OpenedConnection {
  const cookie = nextCookie++;
  const v6 = rand() < 0.2;
  const local = v6 ? LOCAL6 : LOCAL4[int(2)];
  const remote = v6 ? remote6() : remote4();
  const inbound = rand() < 0.7;
  const src = inbound ? { ip: local, port: pickWeighted(SERVER_PORTS) } : { ip: local, port: ephemeral() };
  const dst = inbound ? { ip: remote, port: ephemeral() } : { ip: remote, port: pickWeighted(REMOTE_PORTS) };
  return { uuid: `${PREFIX}_${hex(cookie)}`, cookie, family: v6 ? 6 : 4, src, dst, interface: 2, uid: int(2000), inode: int(1 << 30), firstSeen, state: 1 };
}

function progressOf(uuid: string, at: number, snapshots: number): ConnectionProgress {
  return { uuid, lastSeen: at, state: 1, bytesSent: BigInt(int(1e9)) * 1000n, bytesReceived: BigInt(int(1e9)), bytesAcked: BigInt(int(1e9)), snapshots };
}

function fileOf(c: OpenedConnection, closedAt: number | null): ArchiveFile {
  const d = new Date(c.firstSeen).toISOString().slice(0, 10).replaceAll("-", "/");
  return { uuid: c.uuid, path: `${d}/${c.uuid}.00000.jsonl.zst`, seq: 0, openedAt: c.firstSeen, closedAt, records: 1 + int(50) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function stats(samples: number[]): { p50: number; p99: number; mean: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length, max: s[s.length - 1] };
}

const dir = mkdtempSync(join(tmpdir(), "tcpinfo-bench-index-"));
const dbPath = join(dir, "index.sqlite");
const index = ConnectionIndex.open(dbPath);
if (WORKER) await index.startBackgroundCheckpoints();
const openPool: OpenedConnection[] = [];

// ---- build ----
const BATCH = 10_000;
const buildStart = performance.now();
for (let done = 0; done < ROWS; done += BATCH) {
  const opened: OpenedConnection[] = [];
  const closed: ClosedConnection[] = [];
  const files: ArchiveFile[] = [];
  for (let i = 0; i < Math.min(BATCH, ROWS - done); i++) {
    const c = synth(T0 + Math.floor(((done + i) / ROWS) * SPAN_MS));
    opened.push(c);
    if (rand() < 0.95) {
      // Mostly short-lived: exponential lifetime, mean 30 s.
      const closedAt = c.firstSeen + Math.floor(-Math.log(1 - rand()) * 30_000);
      closed.push({ ...progressOf(c.uuid, closedAt, 2 + int(20)), closedAt, reason: rand() < 0.9 ? "destroy" : "vanished" });
      files.push(fileOf(c, closedAt));
    } else {
      openPool.push(c);
      files.push(fileOf(c, null));
    }
  }
  index.applyCycle({ cycle: done / BATCH, time: T0, opened, updated: [], closed, files });
}
const buildSeconds = (performance.now() - buildStart) / 1000;
index.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
const dbBytes = Bun.file(dbPath).size;

// ---- queries ----
const queries: [string, () => ConnectionFilter][] = [
  ["port=443 (60% of inbound)", () => ({ port: 443 })],
  ["port=22 (rare server port)", () => ({ port: 22 })],
  ["port=<random ephemeral>", () => ({ port: ephemeral() })],
  ["port=443&state=open", () => ({ port: 443, state: "open" })],
  ["port=443, page 2 (cursor)", () => ({ port: 443 })], // cursor filled in below
  ["ip=<local v6>", () => ({ ip: LOCAL6 })],
  ["port=443&since&until (1 h)", () => ({ port: 443, since: T0 + 3_600_000 * 5, until: T0 + 3_600_000 * 6 })],
];
const page2Cursor = index.queryConnections({ port: 443 }).next!;
const toQuery = (f: ConnectionFilter) =>
  new URLSearchParams(Object.entries(f).map(([k, v]): [string, string] => [k, String(v)])).toString();

const metrics = createMetrics();
const server = startApiServer({
  listen: "127.0.0.1:0",
  index,
  outputDir: dir,
  readSnapshots: async function* () {},
  metrics,
  status: createStatus(),
});

type Row = { query: string; rows: number; dbP50: number; dbP99: number; httpP50: number; httpP99: number };
const results: Row[] = [];
for (const [name, make] of queries) {
  const withCursor = (f: ConnectionFilter) => (name.includes("cursor") ? { ...f, cursor: page2Cursor } : f);
  // warm-up
  for (let i = 0; i < 50; i++) index.queryConnections(withCursor(make()));
  const db: number[] = [];
  let rows = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const f = withCursor(make());
    const t = performance.now();
    rows = index.queryConnections(f).connections.length;
    db.push(performance.now() - t);
  }
  // The HTTP path warmed as the DB path is (a running API has compiled its handler).
  for (let i = 0; i < 50; i++) await (await fetch(`${server.url}/connections?${toQuery(withCursor(make()))}`)).arrayBuffer();
  const http: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const url = `${server.url}/connections?${toQuery(withCursor(make()))}`;
    const t = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    http.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  }
  const d = stats(db);
  const h = stats(http);
  results.push({ query: name, rows, dbP50: d.p50, dbP99: d.p99, httpP50: h.p50, httpP99: h.p99 });
}
await server.stop();

// ---- applyCycle ----
let clock = T0 + SPAN_MS;
function cycle(k: number, n: number): CycleReport {
  const opened = Array.from({ length: n }, () => synth(clock));
  const closing = openPool.splice(0, n);
  const updating = openPool.slice(0, n);
  openPool.push(...opened);
  return {
    cycle: k,
    time: clock,
    opened,
    updated: updating.map((c) => progressOf(c.uuid, clock, 30)),
    closed: closing.map((c) => ({ ...progressOf(c.uuid, clock, 31), closedAt: clock, reason: "destroy" as const })),
    files: [...opened.map((c) => fileOf(c, null)), ...closing.map((c) => fileOf(c, clock))],
  };
}
// (a) One report per second holding a second's worth: 1,000 opened + 1,000 updated +
//     1,000 closed + 2,000 file rows.
const BURSTS = 10;
const burstTimes: number[] = [];
for (let k = 0; k < BURSTS; k++) {
  clock += 1000;
  burstTimes.push(index.applyCycle(cycle(k, 1000)).seconds * 1000);
  await Bun.sleep(1000 - burstTimes[k]);
}
// (b) A 10 ms poll loop at the same rate: 100 reports/s of 10 + 10 + 10 (+ 20 file rows).
const PACED_SECONDS = 5;
const pacedTimes: number[] = [];
const pacedStart = performance.now();
for (let k = 0; k < PACED_SECONDS * 100; k++) {
  clock += 10;
  pacedTimes.push(index.applyCycle(cycle(k, 10)).seconds * 1000);
  const due = pacedStart + (k + 1) * 10;
  await Bun.sleep(Math.max(0, due - performance.now()));
}
// (c) The same poll loop, its reports handed to applyCycles 4 times a second (25 at a time).
const batchedTimes: number[] = [];
const batchedStart = performance.now();
for (let b = 0; b < PACED_SECONDS * 4; b++) {
  const reports: CycleReport[] = [];
  for (let k = 0; k < 25; k++) {
    clock += 10;
    reports.push(cycle(k, 10));
  }
  batchedTimes.push(index.applyCycles(reports).seconds * 1000);
  const due = batchedStart + (b + 1) * 250;
  await Bun.sleep(Math.max(0, due - performance.now()));
}
const batched = stats(batchedTimes);
const batchedPerSecond = batchedTimes.reduce((a, b) => a + b, 0) / PACED_SECONDS;
const burst = stats(burstTimes);
const paced = stats(pacedTimes);
const pacedPerSecond = pacedTimes.reduce((a, b) => a + b, 0) / PACED_SECONDS;
const rowCount = index.rowCount;
await index.close();
if (!KEEP) rmSync(dir, { recursive: true, force: true });

// ---- report ----
const f2 = (n: number) => n.toFixed(2);
console.log(`\nindex: ${rowCount.toLocaleString()} rows, ${(dbBytes / 2 ** 20).toFixed(0)} MiB, built in ${buildSeconds.toFixed(1)} s (${f2((buildSeconds * 1e6) / ROWS)} µs/row in batches of ${BATCH})${KEEP ? `, kept at ${dbPath}` : ""}`);
console.log(`${REQUESTS} requests per query, sequential, client and server in one process\n`);
const header = ["query", "rows", "db p50 ms", "db p99 ms", "http p50 ms", "http p99 ms"];
const table = results.map((r) => [r.query, String(r.rows), f2(r.dbP50), f2(r.dbP99), f2(r.httpP50), f2(r.httpP99)]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(line(header));
for (const r of table) console.log(line(r));
console.log(`\napplyCycle on the ${(ROWS / 1e6).toFixed(1)}M-row index, checkpoints ${WORKER ? "in the worker thread" : "by SQLite on the writing thread"}:`);
console.log(`  1 report/s of 1,000 opened + 1,000 updated + 1,000 closed + 2,000 files (${BURSTS}x): p50 ${f2(burst.p50)} ms, p99 ${f2(burst.p99)} ms, max ${f2(burst.max)} ms`);
console.log(`  100 reports/s of 10 + 10 + 10 + 20 files (${PACED_SECONDS} s):                   p50 ${f2(paced.p50)} ms, p99 ${f2(paced.p99)} ms, max ${f2(paced.max)} ms`);
console.log(`  the same 100 reports/s, applyCycles of 25 reports every 250 ms:              p50 ${f2(batched.p50)} ms, p99 ${f2(batched.p99)} ms, max ${f2(batched.max)} ms`);
console.log(`  => at 1,000 new connections/s the index takes ${f2(burst.mean / 10)}% (1 report/s), ${f2(pacedPerSecond / 10)}% (100 reports/s), ${f2(batchedPerSecond / 10)}% (4 batches/s) of each second`);
