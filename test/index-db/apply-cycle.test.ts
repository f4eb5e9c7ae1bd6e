import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { closed, opened, progress, report, tempDir, uuidOf } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
let idx: ConnectionIndex;
beforeEach(() => {
  tmp = tempDir();
  idx = ConnectionIndex.open(join(tmp.dir, "index.sqlite"));
});
afterEach(async () => {
  await idx.close();
  tmp.cleanup();
});

describe("applyCycle", () => {
  test("opened, updated, closed and files land in one call", () => {
    const a = opened(0xa1n, { state: 2, firstSeen: 1000 });
    const b = opened(0xb2n, { family: 6, src: { ip: "2001:db8::1", port: 8080 }, dst: { ip: "2001:db8::2", port: 40000 }, firstSeen: 2000 });
    const r = idx.applyCycle(
      report({
        opened: [a, b],
        updated: [progress(a.uuid, { lastSeen: 1500, state: 1, bytesSent: 100n, bytesReceived: 200n, bytesAcked: 99n, snapshots: 3 })],
        closed: [closed(b.uuid, { lastSeen: 2500, state: 7, closedAt: 2600, reason: "vanished", snapshots: 1 })],
        files: [
          { uuid: a.uuid, path: "2023/11/14/a.00000.jsonl.zst", seq: 0, openedAt: 1000, closedAt: null, records: 3 },
          { uuid: b.uuid, path: "2023/11/14/b.00000.jsonl.zst", seq: 0, openedAt: 2000, closedAt: 2600, records: 1 },
        ],
      }),
    );
    expect(r.inserted).toBe(2);
    expect(r.missing).toBe(0);
    expect(r.seconds).toBeGreaterThan(0);
    expect(idx.rowCount).toBe(2);

    const ca = idx.getConnection(a.uuid)!;
    expect(ca).toMatchObject({
      uuid: a.uuid, cookie: 0xa1n, family: 4, src: a.src, dst: a.dst, interface: 2, uid: 1000, inode: 12345,
      firstSeen: 1000, lastSeen: 1500, closedAt: null, endReason: null, firstState: 2, lastState: 1,
      bytesSent: 100n, bytesReceived: 200n, bytesAcked: 99n, snapshots: 3,
    });
    expect(ca.files).toEqual([{ path: "2023/11/14/a.00000.jsonl.zst", seq: 0, openedAt: 1000, closedAt: null, records: 3 }]);

    const cb = idx.getConnection(b.uuid)!;
    expect(cb).toMatchObject({ family: 6, src: b.src, closedAt: 2600, endReason: "vanished", lastState: 7, lastSeen: 2500, snapshots: 1 });
    expect(cb.files[0].closedAt).toBe(2600);
  });

  test("file rows are upserted by (uuid, seq): record counts and closing update in place", () => {
    const a = opened(1n);
    const f = { uuid: a.uuid, path: "x/a.00000.jsonl.zst", seq: 0, openedAt: 1, closedAt: null, records: 1 };
    idx.applyCycle(report({ opened: [a], files: [f] }));
    idx.applyCycle(report({ files: [{ ...f, records: 7, closedAt: 99 }, { ...f, seq: 1, path: "y/a.00001.jsonl.zst", openedAt: 99, records: 0 }] }));
    expect(idx.getConnection(a.uuid)!.files).toEqual([
      { path: "x/a.00000.jsonl.zst", seq: 0, openedAt: 1, closedAt: 99, records: 7 },
      { path: "y/a.00001.jsonl.zst", seq: 1, openedAt: 99, closedAt: null, records: 0 },
    ]);
  });

  test("64-bit counters round-trip exactly, including values >= 2^63", () => {
    const big = 2n ** 63n + 5n;
    const max = 2n ** 64n - 1n;
    const justSafe = 2n ** 53n + 1n; // not representable as a double
    const a = opened(2n ** 64n - 2n); // cookie with the top bit set too
    idx.applyCycle(report({ opened: [a], updated: [progress(a.uuid, { bytesSent: big, bytesReceived: max, bytesAcked: justSafe })] }));
    const c = idx.getConnection(a.uuid)!;
    expect(c.cookie).toBe(2n ** 64n - 2n);
    expect(c.bytesSent).toBe(big);
    expect(c.bytesReceived).toBe(max);
    expect(c.bytesAcked).toBe(justSafe);
    expect(idx.queryConnections().connections[0].bytesSent).toBe(big);
  });

  test("a snapshot without tcp_info keeps the last known counters", () => {
    const a = opened(3n);
    idx.applyCycle(report({ opened: [a], updated: [progress(a.uuid, { bytesSent: 5n, bytesReceived: 6n, bytesAcked: 7n })] }));
    idx.applyCycle(report({ updated: [progress(a.uuid, { bytesSent: null, bytesReceived: null, bytesAcked: null, snapshots: 9 })] }));
    // The snapshot count is what the connection's files hold (none here), never the reported one.
    expect(idx.getConnection(a.uuid)).toMatchObject({ bytesSent: 5n, bytesReceived: 6n, bytesAcked: 7n, snapshots: 0 });
  });

  test("counters never set read back as null", () => {
    const a = opened(4n);
    idx.applyCycle(report({ opened: [a] }));
    expect(idx.getConnection(a.uuid)).toMatchObject({ bytesSent: null, bytesReceived: null, bytesAcked: null, snapshots: 0 });
  });

  test("updates and closes for unknown uuids are counted as missing", () => {
    const r = idx.applyCycle(report({ updated: [progress("nope")], closed: [closed("nada")] }));
    expect(r.missing).toBe(2);
    expect(idx.rowCount).toBe(0);
  });

  test("the cycle is one transaction: a failing entry leaves nothing of it", () => {
    const a = opened(5n);
    const bad = { ...closed(a.uuid), reason: "exploded" } as unknown as ReturnType<typeof closed>;
    expect(() => idx.applyCycle(report({ opened: [a], closed: [bad] }))).toThrow();
    expect(idx.getConnection(a.uuid)).toBeNull();
    expect(idx.rowCount).toBe(0);
  });

  test("a connection opened again (restarted collector) is reopened, not duplicated", () => {
    const a = opened(6n, { firstSeen: 100 });
    idx.applyCycle(report({ opened: [a], closed: [closed(a.uuid, { closedAt: 200, lastSeen: 150, reason: "restart" })] }));
    const r = idx.applyCycle(report({ opened: [{ ...a, firstSeen: 300, state: 8 }] }));
    expect(r).toMatchObject({ inserted: 0, reopened: 1 });
    expect(idx.rowCount).toBe(1);
    expect(idx.getConnection(a.uuid)).toMatchObject({ firstSeen: 100, lastSeen: 300, closedAt: null, endReason: null, lastState: 8 });
  });

  test("uuids are exactly what the collector gave (cookie text is 16 upper hex)", () => {
    const a = opened(0xabcn);
    idx.applyCycle(report({ opened: [a] }));
    expect(idx.db.query("SELECT cookie FROM connections").get()).toEqual({ cookie: "0000000000000ABC" });
    expect(idx.getConnection(uuidOf(0xabcn))?.cookie).toBe(0xabcn);
  });

  test("applyCycles applies consecutive reports in order, in one transaction", () => {
    const a = opened(7n, { firstSeen: 10 });
    const r = idx.applyCycles([
      report({ opened: [a] }),
      report({ updated: [progress(a.uuid, { lastSeen: 20, snapshots: 1, bytesSent: 1n })] }),
      report({ updated: [progress(a.uuid, { lastSeen: 30, snapshots: 2, bytesSent: 2n })], files: [{ uuid: a.uuid, path: "p/a0", seq: 0, openedAt: 20, closedAt: 30, records: 2 }] }),
      report({ closed: [closed(a.uuid, { lastSeen: 40, closedAt: 41, snapshots: 3, bytesSent: 3n })], files: [{ uuid: a.uuid, path: "p/a1", seq: 1, openedAt: 30, closedAt: 41, records: 1 }] }),
    ]);
    expect(r).toMatchObject({ inserted: 1, reopened: 0, missing: 0 });
    // The count is the sum of its files' records: what was written, across files.
    expect(idx.getConnection(a.uuid)).toMatchObject({ lastSeen: 40, closedAt: 41, snapshots: 3, bytesSent: 3n });

    const b = opened(8n);
    expect(() => idx.applyCycles([report({ opened: [b] }), report({ closed: [{ ...closed(b.uuid), reason: "x" as "destroy" }] })])).toThrow();
    expect(idx.getConnection(b.uuid)).toBeNull();
    expect(idx.rowCount).toBe(1);
  });
});
