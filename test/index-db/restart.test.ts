import { describe, expect, test } from "bun:test";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { closed, opened, report, indexPathPerTest } from "./helpers.ts";

const tmpIndex = indexPathPerTest();

describe("restart hand-over", () => {
  test("openConnections lists the unclosed ones with cookie, first_seen and highest file seq", async () => {
    const idx = ConnectionIndex.open(tmpIndex.path);
    const a = opened(2n ** 63n + 1n, { firstSeen: 10 });
    const b = opened(2n, { firstSeen: 20 });
    const c = opened(3n, { firstSeen: 30 });
    idx.applyCycle(
      report({
        opened: [a, b, c],
        closed: [closed(c.uuid)],
        files: [
          { uuid: a.uuid, path: "p/a0", seq: 0, openedAt: 10, closedAt: 15, records: 1 },
          { uuid: a.uuid, path: "p/a1", seq: 1, openedAt: 15, closedAt: null, records: 1 },
        ],
      }),
    );
    await idx.close();

    const again = ConnectionIndex.open(tmpIndex.path);
    expect(again.openConnections()).toEqual([
      { uuid: a.uuid, cookie: 2n ** 63n + 1n, firstSeen: 10, snapshots: 2, highestSeq: 1, highestPath: "p/a1" },
      { uuid: b.uuid, cookie: 2n, firstSeen: 20, snapshots: 0, highestSeq: null, highestPath: null },
    ]);

    expect(again.closeConnections([a.uuid, b.uuid, c.uuid, "unknown"], 500, "restart")).toBe(2);
    expect(again.openConnections()).toEqual([]);
    const ca = again.getConnection(a.uuid)!;
    expect(ca).toMatchObject({ closedAt: 500, endReason: "restart" });
    // Its open file is closed with it; the already closed one keeps its time.
    expect(ca.files.map((f) => f.closedAt)).toEqual([15, 500]);
    // Already closed connections are left alone.
    expect(again.getConnection(c.uuid)).toMatchObject({ endReason: "destroy", closedAt: 1_700_000_002_000 });
    await again.close();
  });

  test("closeConnections rejects an invalid reason without closing anything", async () => {
    const idx = ConnectionIndex.open(tmpIndex.path);
    const a = opened(1n);
    idx.applyCycle(report({ opened: [a] }));
    expect(() => idx.closeConnections([a.uuid], 5, "bogus" as "restart")).toThrow();
    expect(idx.openConnections().map((o) => o.uuid)).toEqual([a.uuid]);
    await idx.close();
  });
});
