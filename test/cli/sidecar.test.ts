import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { closeEventLine, EventSocketServer, openEventLine } from "../../src/api/eventsocket.ts";
import { OutputError, runSidecar } from "../../src/cli/sidecar.ts";
import { opened, tempDir } from "../index-db/helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir("tcpinfo-sidecar-");
});
afterEach(() => tmp.cleanup());

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

test("the sidecar prints every event line and reconnects when the server restarts", async () => {
  const path = join(tmp.dir, "events.sock");
  const out: string[] = [];
  const logs: string[] = [];
  const stop = new AbortController();
  // Started before any server exists: it must keep retrying.
  const done = runSidecar(path, { write: (s) => out.push(s) }, { signal: stop.signal, handleSigint: false, minBackoffMs: 10, maxBackoffMs: 40, log: (m) => logs.push(m) });

  await Bun.sleep(60);
  expect(logs.some((l) => l.startsWith("cannot connect"))).toBe(true);

  let server = await EventSocketServer.start(path);
  await until(() => server.clientCount === 1, "the sidecar to connect");
  const a = opened(2n ** 63n + 1n);
  server.open({ ...a, firstSeen: 1000 });
  await until(() => out.length === 1, "the first event");
  expect(out[0]).toBe(openEventLine({ ...a, firstSeen: 1000 }));

  await server.stop();
  server = await EventSocketServer.start(path);
  await until(() => server.clientCount === 1, "the sidecar to reconnect");
  server.close(a.uuid, 2000);
  await until(() => out.length === 2, "the event after the restart");
  expect(out[1]).toBe(closeEventLine(a.uuid, 2000));

  stop.abort();
  await done;
  await until(() => server.clientCount === 0, "the sidecar to hang up");
  await server.stop();
  expect(logs.filter((l) => l.startsWith("connected")).length).toBe(2);
});

test("SIGINT stops the sidecar", async () => {
  const path = join(tmp.dir, "events.sock");
  const done = runSidecar(path, { write: () => {} }, { minBackoffMs: 10, log: () => {} });
  await Bun.sleep(30);
  process.emit("SIGINT");
  const result = await Promise.race([done.then(() => "stopped"), Bun.sleep(2000).then(() => "still running")]);
  expect(result).toBe("stopped");
  expect(process.listenerCount("SIGINT")).toBe(0);
});

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: write failed`), { code });
}

for (const code of ["ENOSPC", "EPIPE"]) {
  test(`a write that fails (${code}) stops the sidecar with OutputError, without reconnecting`, async () => {
    const path = join(tmp.dir, "events.sock");
    const server = await EventSocketServer.start(path);
    const logs: string[] = [];
    let writes = 0;
    const sink = {
      write: () => {
        writes++;
        throw errnoError(code);
      },
    };
    const done = runSidecar(path, sink, { handleSigint: false, minBackoffMs: 10, maxBackoffMs: 40, log: (m) => logs.push(m) });
    try {
      await until(() => server.clientCount === 1, "the sidecar to connect");
      server.open({ ...opened(7n), firstSeen: 1000 });
      const err = await done.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(OutputError);
      expect((err as OutputError).readerGone).toBe(code === "EPIPE");
      expect((err as OutputError).message).toContain(code);
      expect(writes).toBe(1);
      await until(() => server.clientCount === 0, "the sidecar to hang up");
      expect(logs.filter((l) => l.startsWith("connected")).length).toBe(1);
      expect(logs.some((l) => l.includes("reconnecting"))).toBe(false);
    } finally {
      await server.stop();
    }
  });
}

test("a flush that rejects stops the sidecar too", async () => {
  const path = join(tmp.dir, "events.sock");
  const server = await EventSocketServer.start(path);
  const sink = { write: () => {}, flush: () => Promise.reject(errnoError("EIO")) };
  const done = runSidecar(path, sink, { handleSigint: false, log: () => {} });
  try {
    await until(() => server.clientCount === 1, "the sidecar to connect");
    server.open({ ...opened(8n), firstSeen: 1000 });
    const err = await done.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).readerGone).toBe(false);
  } finally {
    await server.stop();
  }
});
