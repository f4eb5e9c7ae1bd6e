import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket } from "bun";
import { closeEventLine, EventSocketServer, openEventLine } from "../../src/api/eventsocket.ts";
import { createMetrics } from "../../src/api/metrics.ts";
import { opened, tempDir } from "../index-db/helpers.ts";

let tmp: ReturnType<typeof tempDir>;
let path: string;
const cleanups: (() => unknown)[] = [];
beforeEach(() => {
  tmp = tempDir("tcpinfo-es-");
  path = join(tmp.dir, "events.sock");
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  tmp.cleanup();
});

interface TestClient {
  socket: Socket<undefined>;
  text: () => string;
  lines: () => string[];
  closed: Promise<void>;
}

async function connect(p: string, opts: { paused?: boolean } = {}): Promise<TestClient> {
  let buf = "";
  let onClose!: () => void;
  const closed = new Promise<void>((r) => (onClose = r));
  const decoder = new TextDecoder();
  const socket = await Bun.connect({
    unix: p,
    socket: {
      data(_s, d) {
        buf += decoder.decode(d, { stream: true });
      },
      close() {
        onClose();
      },
      error() {
        onClose();
      },
    },
  });
  if (opts.paused) socket.pause();
  cleanups.push(() => socket.terminate());
  return { socket, text: () => buf, lines: () => buf.split("\n").filter((l) => l !== ""), closed };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

const T = Date.UTC(2024, 4, 1, 12, 0, 3, 120);

describe("event lines", () => {
  test("open and close match M-Lab's FlowEvent JSON, cookie as exact signed 64-bit", () => {
    const c = opened(2n ** 63n + 7n, { uuid: "h_1_unsafe_8000000000000007", src: { ip: "192.0.2.1", port: 443 }, dst: { ip: "198.51.100.7", port: 50000 }, interface: 3 });
    expect(openEventLine({ ...c, firstSeen: T })).toBe(
      '{"Event":0,"Timestamp":"2024-05-01T12:00:03.12Z","UUID":"h_1_unsafe_8000000000000007",' +
        '"ID":{"SPort":443,"DPort":50000,"SrcIP":"192.0.2.1","DstIP":"198.51.100.7","Interface":3,"Cookie":-9223372036854775801}}\n',
    );
    expect(closeEventLine("h_1_unsafe_8000000000000007", T - 120)).toBe('{"Event":1,"Timestamp":"2024-05-01T12:00:03Z","UUID":"h_1_unsafe_8000000000000007","ID":null}\n');
  });

  test("small cookies stay positive; IPv4-mapped addresses print as Go prints them", () => {
    const c = opened(5n, { family: 6, src: { ip: "::ffff:192.0.2.1", port: 1 }, dst: { ip: "2001:db8::2", port: 2 } });
    const line = JSON.parse(openEventLine({ ...c, firstSeen: T })) as { ID: Record<string, unknown> };
    expect(line.ID).toEqual({ SPort: 1, DPort: 2, SrcIP: "192.0.2.1", DstIP: "2001:db8::2", Interface: 2, Cookie: 5 });
  });
});

describe("EventSocketServer", () => {
  test("two clients receive identical open/close lines", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const server = await EventSocketServer.start(path, { metrics });
    cleanups.push(() => server.stop());
    const a = await connect(path);
    const b = await connect(path);
    await until(() => server.clientCount === 2, "two clients");
    const conn = opened(2n ** 64n - 1n);
    server.open({ ...conn, firstSeen: T });
    server.close(conn.uuid, T + 1);
    const want = openEventLine({ ...conn, firstSeen: T }) + closeEventLine(conn.uuid, T + 1);
    await until(() => a.text().length >= want.length && b.text().length >= want.length, "both clients' lines");
    expect(a.text()).toBe(want);
    expect(b.text()).toBe(want);
    expect(a.text()).toContain('"Cookie":-1}');
    const text = await metrics.registry.metrics();
    expect(text).toContain('tcpinfo_flow_events_total{type="open"} 1');
    expect(text).toContain('tcpinfo_flow_events_total{type="close"} 1');
    expect(text).toContain("tcpinfo_eventsocket_clients 2");
  });

  test("a stuck client is disconnected once its queue overflows; open() stays fast; others keep receiving", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const maxQueueBytes = 256 * 1024;
    const server = await EventSocketServer.start(path, { metrics, maxQueueBytes });
    cleanups.push(() => server.stop());
    const stuck = await connect(path, { paused: true });
    const healthy = await connect(path);
    await until(() => server.clientCount === 2, "two clients");

    const conn = opened(1n);
    const lineBytes = Buffer.byteLength(openEventLine({ ...conn, firstSeen: T }));
    // Enough to fill the kernel's socket buffers several times over, then the queue.
    const events = 20_000;
    const times: number[] = [];
    for (let i = 0; i < events; i++) {
      const t0 = performance.now();
      server.open({ ...conn, firstSeen: T + i });
      times.push(performance.now() - t0);
      // Yield between bursts of 100 events, as a poll loop does between cycles, so the
      // healthy client's reads (and our drain) run.
      if (i % 100 === 99) await Bun.sleep(1);
    }
    await until(() => server.clientCount === 1, "the stuck client to be dropped");
    expect(await metrics.registry.metrics()).toContain("tcpinfo_eventsocket_dropped_clients_total 1");
    await until(() => healthy.lines().length === events, "the healthy client to get every event", 10_000);
    expect(new Set(healthy.lines()).size).toBe(events);

    times.sort((x, y) => x - y);
    const p50 = times[Math.floor(times.length / 2)];
    const max = times[times.length - 1];
    console.log(`eventsocket open(): p50 ${(p50 * 1000).toFixed(1)} µs, max ${max.toFixed(3)} ms over ${events} calls, ${lineBytes} B lines`);
    expect(max).toBeLessThan(100); // generous: blocking on the stuck reader would hang forever

    // The stuck client's connection was really closed: once it reads, it gets what the
    // kernel held, then EOF - far less than everything sent.
    stuck.socket.resume();
    await stuck.closed;
    expect(stuck.lines().length).toBeLessThan(events);
  });

  test("a new client first gets the open event of every connection open now, then live events", async () => {
    const server = await EventSocketServer.start(path, { maxQueueBytes: 4096 });
    cleanups.push(() => server.stop());
    // 200 open connections: their replay (~45 KB) is far more than the 4 KiB lag bound,
    // which applies to live events, not to what a client is owed on arrival.
    const conns = Array.from({ length: 203 }, (_, i) => opened(BigInt(1000 + i), { firstSeen: T + i, firstSeenSubMs: 123_456 }));
    for (const c of conns) server.open(c);
    for (const c of conns.slice(200)) server.close(c.uuid, T + 500, 7);
    await Bun.sleep(0); // the batched lines go out (to nobody) before the client comes
    const late = await connect(path);
    await until(() => server.clientCount === 1, "the late client");
    const live = opened(5000n, { firstSeen: T + 900 });
    server.open(live);
    server.close(conns[0].uuid, T + 901);
    const want = conns.slice(0, 200).map((c) => openEventLine(c)).join("") + openEventLine(live) + closeEventLine(conns[0].uuid, T + 901);
    await until(() => late.text().length >= want.length, "replay and live events", 10_000);
    expect(late.text()).toBe(want);
    // Open times keep their nanoseconds, as M-Lab's Go collector writes them.
    expect(late.lines()[0]).toContain('"Timestamp":"2024-05-01T12:00:03.120123456Z"');
    expect(server.openCount).toBe(200);
    // Once the replay is out, a client that stops reading is held to the bound again.
    late.socket.pause();
    for (let i = 0; i < 2000; i++) server.open(opened(BigInt(10_000 + i), { firstSeen: T }));
    await Bun.sleep(20);
    // Still connected: it is judged when the next events come, on what it left unread.
    expect(server.clientCount).toBe(1);
    server.open(opened(20_000n, { firstSeen: T }));
    await until(() => server.clientCount === 0, "the stalled client to be dropped");
  });

  test("one burst far over the bound does not drop a client that keeps reading; a stuck one goes at the next events", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const server = await EventSocketServer.start(path, { metrics, maxQueueBytes: 4096 });
    cleanups.push(() => server.stop());
    const stuck = await connect(path, { paused: true });
    const reader = await connect(path);
    await until(() => server.clientCount === 2, "two clients");
    // One cycle announcing 4,000 connections (~1 MB, 250 times the bound): one broadcast.
    const burst = Array.from({ length: 4000 }, (_, i) => opened(BigInt(1 + i), { firstSeen: T + i }));
    for (const c of burst) server.open(c);
    await until(() => reader.lines().length === burst.length, "the reader to get the whole burst", 10_000);
    expect(server.clientCount).toBe(2);
    // The next cycle: the reader has nothing unread, the stuck client ~1 MB.
    server.close(burst[0].uuid, T + 9000);
    await until(() => server.clientCount === 1, "the stuck client to be dropped");
    expect(await metrics.registry.metrics()).toContain("tcpinfo_eventsocket_dropped_clients_total 1");
    await until(() => reader.lines().length === burst.length + 1, "the reader to get the next event");
    expect(reader.lines().at(-1)).toBe(closeEventLine(burst[0].uuid, T + 9000).trimEnd());
  });

  test("a stale socket file (its server was killed) is replaced", async () => {
    // A process that listens and dies by SIGKILL leaves the socket file behind.
    const child = Bun.spawn([process.execPath, "-e", `Bun.listen({ unix: ${JSON.stringify(path)}, socket: { data() {} } }); process.kill(process.pid, "SIGKILL");`]);
    await child.exited;
    expect(lstatSync(path).isSocket()).toBe(true);
    await expect(Bun.connect({ unix: path, socket: { data() {} } })).rejects.toThrow();

    const server = await EventSocketServer.start(path);
    cleanups.push(() => server.stop());
    const c = await connect(path);
    await until(() => server.clientCount === 1, "a client on the new socket");
    server.close("u", T);
    await until(() => c.lines().length === 1, "an event through the new socket");
  });

  test("a live socket is not taken over, and a non-socket path is never deleted", async () => {
    const server = await EventSocketServer.start(path);
    cleanups.push(() => server.stop());
    await expect(EventSocketServer.start(path)).rejects.toThrow(/another process is serving/);
    const c = await connect(path);
    await until(() => server.clientCount === 1, "the first server still serving");

    const plain = join(tmp.dir, "not-a-socket");
    writeFileSync(plain, "keep me");
    await expect(EventSocketServer.start(plain)).rejects.toThrow(/not a socket/);
    expect(readFileSync(plain, "utf8")).toBe("keep me");
    c.socket.terminate();
  });

  test("stop() disconnects clients and removes the socket file", async () => {
    const server = await EventSocketServer.start(path);
    const c = await connect(path);
    await until(() => server.clientCount === 1, "a client");
    await server.stop();
    await c.closed;
    expect(existsSync(path)).toBe(false);
    // Sending after stop is harmless.
    server.close("x", T);
  });
});
