// Restarting the collector is not the end of a TCP connection. Whether the previous run
// stopped cleanly (SIGTERM) or was killed (SIGKILL), the next run resumes every live
// connection as the same connection: same UUID and index row, same StartTime text, the
// next file sequence, an open event replayed to new eventsocket clients, and no close
// event until the connection really closes. A connection that ended while the collector
// was down is closed as 'restart'.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decompress } from "zstd-napi";
import {
  eventClient, getJson, readIndex, startCollector, stopCollector, waitCycles, waitFor, type CollectorProc,
} from "../helpers/collector-proc.ts";
import { loopbackPair, type LoopbackPair } from "../helpers/loopback.ts";
import type { CliRun } from "../helpers/run-cli.ts";
import { ssSockets } from "../helpers/ss.ts";

const PREFIX = "restart_1700000000_unsafe";
/** RFC 3339 UTC with up to nanoseconds, trailing zeros trimmed (Go's RFC3339Nano). */
const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?Z$/;

let dir: string;
const started: CliRun[] = [];
const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-restart-"));
  writeFileSync(join(dir, "prefix"), PREFIX);
});
afterEach(async () => {
  for (const r of started.splice(0)) {
    r.proc.kill("SIGKILL");
    await r.exited;
  }
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function pair(): Promise<LoopbackPair> {
  const p = await loopbackPair("127.0.0.1");
  cleanups.push(() => p.close());
  return p;
}

function events(path: string) {
  const c = eventClient(path);
  cleanups.push(() => c.sock.destroy());
  return c;
}

interface Conn {
  uuid: string;
  cookie: string;
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
  interface: number;
  snapshots: number;
  closedAt: string | null;
  endReason: string | null;
}

interface FileView {
  path: string;
  seq: number;
  records: number;
  closedAt: string | null;
}

/** The rows of `port` (the listener and both ends), once each end has `minFiles` files with records and the listener one. */
async function socketsOf(api: string, port: number, minFiles: number): Promise<{ conns: Conn[]; files: Map<string, FileView[]> }> {
  return waitFor(`three sockets of port ${port} with ${minFiles} files each`, async () => {
    const conns: Conn[] = (await getJson(`${api}/connections?port=${port}`)).body.connections;
    if (conns.length !== 3) return undefined;
    const files = new Map<string, FileView[]>();
    for (const c of conns) {
      const d = (await getJson(`${api}/connections/${c.uuid}`)).body;
      const fs: FileView[] = d.files;
      if (fs.length < minFiles || fs.some((f) => f.records === 0)) return undefined;
      files.set(c.uuid, fs);
    }
    return { conns, files };
  });
}

/** The Metadata line of an archive (its first line), parsed, with the StartTime text as written. */
function metadataOf(out: string, rel: string): { UUID: string; Sequence: number; StartTime: string } {
  const text = decompress(readFileSync(join(out, rel))).toString("utf8");
  return JSON.parse(text.slice(0, text.indexOf("\n"))).Metadata;
}

/** Waits until the kernel shows no socket of `port` the collector dumps (only TIME-WAIT, or none). */
async function gone(port: number): Promise<void> {
  await waitFor(`port ${port}'s sockets to be gone`, () =>
    ssSockets([`( sport = :${port} or dport = :${port} )`]).every((s) => s.state === "TIME-WAIT") ? true : undefined,
  );
}

async function restartScenario(stop: "SIGTERM" | "SIGKILL"): Promise<void> {
  const out = join(dir, "out");
  const sock = join(dir, "events.sock");
  const args = ["--uuid-prefix-file", join(dir, "prefix"), "--eventsocket", sock, "--flush-ms", "20", "--index-batch-ms", "20"];
  const keep = await pair();
  const drop = await pair();

  // ---- First run: both connections are archived and announced ----
  const first: CollectorProc = await startCollector(out, args, started);
  const ev1 = events(sock);
  await ev1.connected;
  await keep.send(keep.clients[0], 20_000);
  await drop.send(drop.clients[0], 20_000);
  const before = await socketsOf(first.api, keep.port, 1);
  const dropped = await socketsOf(first.api, drop.port, 1);
  const keepUuids = before.conns.map((c) => c.uuid).sort();
  const dropUuids = dropped.conns.map((c) => c.uuid).sort();
  for (const u of [...keepUuids, ...dropUuids]) expect(u.startsWith(`${PREFIX}_`)).toBe(true);
  await waitFor("open events of the first run", () => {
    const opened = new Set(ev1.events().filter((e) => e.Event === 0).map((e) => e.UUID));
    return [...keepUuids, ...dropUuids].every((u) => opened.has(u)) ? true : undefined;
  });

  if (stop === "SIGTERM") {
    expect(await stopCollector(first)).toBe(0);
    const log = first.run.stderrLines.join("\n");
    const left = /collector: stopped after .*; (\d+) connections left open for the next run to resume/.exec(log);
    expect(left, log).not.toBeNull();
    expect(Number(left![1])).toBeGreaterThanOrEqual(6);
    // The index: every connection still open, every file closed.
    const index = readIndex(join(out, "index.sqlite"));
    for (const u of [...keepUuids, ...dropUuids]) {
      const row = index.connections.find((c) => c.uuid === u)!;
      expect({ u, closedAt: row.closed_at, endReason: row.end_reason }).toEqual({ u, closedAt: null, endReason: null });
      const files = index.files.filter((f) => f.uuid === u);
      expect(files.length).toBeGreaterThanOrEqual(1);
      for (const f of files) expect({ path: f.path, closedAt: typeof f.closed_at }).toEqual({ path: f.path, closedAt: "number" });
    }
    expect(index.meta.clean_stop).toBe("1");
  } else {
    first.run.proc.kill("SIGKILL");
    expect(await first.run.exited).not.toBe(0);
  }
  started.splice(started.indexOf(first.run), 1);
  // Whatever the way it stopped, it announced no close: none of these connections ended.
  await waitFor("the first run's eventsocket to close", () => (ev1.sock.destroyed || ev1.sock.readyState === "closed" ? true : undefined)).catch(() => {});
  const ev1Events = ev1.events().filter((e) => keepUuids.includes(e.UUID) || dropUuids.includes(e.UUID));
  expect(ev1Events.filter((e) => e.Event !== 0)).toEqual([]);
  expect(ev1Events.length).toBe(6);
  ev1.sock.destroy();

  // The first run's files of the connection that lives on, and its StartTime as written.
  const keepFiles = new Map(keepUuids.map((u) => [u, before.files.get(u)!]));
  const startTimes = new Map<string, string>();
  for (const [u, fs] of keepFiles) {
    expect(fs.map((f) => f.seq)).toEqual(fs.map((_, i) => i));
    for (const f of fs) {
      const m = metadataOf(out, f.path);
      expect({ uuid: m.UUID, seq: m.Sequence }).toEqual({ uuid: u, seq: f.seq });
      startTimes.set(u, m.StartTime);
    }
  }

  // ---- While the collector is down, one connection ends ----
  await drop.close();
  await gone(drop.port);

  // ---- Second run ----
  const second = await startCollector(out, args, started);
  const resumedLine = await second.run.waitForStderr(/^restart: resumed \d+ connections/);
  const m = /^restart: resumed (\d+) connections, closed (\d+) /.exec(resumedLine);
  expect(m, resumedLine).not.toBeNull();
  expect(Number(m![1])).toBeGreaterThanOrEqual(3);
  expect(Number(m![2])).toBeGreaterThanOrEqual(3);
  if (stop === "SIGKILL") expect(second.run.stderrLines.some((l) => l.startsWith("reconcile: "))).toBe(true);

  // A client that connects now first hears of every connection open now: the resumed ones too.
  const ev2 = events(sock);
  await ev2.connected;
  const replay = await waitFor("the replayed open events", () => {
    const mine = ev2.events().filter((e) => keepUuids.includes(e.UUID));
    return mine.length >= 3 ? mine : undefined;
  });
  for (const c of before.conns) {
    const line = ev2.lines.find((l) => JSON.parse(l).UUID === c.uuid)!;
    const e = JSON.parse(line);
    // M-Lab's line: keys in its order, the cookie as a signed 64-bit decimal.
    expect(Object.keys(e)).toEqual(["Event", "Timestamp", "UUID", "ID"]);
    expect(Object.keys(e.ID)).toEqual(["SPort", "DPort", "SrcIP", "DstIP", "Interface", "Cookie"]);
    expect(e.Event).toBe(0);
    expect(e.Timestamp).toMatch(RFC3339_NANO);
    expect(e.ID).toEqual({ SPort: c.src.port, DPort: c.dst.port, SrcIP: c.src.ip, DstIP: c.dst.ip, Interface: c.interface, Cookie: Number(BigInt(`0x${c.cookie}`)) });
    expect(line.endsWith(`"Cookie":${BigInt.asIntN(64, BigInt(`0x${c.cookie}`))}}}`)).toBe(true);
  }
  expect(replay.map((e) => e.Event)).toEqual([0, 0, 0]);
  // Nothing is announced of the connection that ended while the collector was down.
  expect(ev2.events().filter((e) => e.Event === 0 && dropUuids.includes(e.UUID))).toEqual([]);

  // The live connection goes on in the same rows and series of files.
  await keep.send(keep.clients[0], 20_000);
  const after = await socketsOf(second.api, keep.port, 2);
  expect(after.conns.map((c) => c.uuid).sort()).toEqual(keepUuids);
  for (const c of after.conns) {
    expect(c.closedAt).toBeNull();
    const fs = after.files.get(c.uuid)!;
    const prev = keepFiles.get(c.uuid)!;
    expect(fs.map((f) => f.seq)).toEqual([...prev.map((f) => f.seq), prev.length]);
    expect(fs.slice(0, prev.length).map((f) => f.path)).toEqual(prev.map((f) => f.path));
    const next = fs[prev.length];
    expect(next.path).toMatch(new RegExp(`/${c.uuid}\\.${String(prev.length).padStart(5, "0")}\\.jsonl\\.zst$`));
    expect(existsSync(join(out, next.path))).toBe(true);
    const meta = metadataOf(out, next.path);
    expect({ uuid: meta.UUID, seq: meta.Sequence, startTime: meta.StartTime }).toEqual({ uuid: c.uuid, seq: prev.length, startTime: startTimes.get(c.uuid)! });
  }

  // The connection that ended while the collector was down: closed as 'restart'.
  const ended: Conn[] = (await getJson(`${second.api}/connections?port=${drop.port}`)).body.connections;
  expect(ended.map((c) => c.uuid).sort()).toEqual(dropUuids);
  for (const c of ended) {
    expect({ uuid: c.uuid, endReason: c.endReason, closed: c.closedAt !== null }).toEqual({ uuid: c.uuid, endReason: "restart", closed: true });
    const d = (await getJson(`${second.api}/connections/${c.uuid}`)).body;
    for (const f of d.files) expect({ path: f.path, closed: f.closedAt !== null }).toEqual({ path: f.path, closed: true });
  }

  // Polling went on for a while: still no close event for the live connection.
  const now = (await getJson(`${second.api}/healthz`)).body.cycles as number;
  await waitCycles(second.api, now + 10);
  expect(ev2.events().filter((e) => e.Event === 1 && (keepUuids.includes(e.UUID) || dropUuids.includes(e.UUID)))).toEqual([]);

  // ---- The connection really closes ----
  await keep.close();
  const closed = await waitFor("the kept connection closed in the index", async () => {
    const conns: Conn[] = (await getJson(`${second.api}/connections?port=${keep.port}&state=closed`)).body.connections;
    return conns.length === 3 ? conns : undefined;
  });
  const ends = closed.filter((c) => c.dst.port !== 0);
  expect(ends.length).toBe(2);
  for (const c of ends) expect({ uuid: c.uuid, endReason: c.endReason }).toEqual({ uuid: c.uuid, endReason: "destroy" });
  await waitFor("close events for the kept connection", () =>
    ends.every((c) => ev2.events().some((e) => e.Event === 1 && e.UUID === c.uuid)) ? true : undefined,
  );
  for (const c of closed) {
    const mine = ev2.events().filter((e) => e.UUID === c.uuid);
    // One open (the replay), then at most one close, nothing else.
    expect(mine[0].Event).toBe(0);
    expect(mine.slice(1).map((e) => e.Event)).toEqual(ends.includes(c) ? [1] : mine.length > 1 ? [1] : []);
    if (mine.length > 1) expect(mine[1]).toEqual({ Event: 1, Timestamp: expect.stringMatching(RFC3339_NANO), UUID: c.uuid, ID: null });
  }
  // Counts carry over: the index's snapshots are what the files hold.
  await waitFor("the kept connection's files closed", async () => {
    for (const c of ends) {
      const d = (await getJson(`${second.api}/connections/${c.uuid}`)).body;
      if (d.files.some((f: FileView) => f.closedAt === null)) return undefined;
      expect({ uuid: c.uuid, snapshots: d.snapshots }).toEqual({ uuid: c.uuid, snapshots: d.files.reduce((n: number, f: FileView) => n + f.records, 0) });
    }
    return true;
  });
  expect(await stopCollector(second)).toBe(0);
  started.splice(started.indexOf(second.run), 1);
}

test("after a clean stop (SIGTERM) the next run resumes live connections: same UUID, row and StartTime, next seq, open event replayed, no close until they close; one that ended meanwhile is closed as 'restart'", async () => {
  await restartScenario("SIGTERM");
}, 60_000);

test("after a crash (SIGKILL) the next run resumes them exactly the same way", async () => {
  await restartScenario("SIGKILL");
}, 60_000);
