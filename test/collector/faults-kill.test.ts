// SIGKILL faults under load: the collector is killed again and again at random points
// (after a random number of poll cycles) while loopback connections come and go and a few
// long-lived ones send data all the time, always on the same output folder and index.
// Then one more run reconciles and stops cleanly. What it leaves must be whole and
// consistent: every archive a valid zstd stream and in the index with the records it
// holds, every file row on disk and closed, and each long-lived socket one connection
// (one UUID, one row, seqs 0..n, one StartTime, counts that add up) across all the runs.
//
// The rounds are drawn from a seeded PRNG; the seed is printed. To repeat a run:
//   FAULTS_SEED=<seed> FAULTS_ROUNDS=<n> npx bun test test/collector/faults-kill.test.ts
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  allFiles, getJson, readArchives, readIndex, seededRandom, startCollector, stopCollector, waitCycles, waitFor, zstdTestFailures,
  type CollectorProc, type ConnectionRow, type FileRow,
} from "../helpers/collector-proc.ts";
import { startLoad, type Load } from "../helpers/load.ts";
import type { CliRun } from "../helpers/run-cli.ts";

const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env.FAULTS_ROUNDS ?? 8);
const PREFIX = "faults_1700000000_unsafe";

let dir: string;
let load: Load | null = null;
const started: CliRun[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-faults-kill-"));
});
afterEach(async () => {
  for (const r of started.splice(0)) {
    r.proc.kill("SIGKILL");
    await r.exited;
  }
  await load?.close();
  load = null;
  rmSync(dir, { recursive: true, force: true });
});

test(`SIGKILL at random cycles under load, ${ROUNDS} rounds, then a clean run: archives and index agree, live connections stay one connection`, async () => {
  console.log(`faults-kill: seed ${SEED}, ${ROUNDS} rounds (repeat with FAULTS_SEED=${SEED} FAULTS_ROUNDS=${ROUNDS})`);
  const random = seededRandom(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const out = join(dir, "out");
  const prefixFile = join(dir, "prefix");
  writeFileSync(prefixFile, PREFIX);
  const db = join(out, "index.sqlite");
  const base = ["--uuid-prefix-file", prefixFile, "--interval", "10"];

  load = await startLoad({ host: "127.0.0.1", longLived: 3, bytesPerTick: 1500, shortPerTick: 1, tickMs: 15, maxShort: 3000, maxMs: 80_000 });
  const rounds: string[] = [];
  const kills: { at: number; flushMs: number }[] = [];
  const context = () => `seed ${SEED}; rounds: ${rounds.join(" | ")}`;

  for (let round = 0; round < ROUNDS; round++) {
    const target = 3 + Math.floor(random() * 28);
    const flushMs = pick([10, 40, 150]);
    const batchMs = pick([0, 20, 100, 300]);
    const t0 = performance.now();
    const c: CollectorProc = await startCollector(out, [...base, "--flush-ms", String(flushMs), "--index-batch-ms", String(batchMs)], started);
    const t1 = performance.now();
    const reached = await waitCycles(c.api, target);
    c.run.proc.kill("SIGKILL");
    kills.push({ at: Date.now(), flushMs });
    expect(await c.run.exited).not.toBe(0);
    started.splice(started.indexOf(c.run), 1);
    const rec = c.run.stderrLines.find((l) => l.startsWith("reconcile:"));
    rounds.push(`#${round} flush ${flushMs} batch ${batchMs} killed at cycle >=${reached} (target ${target}; start ${Math.round(t1 - t0)} ms, run ${Math.round(performance.now() - t1)} ms)${rec ? "; " + rec.replace(/^reconcile: /, "") : ""}`);
  }

  // One more run: it reconciles, resumes the live connections, polls a while and stops cleanly.
  const last = await startCollector(out, [...base, "--flush-ms", "40", "--index-batch-ms", "50"], started);
  await last.run.waitForStderr(/^restart: resumed/);
  const resumedAt = await waitCycles(last.api, 1);
  // The long-lived connections are live in this run's index too.
  for (const t of load.longTuples()) {
    await waitFor(`long-lived socket ${t.srcPort}->${t.dstPort} in /connections`, async () => {
      const r = (await getJson(`${last.api}/connections?sport=${t.srcPort}&dport=${t.dstPort}`)).body;
      return r.connections.length > 0 ? true : undefined;
    });
  }
  await waitCycles(last.api, resumedAt + 20);
  const code = await stopCollector(last);
  started.splice(started.indexOf(last.run), 1);
  const stderr = last.run.stderrLines.join("\n");
  expect({ code, stderr }).toEqual({ code: 0, stderr: expect.stringContaining("no line lost") as unknown as string });
  // Both ends of each long-lived connection, and the listening socket (idle, but a socket too).
  const longTuples = [...load.longTuples(), { srcPort: load.port, dstPort: 0 }];
  await load.close();
  load = null;
  console.log(`faults-kill: ${context()}`);

  // ---- The archives ----
  const archives = readArchives(out);
  const failing = zstdTestFailures(out, archives.map((a) => a.path));
  expect({ context: context(), failing }).toEqual({ context: context(), failing: [] });
  for (const a of archives) {
    expect({ path: a.path, decodes: a.decodes, metaUuid: a.metaUuid, metaSeq: a.metaSeq }).toEqual({ path: a.path, decodes: true, metaUuid: a.uuid, metaSeq: a.seq });
  }
  // Nothing else was left in the day folders (an interrupted compaction's temp file, say).
  const strays = allFiles(out).filter((p) => /^\d{4}\//.test(p) && !/\.\d{5}\.jsonl\.zst$/.test(p));
  expect(strays).toEqual([]);

  // ---- The index ----
  const index = readIndex(db);
  const conns = new Map<string, ConnectionRow>(index.connections.map((c) => [c.uuid, c]));
  const fileRows = new Map<string, FileRow>(index.files.map((f) => [f.path, f]));
  expect(index.meta.clean_stop).toBe("1");

  // Every archive on disk is indexed, with its connection and the records it holds.
  const unindexed: string[] = [];
  const wrongRecords: string[] = [];
  const noConnection: string[] = [];
  for (const a of archives) {
    const row = fileRows.get(a.path);
    if (!row) {
      unindexed.push(a.path);
      continue;
    }
    if (row.uuid !== a.uuid || row.seq !== a.seq || row.records !== a.lines.length - 1) {
      wrongRecords.push(`${a.path}: index ${row.uuid}#${row.seq} ${row.records} records, file ${a.lines.length - 1}`);
    }
    if (!conns.has(a.uuid)) noConnection.push(a.path);
  }
  expect({ context: context(), unindexed, wrongRecords, noConnection }).toEqual({ context: context(), unindexed: [], wrongRecords: [], noConnection: [] });

  // Every file row is on disk, and closed after the clean stop.
  const onDisk = new Set(archives.map((a) => a.path));
  expect(index.files.filter((f) => !onDisk.has(f.path)).map((f) => f.path)).toEqual([]);
  expect(index.files.filter((f) => f.closed_at === null).map((f) => f.path)).toEqual([]);

  // ---- Each long-lived socket: one connection across every run ----
  const diskByUuid = new Map<string, typeof archives>();
  for (const a of archives) diskByUuid.set(a.uuid, [...(diskByUuid.get(a.uuid) ?? []), a]);
  const filesByUuid = new Map<string, FileRow[]>();
  for (const f of index.files) filesByUuid.set(f.uuid, [...(filesByUuid.get(f.uuid) ?? []), f]);
  expect(longTuples.length).toBe(7);
  for (const t of longTuples) {
    const rows = index.connections.filter((c) => c.src_ip === "127.0.0.1" && c.src_port === t.srcPort && c.dst_port === t.dstPort);
    const what = `long-lived socket 127.0.0.1:${t.srcPort} -> :${t.dstPort} (seed ${SEED})`;
    expect({ what, rows: rows.length }).toEqual({ what, rows: 1 });
    const conn = rows[0];
    expect({ what, closedAt: conn.closed_at, uuid: conn.uuid.startsWith(`${PREFIX}_`) }).toEqual({ what, closedAt: null, uuid: true });
    const files = (filesByUuid.get(conn.uuid) ?? []).sort((a, b) => a.seq - b.seq);
    const disk = (diskByUuid.get(conn.uuid) ?? []).sort((a, b) => a.seq - b.seq);
    // Several runs wrote its files: at least the first one's and the last one's.
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect({ what, seqs: files.map((f) => f.seq) }).toEqual({ what, seqs: files.map((_, i) => i) });
    expect({ what, seqs: disk.map((a) => a.seq) }).toEqual({ what, seqs: files.map((f) => f.seq) });
    const startTimes = new Set(disk.map((a) => a.startTimeText));
    expect({ what, startTimes: [...startTimes] }).toEqual({ what, startTimes: [disk[0].startTimeText] });
    const sum = files.reduce((n, f) => n + f.records, 0);
    expect({ what, snapshots: conn.snapshots }).toEqual({ what, snapshots: sum });
  }

  // Short connections: counts that do not add up are reported (informational, see the report above).
  const off = index.connections.filter((c) => c.snapshots !== (filesByUuid.get(c.uuid) ?? []).reduce((n, f) => n + f.records, 0));
  console.log(`faults-kill: ${archives.length} archives, ${index.connections.length} connections, ${off.length} with snapshots != sum of their files' records`);
  // Connections that ended before a kill but none of whose lines reached a file: how long
  // before the kill they ended (a crash should lose at most about one flush interval).
  const lostWhole = off.filter((c) => c.closed_at !== null && c.end_reason !== "restart" && !filesByUuid.has(c.uuid));
  const ages = lostWhole.map((c) => {
    const k = kills.find((k) => k.at >= c.closed_at!);
    return k ? k.at - c.closed_at! - k.flushMs : 0;
  });
  if (lostWhole.length > 0) {
    console.log(`faults-kill: ${lostWhole.length} connections ended before a kill with no line in any file; oldest ended ${Math.max(...ages)} ms more than a flush interval before its kill`);
  }
  for (const c of off.slice(0, 5)) {
    const fs = (filesByUuid.get(c.uuid) ?? []).map((f) => `#${f.seq}:${f.records}`).join(",");
    console.log(`  ${c.uuid} ${c.src_port}->${c.dst_port} closed ${c.closed_at ?? "-"} (${c.end_reason ?? "open"}) snapshots ${c.snapshots}, files [${fs}]`);
  }
}, 120_000);
