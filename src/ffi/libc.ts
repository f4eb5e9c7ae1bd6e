// The libc functions a netlink socket needs. This folder is the only place that
// touches pointers; everything above it sees Uint8Array and numbers.
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

const { i32, u32, u64, ptr } = FFIType;

const lib = dlopen("libc.so.6", {
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, ptr, u32], returns: i32 },
  sendto: { args: [i32, ptr, u64, i32, ptr, u32], returns: i32 },
  recv: { args: [i32, ptr, u64, i32], returns: i32 },
  setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
  getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  close: { args: [i32], returns: i32 },
  open: { args: [ptr, i32], returns: i32 },
  setns: { args: [i32, i32], returns: i32 },
  __errno_location: { args: [], returns: ptr },
});

export const libc = lib.symbols;

// errno lives in thread-local storage; its address is fixed for the thread, so look it up once.
const errnoPtr = libc.__errno_location() as Pointer;

/** The calling thread's errno, read right after a failed call. */
export function errno(): number {
  return read.i32(errnoPtr, 0);
}
