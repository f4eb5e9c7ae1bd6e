// Real TCP connections on loopback for tests: a server that reads everything, clients
// that can send data. Everything opened here is closed by close().
import { createServer, connect, type Server, type Socket } from "node:net";
import { once } from "node:events";

export interface LoopbackPair {
  server: Server;
  port: number;
  clients: Socket[];
  /** Server-side sockets, in accept order. */
  accepted: Socket[];
  received: number;
  send(client: Socket, bytes: number): Promise<void>;
  close(): Promise<void>;
}

export async function loopbackPair(host: "127.0.0.1" | "::1", count = 1): Promise<LoopbackPair> {
  const accepted: Socket[] = [];
  const pair: LoopbackPair = {
    server: null as unknown as Server,
    port: 0,
    clients: [],
    accepted,
    received: 0,
    async send(client, bytes) {
      const target = pair.received + bytes;
      client.write(Buffer.alloc(bytes, 0x61));
      while (pair.received < target) await Bun.sleep(5);
    },
    async close() {
      for (const c of pair.clients) c.destroy();
      for (const s of accepted) s.destroy();
      pair.server.close();
      await once(pair.server, "close").catch(() => {});
    },
  };
  pair.server = createServer((s) => {
    accepted.push(s);
    s.on("data", (d: Buffer) => (pair.received += d.length));
    s.on("error", () => {});
  });
  pair.server.listen(0, host);
  await once(pair.server, "listening");
  pair.port = (pair.server.address() as { port: number }).port;
  for (let i = 0; i < count; i++) {
    const c = connect(pair.port, host);
    c.on("error", () => {});
    await once(c, "connect");
    pair.clients.push(c);
  }
  while (accepted.length < count) await Bun.sleep(2);
  return pair;
}
