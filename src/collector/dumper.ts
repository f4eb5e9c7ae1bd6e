// One sock_diag dump of every TCP socket: sends the request through src/ffi and feeds
// each reply message to a visitor through the src/diag splitter. Both families come from
// one walk of the kernel's tables when it answers the request for that (TCPDIAG_GETSOCK),
// else from one SOCK_DIAG_BY_FAMILY walk per family, as M-Lab's collector does.
import { ChunkVerdict, NetlinkSocket } from "../ffi/netlink-socket.ts";
import { EINVAL, ENOENT, EOPNOTSUPP, EPROTONOSUPPORT, SyscallError } from "../ffi/errno.ts";
import { AF_INET, AF_INET6, AF_UNSPEC } from "../diag/constants.ts";
import { newSplitState, SplitStatus, splitMessages, type MessageVisitor } from "../diag/netlink-messages.ts";
import { buildAllFamiliesRequest, buildDumpRequest, setRequestSeq } from "../diag/request.ts";

/** Large enough for the kernel's biggest dump chunk (it caps them near 32 KiB). */
export const RECEIVE_BUFFER_SIZE = 64 * 1024;

/**
 * A whole dump (every family) gets this long, and so does each wait for a chunk; past it
 * the dump is abandoned (an error) and the socket replaced. 10k sockets take ~20 ms.
 */
export const DEFAULT_DUMP_TIMEOUT_MS = 5_000;

export interface DumpResult {
  /** Data messages seen, across families. */
  messages: number;
  bytes: number;
  chunks: number;
  /** Chunks whose framing was broken; their remaining bytes were skipped. */
  malformed: number;
}

/** Where a dumper's sockets are made and what it reads into (several dumpers may share one buffer). */
export interface DumperPlacement {
  /** Runs socket creation where the dump belongs (a network namespace); default: here. */
  enter?: <T>(make: () => T) => T;
  buffer?: Uint8Array;
}

/** How a dump asks for both families. */
export interface DumpMode {
  /** One SOCK_DIAG_BY_FAMILY request per family, never the one-walk request. */
  perFamily?: boolean;
  /** The one-walk request's message type (tests: a type the kernel refuses). */
  walkType?: number;
}

/** errnos with which a kernel refuses the one-walk request (no handler, no such type). */
const REFUSED = new Set([ENOENT, EINVAL, EPROTONOSUPPORT, EOPNOTSUPP]);

export class SockDiagDumper {
  /** The families counted, in order (AF_INET6 first, as M-Lab), with the last dump's messages of each. */
  readonly families: readonly number[];
  readonly lastMessages: number[];
  /** The walks one dump makes (AF_UNSPEC: one for every family), with the seconds each took last. */
  walks!: readonly number[];
  lastSeconds!: number[];
  /** Why the one-walk request was given up for one per family (the kernel refused it); null if it was not. */
  fallback: string | null = null;
  private sock: NetlinkSocket;
  /** The receive buffer every message view points into; reused for every chunk. */
  readonly buffer: Uint8Array;
  private readonly enter: <T>(make: () => T) => T;
  private requests!: Uint8Array[];
  private readonly split = newSplitState();
  private seq = 1;
  private visit: MessageVisitor = () => {};
  private messages = 0;
  private inet = 0;
  private malformed = 0;
  private status: SplitStatus = SplitStatus.More;
  // Bound once so the dump loop does not allocate a closure per chunk.
  private readonly consume = (buf: Uint8Array, length: number): ChunkVerdict => {
    this.status = splitMessages(buf, length, this.visit, this.split);
    this.messages += this.split.messages;
    this.inet += this.split.inet;
    if (this.status === SplitStatus.Malformed) this.malformed++;
    return this.status === SplitStatus.Done || this.status === SplitStatus.Error ? ChunkVerdict.Done : ChunkVerdict.More;
  };

  constructor(
    families: readonly number[] = [AF_INET6, AF_INET],
    private readonly states?: number,
    readonly timeoutMs = DEFAULT_DUMP_TIMEOUT_MS,
    placement: DumperPlacement = {},
    mode: DumpMode = {},
  ) {
    this.families = families;
    this.buffer = placement.buffer ?? new Uint8Array(RECEIVE_BUFFER_SIZE);
    this.enter = placement.enter ?? ((make) => make());
    this.lastMessages = families.map(() => 0);
    this.sock = this.openSocket();
    const both = families.length === 2 && families.includes(AF_INET) && families.includes(AF_INET6);
    if (both && !mode.perFamily) {
      this.walks = [AF_UNSPEC];
      this.requests = [buildAllFamiliesRequest({ states }, mode.walkType)];
      this.lastSeconds = [0];
    } else {
      this.walkPerFamily();
    }
  }

  /**
   * Replaces the socket after a failed dump, so the unread rest of that dump can never be
   * mistaken for the next one. (Not done inside dump(): a try block there slows the
   * per-message path measurably.)
   */
  reset(): void {
    this.sock.close();
    this.sock = this.openSocket();
  }

  private openSocket(): NetlinkSocket {
    const sock = this.enter(() => new NetlinkSocket());
    try {
      sock.setReceiveTimeout(this.timeoutMs);
    } catch (e) {
      sock.close();
      throw e;
    }
    return sock;
  }

  /** Dumps every requested family; `visit` sees each message while its bytes are valid. */
  dump(visit: MessageVisitor): DumpResult {
    this.visit = visit;
    this.messages = 0;
    this.inet = 0;
    this.malformed = 0;
    let bytes = 0;
    let chunks = 0;
    const deadline = performance.now() + this.timeoutMs;
    for (let i = 0; i < this.requests.length; i++) {
      const req = this.requests[i];
      setRequestSeq(req, this.seq++);
      const before = this.messages;
      const t0 = performance.now();
      const s = this.sock.dump(req, this.buffer, this.consume, deadline);
      this.lastSeconds[i] = (performance.now() - t0) / 1000;
      if (this.walks[i] !== AF_UNSPEC) this.lastMessages[i] = this.messages - before;
      bytes += s.bytes;
      chunks += s.chunks;
      if (this.status === SplitStatus.Error) {
        if (this.walks[i] === AF_UNSPEC && this.messages === 0 && REFUSED.has(this.split.errno)) {
          this.perFamily(this.split.errno);
          return this.dump(visit);
        }
        throw new SyscallError("sock_diag dump", this.split.errno);
      }
    }
    if (this.walks[0] === AF_UNSPEC) {
      for (let f = 0; f < this.families.length; f++) this.lastMessages[f] = this.families[f] === AF_INET ? this.inet : this.messages - this.inet;
    }
    return { messages: this.messages, bytes, chunks, malformed: this.malformed };
  }

  /** The kernel refused the one-walk request: one request per family from now on. */
  private perFamily(errno: number): void {
    this.fallback = `the kernel refused the one-walk dump request (${new SyscallError("TCPDIAG_GETSOCK", errno).message}); dumping each family in turn`;
    this.walkPerFamily();
  }

  /** One SOCK_DIAG_BY_FAMILY request, and walk, per family. */
  private walkPerFamily(): void {
    this.walks = this.families;
    this.requests = this.families.map((family) => buildDumpRequest({ family, states: this.states }));
    this.lastSeconds = this.walks.map(() => 0);
  }

  close(): void {
    this.sock.close();
  }
}
