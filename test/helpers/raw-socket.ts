// TCP sockets driven by hand through libc, for what node:net cannot do: bind a socket and
// leave it bound but unconnected for as long as a test needs, then connect it. IPv4 only;
// blocking calls (a loopback connect to a listening socket completes at once).
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

const { i32, u32, ptr } = FFIType;

const lib = dlopen("libc.so.6", {
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, ptr, u32], returns: i32 },
  connect: { args: [i32, ptr, u32], returns: i32 },
  getsockname: { args: [i32, ptr, ptr], returns: i32 },
  close: { args: [i32], returns: i32 },
  __errno_location: { args: [], returns: ptr },
});
const c = lib.symbols;

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCKADDR_IN_SIZE = 16;

function errno(): number {
  return read.i32(c.__errno_location() as Pointer, 0);
}

function sockaddrIn(ip: string, port: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_IN_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, AF_INET, true);
  dv.setUint16(2, port, false);
  ip.split(".").forEach((part, i) => (b[4 + i] = Number(part)));
  return b;
}

function check(what: string, r: number): number {
  if (r < 0) throw new Error(`${what} failed: errno ${errno()}`);
  return r;
}

/** A TCP socket bound to `ip` and an ephemeral port, not connected. */
export function bindTcp4(ip: string): { fd: number; port: number } {
  const fd = check("socket", c.socket(AF_INET, SOCK_STREAM, 0));
  try {
    check("bind", c.bind(fd, sockaddrIn(ip, 0), SOCKADDR_IN_SIZE));
    const addr = new Uint8Array(SOCKADDR_IN_SIZE);
    const len = new Uint32Array([SOCKADDR_IN_SIZE]);
    check("getsockname", c.getsockname(fd, addr, len));
    return { fd, port: new DataView(addr.buffer).getUint16(2, false) };
  } catch (e) {
    c.close(fd);
    throw e;
  }
}

export function connectTcp4(fd: number, ip: string, port: number): void {
  check("connect", c.connect(fd, sockaddrIn(ip, port), SOCKADDR_IN_SIZE));
}

export function closeFd(fd: number): void {
  c.close(fd);
}
