// Shared fixtures: a fresh index file in its own tmp dir, and report builders.
import { afterEach, beforeEach, expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClosedConnection, ConnectionProgress, CycleReport, OpenedConnection } from "../../src/model/report.ts";
import type { ConnectionFilter, ConnectionIndex } from "../../src/index-db/index.ts";

export function tempDir(prefix = "tcpinfo-index-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh index file path for every test, its folder removed after the test. */
export function indexPathPerTest(): { readonly path: string } {
  let tmp: ReturnType<typeof tempDir> | null = null;
  const holder = { path: "" };
  beforeEach(() => {
    tmp = tempDir();
    holder.path = join(tmp.dir, "index.sqlite");
  });
  afterEach(() => tmp?.cleanup());
  return holder;
}

export const PREFIX = "host_1700000000_unsafe";

export function uuidOf(cookie: bigint): string {
  return `${PREFIX}_${cookie.toString(16).toUpperCase().padStart(16, "0")}`;
}

export function opened(cookie: bigint, over: Partial<OpenedConnection> = {}): OpenedConnection {
  return {
    uuid: uuidOf(cookie),
    cookie,
    family: 4,
    src: { ip: "192.0.2.1", port: 443 },
    dst: { ip: "198.51.100.7", port: 50000 },
    interface: 2,
    uid: 1000,
    inode: 12345,
    firstSeen: 1_700_000_000_000,
    state: 1,
    ...over,
  };
}

export function progress(uuid: string, over: Partial<ConnectionProgress> = {}): ConnectionProgress {
  return { uuid, lastSeen: 1_700_000_001_000, state: 1, bytesSent: 10n, bytesReceived: 20n, bytesAcked: 9n, snapshots: 2, ...over };
}

export function closed(uuid: string, over: Partial<ClosedConnection> = {}): ClosedConnection {
  return { ...progress(uuid), closedAt: 1_700_000_002_000, reason: "destroy", ...over };
}

export function report(over: Partial<CycleReport> = {}): CycleReport {
  return { cycle: 1, time: 1_700_000_000_000, opened: [], updated: [], closed: [], files: [], ...over };
}

/** Every page of a listing, following `next`, concatenated; no page longer than its limit. */
export function allPages(idx: ConnectionIndex, f: ConnectionFilter): string[] {
  const out: string[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = idx.queryConnections({ ...f, cursor });
    expect(page.connections.length).toBeLessThanOrEqual(f.limit ?? 100);
    out.push(...page.connections.map((c) => c.uuid));
    if (!page.next) return out;
    cursor = page.next;
  }
  throw new Error("pagination does not end");
}
