// Loopback load for collector tests: a few long-lived connections that send data all the
// time, and short connections opened and closed all the time. Bounded in count and in
// time; close() ends everything it opened.
import { connect, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";

export interface LoadOptions {
  host?: "127.0.0.1" | "::1";
  /** Long-lived connections, open until close(). */
  longLived?: number;
  /** Each long-lived client writes this many bytes every `tickMs`. */
  bytesPerTick?: number;
  /** Short connections opened (each writes a little and closes) every `tickMs`. */
  shortPerTick?: number;
  tickMs?: number;
  /** Short connections made in all, at most. */
  maxShort?: number;
  /** After this long the load stops by itself (long-lived connections stay open, idle). */
  maxMs?: number;
}

/** One end of a connection, as the index stores it: src is the socket's own address. */
export interface SocketTuple {
  srcPort: number;
  dstPort: number;
}

export interface Load {
  host: string;
  /** The listening port every connection goes to. */
  port: number;
  /** Long-lived clients and their accepted server-side sockets, in the same order. */
  longClients: Socket[];
  longServers: Socket[];
  /** Both ends of every long-lived connection (two sockets each). */
  longTuples(): SocketTuple[];
  /** Short connections started and finished (closed by both sides) so far. */
  shortStarted: number;
  shortFinished: number;
  /** Bytes the server has read. */
  received: number;
  /** Stops writing and making short connections; long-lived connections stay open. */
  pause(): void;
  /** Closes every socket and the server. */
  close(): Promise<void>;
}

export async function startLoad(opts: LoadOptions = {}): Promise<Load> {
  const host = opts.host ?? "127.0.0.1";
  const longLived = opts.longLived ?? 3;
  const bytesPerTick = opts.bytesPerTick ?? 2048;
  const shortPerTick = opts.shortPerTick ?? 1;
  const tickMs = opts.tickMs ?? 20;
  const maxShort = opts.maxShort ?? 2000;
  const maxMs = opts.maxMs ?? 60_000;

  const all = new Set<Socket>();
  const track = (s: Socket) => {
    all.add(s);
    s.on("error", () => {});
    s.on("close", () => all.delete(s));
  };
  let longPending = longLived;
  const longServers: Socket[] = [];
  let onLongAccepted: (() => void) | null = null;
  const load: Load = {
    host,
    port: 0,
    longClients: [],
    longServers,
    longTuples() {
      const out: SocketTuple[] = [];
      for (const c of load.longClients) out.push({ srcPort: c.localPort!, dstPort: c.remotePort! });
      for (const s of load.longServers) out.push({ srcPort: s.localPort!, dstPort: s.remotePort! });
      return out;
    },
    shortStarted: 0,
    shortFinished: 0,
    received: 0,
    pause,
    close,
  };

  const server: Server = createServer((s) => {
    track(s);
    if (longPending > 0) {
      longPending--;
      longServers.push(s);
      if (longPending === 0) onLongAccepted?.();
    }
    s.on("data", (d: Buffer) => (load.received += d.length));
    s.on("end", () => s.end());
  });
  server.listen(0, host);
  await once(server, "listening");
  load.port = (server.address() as { port: number }).port;

  // Long-lived connections first, one at a time, so the server's first accepts are theirs.
  const accepted = new Promise<void>((r) => (onLongAccepted = r));
  for (let i = 0; i < longLived; i++) {
    const c = connect(load.port, host);
    track(c);
    await once(c, "connect");
    load.longClients.push(c);
  }
  if (longLived > 0) await accepted;

  const payload = Buffer.alloc(bytesPerTick, 0x61);
  const started = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - started > maxMs) return pause();
    for (const c of load.longClients) if (c.writableLength < 1 << 20) c.write(payload);
    for (let i = 0; i < shortPerTick && load.shortStarted < maxShort; i++) {
      load.shortStarted++;
      const s = connect(load.port, host);
      track(s);
      s.on("connect", () => s.end(Buffer.alloc(100, 0x62)));
      s.on("close", () => load.shortFinished++);
      // The server answers the FIN with its own; the client is done once both are closed.
      s.resume();
    }
  }, tickMs);

  function pause(): void {
    clearInterval(timer);
  }

  async function close(): Promise<void> {
    pause();
    for (const s of all) s.destroy();
    server.close();
    await once(server, "close").catch(() => {});
  }

  return load;
}
