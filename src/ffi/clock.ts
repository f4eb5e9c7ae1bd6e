// The real-time clock at nanosecond resolution. M-Lab's times are Go's time.Now(), which
// keeps nanoseconds; Date.now() has only milliseconds, and performance.now() drifts from
// the wall clock, so the clock is read from libc (a vDSO call: no system call).
import { dlopen, FFIType } from "bun:ffi";
import { errno } from "./libc.ts";
import { SyscallError } from "./errno.ts";

const CLOCK_REALTIME = 0;

const lib = dlopen("libc.so.6", {
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
});
const clockGettime = lib.symbols.clock_gettime;

// struct timespec on x86-64: { int64 tv_sec; int64 tv_nsec }. One buffer for the process,
// passed as the typed array itself on every call: with its address taken once (ptr()),
// the optimizing compiler kept serving the array's values from before the call and the
// clock froze after about a thousand reads.
const TIMESPEC = new Uint32Array(4);
const TWO_32 = 2 ** 32;

/** A wall-clock time: whole Unix seconds and nanoseconds into that second (0..999999999). */
export interface RealTime {
  sec: number;
  nsec: number;
}

/**
 * Reads CLOCK_REALTIME into `out` and returns it. Allocation-free, for the poll loop.
 * Throws SyscallError only if the clock cannot be read (it never fails on Linux).
 */
export function realtime(out: RealTime): RealTime {
  if (clockGettime(CLOCK_REALTIME, TIMESPEC) !== 0) throw new SyscallError("clock_gettime(CLOCK_REALTIME)", errno());
  // Seconds as low word + signed high word: exact in a double, no BigInt.
  out.sec = TIMESPEC[0] + (TIMESPEC[1] | 0) * TWO_32;
  out.nsec = TIMESPEC[2];
  return out;
}

/** Unix milliseconds of a RealTime (floored), the unit Date and the rest of the code use. */
export function unixMs(t: RealTime): number {
  return t.sec * 1000 + Math.floor(t.nsec / 1e6);
}

const scratch: RealTime = { sec: 0, nsec: 0 };

/** The real-time clock as Unix milliseconds (floored); like Date.now(), from the same clock as realtime(). */
export function realtimeMs(): number {
  return unixMs(realtime(scratch));
}
