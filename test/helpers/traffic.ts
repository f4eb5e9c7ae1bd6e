// Loopback traffic that keeps a collector busy: `busy` connections whose clients send
// data continuously (every poll sees their counters change, so every poll archives a
// line for both ends), plus churn: a short connection opened and closed every few ms.
// stop() closes everything it made.
import { connect, createServer, type Socket } from "node:net";
import { once } from "node:events";

export interface TrafficOptions {
  busy?: number;
  /** Bytes each busy client writes per tick. */
  chunk?: number;
  tickMs?: number;
  /** A short connection every this many ms; 0 for none. */
  churnEveryMs?: number;
}

export interface Traffic {
  port: number;
  /** Short connections made so far. */
  churned(): number;
  stop(): Promise<void>;
}

export async function startTraffic(opts: TrafficOptions = {}): Promise<Traffic> {
  const { busy = 8, chunk = 2048, tickMs = 5, churnEveryMs = 25 } = opts;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    return s;
  };
  const server = createServer((s) => {
    track(s);
    s.resume();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;

  const clients: Socket[] = [];
  for (let i = 0; i < busy; i++) {
    const c = track(connect(port, "127.0.0.1"));
    await once(c, "connect");
    clients.push(c);
  }
  const payload = Buffer.alloc(chunk, 0x62);
  const sender = setInterval(() => {
    for (const c of clients) if (!c.destroyed && c.writableLength < 65536) c.write(payload);
  }, tickMs);
  let churned = 0;
  const churner =
    churnEveryMs > 0
      ? setInterval(() => {
          const c = track(connect(port, "127.0.0.1"));
          c.on("connect", () => {
            churned++;
            c.write("x");
            c.end();
          });
        }, churnEveryMs)
      : null;

  return {
    port,
    churned: () => churned,
    async stop() {
      clearInterval(sender);
      if (churner !== null) clearInterval(churner);
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close").catch(() => {});
    },
  };
}
