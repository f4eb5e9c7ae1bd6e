import { expect, test } from "bun:test";
import { unlinkSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { ReadSnapshots } from "../../src/api/routes.ts";
import { readSnapshots } from "../../src/archive/decode-entry.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { report, tempDir } from "../index-db/helpers.ts";
import { ARCHIVE_FIXTURE_SNAPSHOTS, fakeSnapshot, seed, startFixture, T0, WEB, writeArchives } from "./helpers.ts";

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

/** An index whose WEB connection has `count` real archive files on disk (seq 0..count-1), read by the real reader. */
async function realArchives(count: number, wrap: (read: ReadSnapshots) => ReadSnapshots = (r) => r) {
  const tmp = tempDir();
  const idx = ConnectionIndex.open(join(tmp.dir, "i.sqlite"));
  idx.applyCycle(report({ opened: [WEB] }));
  const paths = Array.from({ length: count }, (_, seq) => `2024/05/01/${WEB.uuid}.${String(seq).padStart(5, "0")}.jsonl.zst`);
  idx.applyCycle(report({ files: paths.map((path, seq) => ({ uuid: WEB.uuid, path, seq, openedAt: T0 + seq, closedAt: null, records: ARCHIVE_FIXTURE_SNAPSHOTS })) }));
  const opened: string[] = [];
  const f = await startFixture({
    index: idx,
    readSnapshots: wrap((files) => {
      opened.push(...files);
      return readSnapshots(files);
    }),
  });
  writeArchives(f.outputDir, paths);
  return {
    f,
    opened,
    abs: paths.map((p) => join(f.outputDir, p)),
    async close() {
      await f.close();
      tmp.cleanup();
    },
  };
}

const lineCount = (text: string) => text.split("\n").filter(Boolean).length;

test("410 Gone with a JSON error, before any body byte, when every archive of a known connection was deleted", async () => {
  const r = await realArchives(2);
  try {
    for (const p of r.abs) unlinkSync(p);
    const res = await r.f.get(`/connections/${WEB.uuid}/snapshots`);
    expect(res.status).toBe(410);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-missing-files")).toBe("2");
    const body = (await res.json()) as { error: string };
    expect(body.error).toContain("removed");
    expect(r.opened).toEqual([]);
    expect(r.f.logged).toEqual([]);
    // The connection itself is still known, and an unknown one is still a 404.
    expect((await r.f.get(`/connections/${WEB.uuid}`)).status).toBe(200);
    expect((await r.f.get("/connections/nope/snapshots")).status).toBe(404);
  } finally {
    await r.close();
  }
});

test("with some archives deleted, the rest stream and x-missing-files counts the others", async () => {
  const r = await realArchives(3);
  try {
    unlinkSync(r.abs[1]);
    const res = await r.f.get(`/connections/${WEB.uuid}/snapshots`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-missing-files")).toBe("1");
    expect(lineCount(await res.text())).toBe(2 * ARCHIVE_FIXTURE_SNAPSHOTS);
    expect(r.opened).toEqual([r.abs[0], r.abs[2]]);
    expect(r.f.logged).toEqual([]);
  } finally {
    await r.close();
  }
});

test("an archive deleted while earlier ones stream is skipped without an error", async () => {
  // The uploader removes the second file just as the stream reaches it.
  const r = await realArchives(2, (read) => (files) => {
    if (files[0].endsWith(".00001.jsonl.zst")) unlinkSync(files[0]);
    return read(files);
  });
  try {
    const res = await r.f.get(`/connections/${WEB.uuid}/snapshots`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-missing-files")).toBe("0");
    expect(lineCount(await res.text())).toBe(ARCHIVE_FIXTURE_SNAPSHOTS);
    expect(r.opened).toEqual(r.abs);
    expect(r.f.logged).toEqual([]);
  } finally {
    await r.close();
  }
});

/** A raw HTTP/1.1 client that reads at least `bytes` bytes of the response, then drops the connection. */
function hangUpAfter(port: number, path: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const sock = connect(port, "127.0.0.1", () => sock.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`));
    sock.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= bytes) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on("error", reject);
    sock.on("end", () => reject(new Error(`response ended after ${got} bytes`)));
  });
}

test("clients hanging up mid-stream log nothing, stop the reading, and the server keeps serving", async () => {
  const r = await realArchives(40);
  try {
    const path = `/connections/${WEB.uuid}/snapshots`;
    for (let i = 0; i < 8; i++) await hangUpAfter(r.f.server.port, path, 1 + i * 150_000);
    const ac = new AbortController();
    const res = await r.f.get(path, { signal: ac.signal });
    await res.body!.getReader().read();
    ac.abort();
    await Bun.sleep(300);
    expect(r.f.logged).toEqual([]);
    // Nine streams were cut early: far fewer files were opened than nine full reads would.
    expect(r.opened.length).toBeLessThan(4 * 40);
    const full = await r.f.get(path);
    expect(full.status).toBe(200);
    expect(lineCount(await full.text())).toBe(40 * ARCHIVE_FIXTURE_SNAPSHOTS);
    expect(r.f.logged).toEqual([]);
  } finally {
    await r.close();
  }
});
