// The collector as a child process for end-to-end tests (restarts, kills): start it on an
// output folder, find its API, wait on its /healthz cycle count, and read back what it
// left on disk and in its index once it has stopped.
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join, relative } from "node:path";
import { decompress } from "zstd-napi";
import { startCli, type CliRun } from "./run-cli.ts";

export interface CollectorProc {
  run: CliRun;
  /** http://127.0.0.1:PORT */
  api: string;
}

/**
 * Starts `collector --output out --include-local --listen 127.0.0.1:0 --status-seconds 0`
 * plus `extra`, and resolves once its start line names the API.
 */
export async function startCollector(out: string, extra: string[] = [], started?: CliRun[]): Promise<CollectorProc> {
  const run = startCli(["collector", "--output", out, "--include-local", "--listen", "127.0.0.1:0", "--status-seconds", "0", ...extra]);
  started?.push(run);
  const line = await run.waitForStderr(/^collector: writing/, 30_000);
  const m = /api (http:\/\/[^;]+);/.exec(line);
  if (!m) throw new Error(`no API address in: ${line}`);
  return { run, api: m[1] };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}

/** Polls `get` every 10 ms until it returns something other than undefined. */
export async function waitFor<T>(what: string, get: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** The collector's completed poll cycles (/healthz). */
export async function cycles(api: string): Promise<number> {
  return (await getJson(`${api}/healthz`)).body.cycles as number;
}

/** Resolves with the cycle count once the collector has completed at least `n` poll cycles. */
export function waitCycles(api: string, n: number, timeoutMs = 15_000): Promise<number> {
  return waitFor(`${n} poll cycles`, async () => {
    const c = await cycles(api);
    return c >= n ? c : undefined;
  }, timeoutMs);
}

/** SIGTERM, then the exit status. */
export async function stopCollector(c: CollectorProc): Promise<number> {
  c.run.proc.kill("SIGTERM");
  return c.run.exited;
}

/** An eventsocket client that keeps every line it receives. */
export function eventClient(path: string): { lines: string[]; events: () => any[]; sock: Socket; connected: Promise<void> } {
  const lines: string[] = [];
  let pending = "";
  const sock = createConnection(path);
  const connected = new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  sock.on("data", (d) => {
    pending += d.toString();
    let i: number;
    while ((i = pending.indexOf("\n")) >= 0) {
      lines.push(pending.slice(0, i));
      pending = pending.slice(i + 1);
    }
  });
  sock.on("error", () => {});
  return { lines, events: () => lines.map((l) => JSON.parse(l)), sock, connected };
}

// ---- What a stopped collector left behind ----------------------------------------------

export interface DiskArchive {
  /** Relative to the output folder. */
  path: string;
  uuid: string;
  seq: number;
  /** Lines of the file, the Metadata line first (empty if it did not decompress). */
  lines: string[];
  /** StartTime exactly as the Metadata line has it; null if the first line is not Metadata. */
  startTimeText: string | null;
  metaUuid: string | null;
  metaSeq: number | null;
  /** Whether zstd-napi decompressed it. */
  decodes: boolean;
}

const ARCHIVE_NAME = /^(.+)\.(\d{5})\.jsonl\.zst$/;

/** Every file under `dir` (relative), sorted. */
export function allFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Every archive file under `out`, read and decompressed in-process. */
export function readArchives(out: string): DiskArchive[] {
  const result: DiskArchive[] = [];
  for (const rel of allFiles(out)) {
    const m = ARCHIVE_NAME.exec(rel.split("/").pop()!);
    if (!m) continue;
    let text = "";
    let decodes = true;
    try {
      text = decompress(readFileSync(join(out, rel))).toString("utf8");
    } catch {
      decodes = false;
    }
    const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
    let meta: { UUID?: string; Sequence?: number; StartTime?: string } | null = null;
    try {
      meta = lines.length > 0 ? JSON.parse(lines[0]).Metadata ?? null : null;
    } catch {
      meta = null;
    }
    result.push({
      path: rel, uuid: m[1], seq: Number(m[2]), lines, decodes,
      startTimeText: meta?.StartTime ?? null, metaUuid: meta?.UUID ?? null, metaSeq: meta?.Sequence ?? null,
    });
  }
  return result;
}

/** `zstd -t` over many files (a few calls); returns the ones that fail. */
export function zstdTestFailures(out: string, rels: string[]): string[] {
  const bad: string[] = [];
  for (let i = 0; i < rels.length; i += 400) {
    const chunk = rels.slice(i, i + 400);
    if (Bun.spawnSync(["zstd", "-tq", ...chunk.map((r) => join(out, r))]).exitCode === 0) continue;
    for (const r of chunk) if (Bun.spawnSync(["zstd", "-tq", join(out, r)]).exitCode !== 0) bad.push(r);
  }
  return bad;
}

export interface ConnectionRow {
  uuid: string;
  cookie: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  first_seen: number;
  last_seen: number;
  closed_at: number | null;
  end_reason: string | null;
  snapshots: number;
}

export interface FileRow {
  uuid: string;
  seq: number;
  path: string;
  opened_at: number;
  closed_at: number | null;
  records: number;
}

/** The index's connections and files tables, read through a read-only handle. */
export function readIndex(dbPath: string): { connections: ConnectionRow[]; files: FileRow[]; meta: Record<string, string> } {
  if (!existsSync(dbPath)) throw new Error(`no index at ${dbPath}`);
  const db = new Database(dbPath, { readonly: true });
  try {
    const connections = db.query<ConnectionRow, []>(
      "SELECT uuid, cookie, src_ip, src_port, dst_ip, dst_port, first_seen, last_seen, closed_at, end_reason, snapshots FROM connections",
    ).all();
    const files = db.query<FileRow, []>("SELECT uuid, seq, path, opened_at, closed_at, records FROM files ORDER BY uuid, seq").all();
    const meta = Object.fromEntries(db.query<{ key: string; value: string }, []>("SELECT key, value FROM meta").all().map((r) => [r.key, r.value]));
    return { connections, files, meta };
  } finally {
    db.close();
  }
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1): failures reproduce from the seed. */
export function seededRandom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
