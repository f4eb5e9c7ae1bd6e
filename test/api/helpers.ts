// A real index file with a few known connections, and a real HTTP server on it.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Snapshot } from "../../src/diag/snapshot.ts";
import { startApiServer, type ApiServer } from "../../src/api/http.ts";
import { createMetrics, type CollectorMetrics } from "../../src/api/metrics.ts";
import type { ReadSnapshots } from "../../src/api/routes.ts";
import { createStatus, type CollectorStatus } from "../../src/api/status.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { closed, opened, progress, report, tempDir } from "../index-db/helpers.ts";

export const BIG = 2n ** 63n + 5n;
export const T0 = Date.UTC(2024, 4, 1, 12, 0, 0); // 2024-05-01T12:00:00Z

/** web: 443 server side, v4, open, huge counters; ssh: v6, closed; cli: v4 client to port 80. */
export const WEB = opened(0xf00dn, { src: { ip: "192.0.2.1", port: 443 }, dst: { ip: "198.51.100.7", port: 50000 }, firstSeen: T0 });
export const SSH = opened(2n ** 63n + 0x22n, {
  family: 6,
  src: { ip: "2001:db8::1", port: 22 },
  dst: { ip: "2001:db8::99", port: 40022 },
  firstSeen: T0 + 1000,
});
export const CLI = opened(0xc1n, { src: { ip: "192.0.2.1", port: 41000 }, dst: { ip: "203.0.113.5", port: 80 }, firstSeen: T0 + 2000 });

export function seed(idx: ConnectionIndex): void {
  idx.applyCycle(
    report({
      opened: [WEB, SSH, CLI],
      updated: [progress(WEB.uuid, { lastSeen: T0 + 5000, bytesSent: BIG, bytesReceived: 7n, bytesAcked: BIG - 1n, snapshots: 4 })],
      closed: [closed(SSH.uuid, { lastSeen: T0 + 3000, closedAt: T0 + 3120, reason: "destroy", state: 7, snapshots: 2 })],
      files: [
        { uuid: WEB.uuid, path: "2024/05/01/web.00001.jsonl.zst", seq: 1, openedAt: T0 + 600_000, closedAt: null, records: 1 },
        { uuid: WEB.uuid, path: "2024/05/01/web.00000.jsonl.zst", seq: 0, openedAt: T0, closedAt: T0 + 600_000, records: 3 },
      ],
    }),
  );
}

/** A real archive (M-Lab's, 150 snapshots), copied wherever a test needs archive files. */
export const ARCHIVE_FIXTURE = join(import.meta.dir, "../fixtures/ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");
export const ARCHIVE_FIXTURE_SNAPSHOTS = 150;

/** Puts a copy of the real archive at each path (relative to outputDir). */
export function writeArchives(outputDir: string, paths: string[]): void {
  for (const rel of paths) {
    const abs = join(outputDir, rel);
    mkdirSync(dirname(abs), { recursive: true });
    copyFileSync(ARCHIVE_FIXTURE, abs);
  }
}

export interface Fixture {
  dir: string;
  outputDir: string;
  index: ConnectionIndex;
  server: ApiServer;
  metrics: CollectorMetrics;
  status: CollectorStatus;
  snapshotCalls: string[][];
  /** What the API logged as errors: the message, ": ", the error's message. */
  logged: string[];
  get(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export function fakeSnapshot(uuid: string, i: number): Snapshot {
  return {
    timestamp: new Date(T0 + i).toISOString(),
    cookie: uuid.slice(-16),
    uuid,
    family: 4,
    state: "ESTABLISHED",
    src: WEB.src,
    dst: WEB.dst,
    interface: 2,
    uid: 0,
    inode: 1,
    timer: 0,
    retrans: 0,
    expires: 0,
    rqueue: 0,
    wqueue: 0,
    cgroupId: BIG,
  };
}

export async function startFixture(options: { readSnapshots?: ReadSnapshots; index?: ConnectionIndex; staleAfterMs?: number } = {}): Promise<Fixture> {
  const tmp = tempDir("tcpinfo-api-");
  const index = options.index ?? ConnectionIndex.open(join(tmp.dir, "index.sqlite"));
  if (!options.index) seed(index);
  const metrics = createMetrics();
  const status = createStatus();
  const snapshotCalls: string[][] = [];
  const logged: string[] = [];
  const outputDir = join(tmp.dir, "out");
  // The seeded files exist on disk: the API checks before streaming them.
  if (!options.index) writeArchives(outputDir, index.getConnection(WEB.uuid)?.files.map((f) => f.path) ?? []);
  const readSnapshots: ReadSnapshots =
    options.readSnapshots ??
    async function* (paths) {
      snapshotCalls.push(paths);
      for (let i = 0; i < paths.length; i++) yield fakeSnapshot(WEB.uuid, i);
    };
  const server = startApiServer({
    listen: "127.0.0.1:0",
    index,
    outputDir,
    readSnapshots,
    metrics,
    status,
    staleAfterMs: options.staleAfterMs,
    logError: (m, e) => logged.push(`${m}: ${e instanceof Error ? e.message : String(e)}`),
  });
  return {
    dir: tmp.dir,
    outputDir,
    index,
    server,
    metrics,
    status,
    snapshotCalls,
    logged,
    get: (path, init) => fetch(`${server.url}${path}`, init),
    async close() {
      await server.stop();
      await index.close();
      tmp.cleanup();
    },
  };
}
