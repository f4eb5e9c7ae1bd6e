// M-Lab's eventsocket: a unix stream socket on which every client receives one JSON line
// per flow event (tcp-info/eventsocket: FlowEvent{Event, Timestamp, UUID, ID}).
//   open  {"Event":0,"Timestamp":"…","UUID":"…","ID":{"SPort":n,"DPort":n,"SrcIP":"…","DstIP":"…","Interface":n,"Cookie":n}}
//   close {"Event":1,"Timestamp":"…","UUID":"…","ID":null}
// Unlike M-Lab's (which writes to each client synchronously under a lock, so one stuck
// sidecar stalls the collector), sending never waits: each client has a byte queue, and a
// client that still has more than the bound unread when new events come is disconnected.
import { lstatSync, unlinkSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import type { OpenedConnection } from "../model/report.ts";
import { cookieSigned } from "../diag/sock-id.ts";
import type { CollectorMetrics } from "./metrics.ts";
import { formatTimeMsNs } from "../archive/time.ts";
import { listenPrivately, removeStaleSocket } from "./unix-socket.ts";

/** FlowEvent.Event values (eventsocket.TCPEvent). */
export const enum TcpEvent {
  Open = 0,
  Close = 1,
}

export const DEFAULT_MAX_QUEUE_BYTES = 1 << 20;
/** Only the collector's user may connect unless the operator says otherwise (--eventsocket-mode). */
export const DEFAULT_SOCKET_MODE = 0o600;

export interface EventSocketOptions {
  /**
   * Bytes of earlier events a client may leave unread when new events come before it is
   * disconnected (so a queue holds at most this plus one cycle's events). Default 1 MiB.
   */
  maxQueueBytes?: number;
  /** Permission bits of the socket file (who may connect). Default 0600. */
  mode?: number;
  metrics?: Pick<CollectorMetrics, "flowEvents" | "eventsocketClients" | "eventsocketDroppedClients">;
  log?: (message: string) => void;
}

interface Client {
  /** Bytes the kernel has not taken yet, oldest first (views into shared event buffers). */
  queue: Uint8Array[];
  queued: number;
  /** Bytes it may lag: the bound, plus what is left of its replay until the queue first empties. */
  allowance: number;
  dropped: boolean;
}

/**
 * Go's net.IP.String() prints IPv4-mapped IPv6 addresses as dotted quads, and M-Lab's
 * sidecars see that form; the collector's canonical text is RFC 5952 (::ffff:a.b.c.d).
 */
function goIPString(ip: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(ip);
  return m ? m[1] : ip;
}

/** The open event's JSON line, keys in M-Lab's order, Cookie as an exact signed 64-bit integer. */
export function openEventLine(conn: OpenedConnection): string {
  const time = formatTimeMsNs(conn.firstSeen, conn.firstSeenSubMs ?? 0);
  return (
    `{"Event":${TcpEvent.Open},"Timestamp":"${time}","UUID":${JSON.stringify(conn.uuid)},` +
    `"ID":{"SPort":${conn.src.port},"DPort":${conn.dst.port},"SrcIP":${JSON.stringify(goIPString(conn.src.ip))},` +
    `"DstIP":${JSON.stringify(goIPString(conn.dst.ip))},"Interface":${conn.interface},"Cookie":${cookieSigned(conn.cookie).toString()}}}\n`
  );
}

/** The close event's line; `timeMs` and `subMs` (ns below the ms) are when the connection ended. */
export function closeEventLine(uuid: string, timeMs: number, subMs = 0): string {
  return `{"Event":${TcpEvent.Close},"Timestamp":"${formatTimeMsNs(timeMs, subMs)}","UUID":${JSON.stringify(uuid)},"ID":null}\n`;
}

export class EventSocketServer {
  private readonly clients = new Set<Socket<Client>>();
  private readonly encoder = new TextEncoder();
  private stopped = false;
  /** Lines announced in the current tick, sent together (one write per client) in a microtask. */
  private pendingLines = "";
  /** The open event of every connection open now, replayed to each new client before live events. */
  private readonly openLines = new Map<string, string>();

  private constructor(
    readonly path: string,
    private readonly listener: UnixSocketListener<Client>,
    private readonly maxQueueBytes: number,
    private readonly options: EventSocketOptions,
  ) {}

  /** Removes a stale socket file at `path`, then listens there (file mode `options.mode`, default 0600). */
  static async start(path: string, options: EventSocketOptions = {}): Promise<EventSocketServer> {
    await removeStaleSocket(path);
    const maxQueueBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    let server: EventSocketServer | null = null;
    const listen = (at: string) => Bun.listen<Client>({
      unix: at,
      socket: {
        open(socket) {
          socket.data = { queue: [], queued: 0, allowance: maxQueueBytes, dropped: false };
          server?.addClient(socket);
        },
        // Clients have nothing to say; M-Lab ignores their input too.
        data() {},
        drain(socket) {
          server?.flush(socket);
        },
        close(socket) {
          server?.removeClient(socket);
        },
        error(socket) {
          server?.removeClient(socket);
        },
      },
    });
    const listener = listenPrivately(path, options.mode ?? DEFAULT_SOCKET_MODE, listen, (l) => l.stop(true));
    server = new EventSocketServer(path, listener, maxQueueBytes, options);
    return server;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Connections open now (each new client first hears of every one of them). */
  get openCount(): number {
    return this.openLines.size;
  }

  /**
   * Announces a connection open in this run to every client: a new one, or one resumed
   * from the collector's previous run (which this run's clients have not heard of). Never blocks.
   */
  open(conn: OpenedConnection): void {
    if (this.stopped) return;
    const line = openEventLine(conn);
    this.openLines.set(conn.uuid, line);
    this.broadcast(line);
    this.options.metrics?.flowEvents.inc({ type: "open" });
  }

  /** Announces that a TCP connection ended to every client. Never blocks. */
  close(uuid: string, timeMs: number, subMs = 0): void {
    if (this.stopped) return;
    this.openLines.delete(uuid);
    this.broadcast(closeEventLine(uuid, timeMs, subMs));
    this.options.metrics?.flowEvents.inc({ type: "close" });
  }

  /** Stops listening, disconnects every client and removes the socket file. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.listener.stop(true);
    for (const c of this.clients) c.terminate();
    this.clients.clear();
    this.options.metrics?.eventsocketClients.set(0);
    try {
      if (lstatSync(this.path).isSocket()) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private addClient(socket: Socket<Client>): void {
    if (this.stopped) {
      socket.terminate();
      return;
    }
    // Lines announced before this client came belong to the replay, not to its live events.
    this.sendPending();
    if (this.openLines.size > 0) {
      let text = "";
      for (const line of this.openLines.values()) text += line;
      const bytes = this.encoder.encode(text);
      socket.data.allowance += bytes.byteLength;
      this.send(socket, bytes);
      if (socket.data.dropped) return;
    }
    this.clients.add(socket);
    this.options.metrics?.eventsocketClients.set(this.clients.size);
  }

  private removeClient(socket: Socket<Client>): void {
    if (this.clients.delete(socket)) this.options.metrics?.eventsocketClients.set(this.clients.size);
  }

  private broadcast(line: string): void {
    if (this.clients.size === 0) return;
    // A poll cycle can announce thousands of connections at once; one write per client
    // for all of them keeps both the syscalls and the clients' socket buffers small.
    if (this.pendingLines === "") queueMicrotask(() => this.sendPending());
    this.pendingLines += line;
  }

  private sendPending(): void {
    const text = this.pendingLines;
    this.pendingLines = "";
    if (text === "" || this.stopped) return;
    const bytes = this.encoder.encode(text);
    for (const c of this.clients) this.send(c, bytes);
  }

  private send(socket: Socket<Client>, bytes: Uint8Array): void {
    const st = socket.data;
    if (st.dropped) return;
    // Judged on what the client left unread of earlier events, not on these bytes: one
    // long cycle can announce more than the bound at once, and a client that keeps up
    // must not be dropped for it. A stuck client is dropped at the next event after it.
    if (st.queued > st.allowance) {
      this.drop(socket);
      return;
    }
    if (st.queued === 0) {
      const n = socket.write(bytes);
      if (n >= bytes.byteLength) return;
      const rest = bytes.subarray(Math.max(0, n));
      st.queue.push(rest);
      st.queued += rest.byteLength;
    } else {
      st.queue.push(bytes);
      st.queued += bytes.byteLength;
    }
  }

  /** Writes queued bytes until the kernel refuses more; called when the socket drains. */
  private flush(socket: Socket<Client>): void {
    const st = socket.data;
    while (st.queue.length > 0 && !st.dropped) {
      const head = st.queue[0];
      const n = Math.max(0, socket.write(head));
      st.queued -= n;
      if (n < head.byteLength) {
        st.queue[0] = head.subarray(n);
        return;
      }
      st.queue.shift();
    }
    // The replay is out: from now on the client may lag only by the bound.
    if (st.queued === 0) st.allowance = this.maxQueueBytes;
  }

  private drop(socket: Socket<Client>): void {
    const st = socket.data;
    st.dropped = true;
    st.queue = [];
    st.queued = 0;
    this.removeClient(socket);
    this.options.metrics?.eventsocketDroppedClients.inc();
    this.options.log?.(`eventsocket: disconnecting a client that left more than ${st.allowance} bytes of events unread`);
    // terminate, not end: end would wait to flush to a reader that is not reading.
    socket.terminate();
  }
}
