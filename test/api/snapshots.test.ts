import { expect, test } from "bun:test";
import { join } from "node:path";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { report, tempDir } from "../index-db/helpers.ts";
import { fakeSnapshot, seed, startFixture, WEB } from "./helpers.ts";

test("a file path in the index that leaves the output folder is an internal error, never followed", async () => {
  const tmp = tempDir();
  const idx = ConnectionIndex.open(join(tmp.dir, "i.sqlite"));
  seed(idx);
  idx.applyCycle(report({ files: [{ uuid: WEB.uuid, path: "../../etc/passwd", seq: 5, openedAt: 1, closedAt: null, records: 0 }] }));
  let called = false;
  const f = await startFixture({
    index: idx,
    readSnapshots: async function* () {
      called = true;
    },
  });
  try {
    const res = await f.get(`/connections/${WEB.uuid}/snapshots`);
    expect(res.status).toBe(500);
    expect(called).toBe(false);
    expect(f.logged.length).toBe(1);
  } finally {
    await f.close();
    tmp.cleanup();
  }
});

test("a reader failing mid-stream cuts the stream short and is logged", async () => {
  const f = await startFixture({
    readSnapshots: async function* () {
      yield fakeSnapshot(WEB.uuid, 0);
      throw new Error("corrupt zstd frame");
    },
  });
  try {
    // The reader may fail before or after the headers went out: the client sees a reset
    // connection, an erroring body, or a body that stops after the good line - never a
    // clean, complete stream.
    let outcome: string;
    try {
      const res = await f.get(`/connections/${WEB.uuid}/snapshots`);
      expect(res.status).toBe(200);
      const text = await res.text();
      outcome = `lines=${text.split("\n").filter(Boolean).length}`;
    } catch {
      outcome = "failed";
    }
    expect(["failed", "lines=1"]).toContain(outcome);
    expect(f.logged.some((m) => m.includes("reading archives failed"))).toBe(true);
  } finally {
    await f.close();
  }
});

test("snapshots are pulled as the client reads, and a client that hangs up stops the reader", async () => {
  let produced = 0;
  let finished = false;
  const f = await startFixture({
    readSnapshots: async function* () {
      try {
        for (let i = 0; i < 1_000_000; i++) {
          produced++;
          yield fakeSnapshot(WEB.uuid, i);
        }
      } finally {
        finished = true;
      }
    },
  });
  try {
    const ac = new AbortController();
    const res = await f.get(`/connections/${WEB.uuid}/snapshots`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await reader.cancel().catch(() => {});
    const end = Date.now() + 3000;
    while (!finished && Date.now() < end) await Bun.sleep(10);
    expect(finished).toBe(true);
    expect(produced).toBeLessThan(1_000_000);
  } finally {
    await f.close();
  }
});
