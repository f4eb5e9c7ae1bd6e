// A netlink socket driven through libc. Handles only bytes: building requests and
// parsing replies belong to src/diag.
import { libc, errno } from "./libc.ts";
import { EAGAIN, EINTR, SyscallError } from "./errno.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SO_RCVTIMEO = 20;
const MSG_DONTWAIT = 0x40;

export const NETLINK_SOCK_DIAG = 4;

/** What a dump consumer says after each received chunk. */
export const enum ChunkVerdict {
  More = 0,
  Done = 1,
}

export interface DumpStats {
  chunks: number;
  bytes: number;
}

/** A dump ran past its time bound; the caller must replace the socket (its rest is still queued). */
export class DumpTimeoutError extends Error {
  constructor(readonly chunks: number) {
    super(`netlink dump did not finish in time (${chunks} chunks read); abandoned`);
    this.name = "DumpTimeoutError";
  }
}

export class NetlinkSocket {
  readonly fd: number;
  private closed = false;
  // sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups }: the kernel, pid 0.
  private readonly kernelAddr = new Uint8Array(12);

  /** Opens a NETLINK_SOCK_DIAG socket, optionally joined to multicast `groups` (a bitmask). */
  constructor(protocol: number = NETLINK_SOCK_DIAG, groups = 0) {
    const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw new SyscallError("socket(AF_NETLINK)", errno());
    this.fd = fd;
    new DataView(this.kernelAddr.buffer).setUint16(0, AF_NETLINK, true);
    if (groups !== 0) {
      const local = new Uint8Array(12);
      const dv = new DataView(local.buffer);
      dv.setUint16(0, AF_NETLINK, true);
      dv.setUint32(8, groups >>> 0, true);
      if (libc.bind(fd, local, 12) < 0) {
        const e = errno();
        libc.close(fd);
        throw new SyscallError("bind(netlink groups)", e);
      }
    }
  }

  /**
   * Sets the receive buffer. Tries SO_RCVBUFFORCE (root may exceed rmem_max), then
   * SO_RCVBUF. Returns the size the kernel reports afterwards.
   */
  setReceiveBuffer(bytes: number): number {
    const v = new Int32Array([bytes]);
    if (libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, v, 4) < 0) {
      if (libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, v, 4) < 0) {
        throw new SyscallError("setsockopt(SO_RCVBUF)", errno());
      }
    }
    const out = new Int32Array(1);
    const len = new Uint32Array([4]);
    if (libc.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, out, len) < 0) {
      throw new SyscallError("getsockopt(SO_RCVBUF)", errno());
    }
    return out[0];
  }

  /**
   * Bounds every blocking receive: after `ms` without data recv fails with EAGAIN
   * (thrown as a SyscallError), so a dump the kernel never finishes cannot hang the caller.
   */
  setReceiveTimeout(ms: number): void {
    // struct timeval { long tv_sec; long tv_usec } on x86-64.
    const tv = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt(Math.round((ms % 1000) * 1000))]);
    if (libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) < 0) throw new SyscallError("setsockopt(SO_RCVTIMEO)", errno());
  }

  /** Sends one request to the kernel. EINTR is retried. */
  send(request: Uint8Array): void {
    this.assertOpen();
    for (;;) {
      const n = libc.sendto(this.fd, request, request.byteLength, 0, this.kernelAddr, 12);
      if (n >= 0) return;
      const e = errno();
      if (e !== EINTR) throw new SyscallError("sendto(netlink)", e);
    }
  }

  /**
   * Receives one datagram into `buf`. Returns its length; with `nonBlocking`, 0 when
   * nothing is queued. EINTR is retried; other errors throw a SyscallError.
   */
  receive(buf: Uint8Array, nonBlocking = false): number {
    this.assertOpen();
    const flags = nonBlocking ? MSG_DONTWAIT : 0;
    for (;;) {
      const n = libc.recv(this.fd, buf, buf.byteLength, flags);
      if (n >= 0) return n;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN && nonBlocking) return 0;
      throw new SyscallError("recv(netlink)", e);
    }
  }

  /**
   * Sends a dump request and feeds each received chunk to `consume` until it says Done.
   * The same `buf` is reused for every chunk, so `consume` must not keep views of it.
   */
  dump(
    request: Uint8Array,
    buf: Uint8Array,
    consume: (buf: Uint8Array, length: number) => ChunkVerdict,
    deadline = Number.POSITIVE_INFINITY,
  ): DumpStats {
    this.send(request);
    let chunks = 0;
    let bytes = 0;
    for (;;) {
      const n = this.receive(buf);
      chunks++;
      bytes += n;
      // A dump that keeps trickling past its bound is abandoned like one that stalls.
      if (performance.now() > deadline) throw new DumpTimeoutError(chunks);
      // A zero-length read means the socket was shut down; nothing more will come.
      if (n === 0 || consume(buf, n) === ChunkVerdict.Done) return { chunks, bytes };
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("netlink socket is closed");
  }
}
