// A flood of short loopback connections against the real collector, destroy events on.
// Each client closes its socket right after connecting (orphaned: it reaches FIN_WAIT2
// and the kernel replaces it with a timewait entry), and the server closes its end
// 300 ms after the client's FIN, so those timewait entries stay in the dumps for many
// polls. Most client sockets are never seen by a poll before they are destroyed: their
// timewait entry carries a cookie of its own. Every real socket must still be exactly one
// index row, under its 4-tuple, and one archive series; the timewait entries are counted
// as remnants.
import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listFiles } from "../helpers/archives.ts";
import { readArchiveAll } from "../../src/archive/reader.ts";
import { decodeEntry } from "../../src/archive/decode-entry.ts";
import { killIfRunning, metricSum, metricsText, startCollector, stopWith, waitCycles, waitUntil, type RunningCollector } from "../helpers/collector-run.ts";
import { bindTcp4, closeFd, connectTcp4 } from "../helpers/raw-socket.ts";

const N = 2500;
const BATCH = 50;
const SERVER_CLOSE_DELAY_MS = 300;
const TCP_LISTEN = 10;
const TCP_FIN_WAIT2 = 5;

let dir: string | undefined;
let collector: RunningCollector | undefined;
let server: Server | undefined;
const sockets = new Set<Socket>();
const timers = new Set<ReturnType<typeof setTimeout>>();
const fds = new Set<number>();

afterEach(async () => {
  await killIfRunning(collector?.run);
  collector = undefined;
  for (const t of timers) clearTimeout(t);
  timers.clear();
  for (const s of sockets) s.destroy();
  sockets.clear();
  for (const fd of fds) closeFd(fd);
  fds.clear();
  if (server !== undefined) {
    server.close();
    server = undefined;
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Row {
  uuid: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  first_state: number;
  last_state: number;
  end_reason: string | null;
  snapshots: number;
  first_seen: number;
  last_seen: number;
  closed_at: number | null;
}

const tuple = (r: Row) => `${r.src_ip}:${r.src_port}>${r.dst_ip}:${r.dst_port}`;
const reverse = (t: string) => t.split(">").reverse().join(">");

/** Index rows with 127.0.0.1:`port` at either end. */
function rowsOn(db: Database, port: number): Row[] {
  return db
    .query<Row, [number]>(
      `SELECT uuid, src_ip, src_port, dst_ip, dst_port, first_state, last_state, end_reason, snapshots, first_seen, last_seen, closed_at
       FROM connections WHERE (src_ip = '127.0.0.1' AND src_port = ?1) OR (dst_ip = '127.0.0.1' AND dst_port = ?1)`,
    )
    .all(port);
}

/** Sockets on `port` (either end) in states other than LISTEN and TIME-WAIT, per `ss`. */
function busySocketsOn(port: number): string[] {
  const r = Bun.spawnSync(["ss", "-tanH", `( sport = :${port} or dport = :${port} )`]);
  if (r.exitCode !== 0) throw new Error(`ss failed: ${r.stderr.toString()}`);
  return r.stdout.toString().split("\n").filter((l) => l.trim() !== "" && !/^(LISTEN|TIME-WAIT)\s/.test(l));
}

/** How many times each string occurs. */
function counts(list: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of list) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
}

/** A listening server that closes each connection `delayMs` after the client's FIN. */
async function delayedCloseServer(delayMs: number): Promise<{ port: number; closed: () => number }> {
  let closed = 0;
  server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.resume();
    s.on("end", () => {
      const t = setTimeout(() => {
        timers.delete(t);
        s.destroy();
        sockets.delete(s);
        closed++;
      }, delayMs);
      timers.add(t);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as { port: number }).port, closed: () => closed };
}

test(`a flood of ${N} orphaned loopback connections is one index row and one archive series per socket; timewait entries are remnants`, async () => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-flood-"));
  const out = join(dir, "out");
  // The listener exists before the collector starts: its row is seen LISTENing from the first dump.
  const srv = await delayedCloseServer(SERVER_CLOSE_DELAY_MS);
  const port = srv.port;
  collector = await startCollector(["--output", out, "--include-local", "--interval", "10", "--index-batch-ms", "100", "--flush-ms", "200"]);
  await waitCycles(collector, 3);

  const started = performance.now();
  const failures: string[] = [];
  // The 4-tuple of every client socket, as the client saw it. On loopback the kernel may
  // give a new connection the 4-tuple of one in TIME_WAIT for over a second
  // (tcp_tw_reuse=2), so one 4-tuple can be two real sockets, one after the other.
  const made: string[] = [];
  for (let b = 0; b < N / BATCH; b++) {
    await Promise.all(
      Array.from({ length: BATCH }, () =>
        new Promise<void>((resolve) => {
          const c = connect(port, "127.0.0.1");
          sockets.add(c);
          c.on("error", (e) => {
            failures.push(e.message);
            sockets.delete(c);
            resolve();
          });
          c.on("connect", () => {
            made.push(`${c.localAddress}:${c.localPort}>127.0.0.1:${port}`);
            // Closed at once: the socket is orphaned and goes FIN_WAIT1 → FIN_WAIT2 → timewait entry.
            c.destroy();
            sockets.delete(c);
            resolve();
          });
        }),
      ),
    );
  }
  expect(failures).toEqual([]);
  expect(made.length).toBe(N);
  // Every accepted socket closed by the server; nothing on the port but the listener and TIME-WAIT entries.
  await waitUntil("the server to close every accepted socket", () => (srv.closed() === N ? true : undefined), 30_000);
  await waitUntil("no socket on the port in FIN-WAIT-2, CLOSE-WAIT or LAST-ACK", () => (busySocketsOn(port).length === 0 ? true : undefined), 10_000);
  const floodMs = performance.now() - started;
  // Past the vanish grace (250 ms) and an index batch, with the dumps showing none of them.
  await waitCycles(collector, 40);
  const metrics = await metricsText(collector.api);
  const remnantsMetric = metricSum(metrics, "tcpinfo_timewait_remnants_total");
  const overruns = metricSum(metrics, "tcpinfo_error_total", { type: "destroy_overrun" });

  const stopped = await stopWith(collector.run, "SIGTERM");
  collector = undefined;
  expect(stopped.code).toBe(0);
  expect(stopped.final.lost).toBe(0);
  expect(stopped.final.indexLost).toBe(0);
  expect(stopped.final.written).toBe(stopped.final.snapshots);
  // The remnant path was exercised, and the destroy events all arrived.
  const remnants = Number(stopped.status.get("timewait_remnants"));
  expect(remnants).toBeGreaterThan(0);
  expect(remnants).toBeGreaterThanOrEqual(remnantsMetric);
  expect(remnantsMetric).toBeGreaterThan(0);
  expect(overruns).toBe(0);
  expect(stopped.status.get("errors")).not.toContain("destroy_overrun");

  const db = new Database(join(out, "index.sqlite"));
  try {
    const rows = rowsOn(db, port);
    const listenerTuple = `127.0.0.1:${port}>0.0.0.0:0`;
    const clientTuples = counts(made);
    const acceptedTuples = counts(made.map(reverse));
    const listeners = rows.filter((r) => tuple(r) === listenerTuple);
    const clients = rows.filter((r) => clientTuples.has(tuple(r)));
    const acceptedRows = rows.filter((r) => acceptedTuples.has(tuple(r)));
    // Phantoms look like this: first seen as a timewait entry, one snapshot, never destroyed.
    const phantoms = rows.filter((r) => r.first_state === TCP_FIN_WAIT2 && r.snapshots === 1);
    const vanished = rows.filter((r) => r.end_reason === "vanished");
    const notDestroyed = rows.filter((r) => r !== listeners[0] && r.end_reason !== "destroy");
    // Each 4-tuple as many times in the index as there were sockets with it.
    const inIndex = counts(rows.map(tuple));
    const miscounted = [...clientTuples, ...acceptedTuples]
      .filter(([t, n]) => inIndex.get(t) !== n)
      .map(([t, n]) => `${t}: ${n} sockets, ${inIndex.get(t) ?? 0} rows`);
    const unexpected = rows.filter((r) => !clientTuples.has(tuple(r)) && !acceptedTuples.has(tuple(r)) && tuple(r) !== listenerTuple);
    // Two sockets with one 4-tuple lived one after the other.
    const overlapping: string[] = [];
    for (const [t, n] of inIndex) {
      if (n < 2) continue;
      const same = rows.filter((r) => tuple(r) === t).sort((a, b) => a.first_seen - b.first_seen);
      for (let i = 1; i < same.length; i++) if (same[i - 1].closed_at === null || same[i - 1].closed_at! > same[i].first_seen) overlapping.push(t);
    }
    const show = (list: Row[]) => list.slice(0, 5).map((r) => JSON.stringify(r));
    const diag = `flood ${floodMs.toFixed(0)} ms, remnants ${remnants}; rows ${rows.length}, clients ${clients.length}, accepted ${acceptedRows.length}, reused 4-tuples ${N - clientTuples.size}`;

    expect({ phantoms: show(phantoms), vanished: show(vanished), unexpected: show(unexpected), miscounted: miscounted.slice(0, 5), overlapping, diag }).toEqual({
      phantoms: [],
      vanished: [],
      unexpected: [],
      miscounted: [],
      overlapping: [],
      diag,
    });
    expect(listeners.length).toBe(1);
    expect(listeners[0].first_state).toBe(TCP_LISTEN);
    // The listener is alive: open in the index for the next run to resume.
    expect(listeners[0].end_reason).toBeNull();
    expect(clients.length).toBe(N);
    expect(acceptedRows.length).toBe(N);
    expect(rows.length).toBe(2 * N + 1);
    expect(notDestroyed.map((r) => `${tuple(r)} ${r.end_reason}`)).toEqual([]);

    // Archives: exactly one series (sequences 0, 1, … with no gap) per row, each file listed
    // in the index with its line count, and no series on disk that the index does not know.
    const known = new Set(db.query<{ uuid: string }, []>("SELECT uuid FROM connections").all().map((r) => r.uuid));
    const onDisk = new Map<string, { seq: number; path: string }[]>();
    for (const rel of listFiles(out)) {
      const m = /([^/]+)\.(\d{5})\.jsonl\.zst$/.exec(rel);
      if (m === null) throw new Error(`unexpected archive name ${rel}`);
      const list = onDisk.get(m[1]) ?? [];
      list.push({ seq: Number(m[2]), path: rel });
      onDisk.set(m[1], list);
    }
    expect([...onDisk.keys()].filter((u) => !known.has(u))).toEqual([]);
    const fileRows = db.query<{ path: string; seq: number; records: number }, [string]>("SELECT path, seq, records FROM files WHERE uuid = ?1 ORDER BY seq");
    const badSeries: string[] = [];
    for (const r of rows) {
      const files = (onDisk.get(r.uuid) ?? []).sort((a, b) => a.seq - b.seq);
      const indexed = fileRows.all(r.uuid);
      if (files.length === 0 || files.some((f, i) => f.seq !== i)) badSeries.push(`${tuple(r)}: ${files.map((f) => f.path).join(", ") || "no file"}`);
      else if (JSON.stringify(indexed.map((f) => f.path)) !== JSON.stringify(files.map((f) => f.path))) badSeries.push(`${tuple(r)}: index lists ${indexed.map((f) => f.path).join(", ")}`);
      else if (indexed.reduce((n, f) => n + f.records, 0) !== r.snapshots) badSeries.push(`${tuple(r)} ${r.uuid}: ${r.snapshots} snapshots, files hold ${indexed.map((f) => f.records).join("+")}`);
    }
    expect(badSeries).toEqual([]);

    // What the files hold: every line decodes, the first is the Metadata line of this UUID,
    // the snapshots are this socket's (its 4-tuple) and as many as the index says.
    const wrong: string[] = [];
    for (const r of rows) {
      let lines = 0;
      for (const f of onDisk.get(r.uuid)!) {
        const { entries, malformed } = await readArchiveAll(join(out, f.path));
        const head = entries[0];
        if (malformed.length > 0 || head?.kind !== "metadata" || head.metadata.uuid !== r.uuid) {
          wrong.push(`${f.path}: malformed ${malformed.length}, first line ${head?.kind}`);
          continue;
        }
        for (const e of entries.slice(1)) {
          if (e.kind !== "snapshot") {
            wrong.push(`${f.path}: a second Metadata line`);
            continue;
          }
          lines++;
          const snap = decodeEntry(e, r.uuid);
          const t = snap && `${snap.src.ip}:${snap.src.port}>${snap.dst.ip}:${snap.dst.port}`;
          if (t !== tuple(r)) wrong.push(`${f.path} line ${e.line}: ${t}, not ${tuple(r)}`);
        }
      }
      if (lines !== r.snapshots) wrong.push(`${tuple(r)}: ${lines} lines on disk, ${r.snapshots} in the index`);
    }
    expect(wrong).toEqual([]);
  } finally {
    db.close();
  }
}, 60_000);

test("a socket bound before it connects is one connection, indexed under its connected 4-tuple", async () => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-flood-"));
  const out = join(dir, "out");
  const srv = await delayedCloseServer(0);
  collector = await startCollector(["--output", out, "--include-local", "--interval", "10", "--index-batch-ms", "50", "--flush-ms", "100"]);
  await waitCycles(collector, 3);

  // Bound and left unconnected for many polls (the kernel lists a bound socket, in state
  // CLOSE with no peer, to a dump that asks for its pseudo-state 13, bound-inactive; M-Lab
  // asks only for states 0-11), then connected and closed.
  const client = bindTcp4("127.0.0.1");
  fds.add(client.fd);
  await waitCycles(collector, 10);
  connectTcp4(client.fd, "127.0.0.1", srv.port);
  await waitCycles(collector, 10);
  closeFd(client.fd);
  fds.delete(client.fd);
  await waitUntil("the server to close its end", () => (srv.closed() === 1 ? true : undefined));
  await waitUntil("no socket on the port in FIN-WAIT-2, CLOSE-WAIT or LAST-ACK", () => (busySocketsOn(srv.port).length === 0 ? true : undefined));
  await waitCycles(collector, 10);

  const stopped = await stopWith(collector.run, "SIGTERM");
  collector = undefined;
  expect(stopped.code).toBe(0);
  const db = new Database(join(out, "index.sqlite"));
  try {
    const t = `127.0.0.1:${client.port}>127.0.0.1:${srv.port}`;
    const mine = rowsOn(db, client.port)
      .map((r) => ({ tuple: tuple(r), firstState: r.first_state, end: r.end_reason }))
      .sort((a, b) => a.tuple.localeCompare(b.tuple));
    // The client, first seen connected (never in CLOSE, with no peer), and the server's end of it.
    const want = [t, reverse(t)].sort().map((tu) => ({ tuple: tu, end: "destroy" }));
    expect(mine.map(({ tuple, end }) => ({ tuple, end }))).toEqual(want);
    expect(mine.map((r) => r.firstState)).not.toContain(7);
  } finally {
    db.close();
  }
}, 30_000);
