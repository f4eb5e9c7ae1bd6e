// The calling thread's scheduling class. The workers that write archives and serve the
// API run as SCHED_BATCH: the kernel then never lets one of them preempt the poll thread
// when it wakes (a message from the poll thread wakes it), while they still get their
// fair share of the CPU. As normal threads, each batch the poll thread sent woke the
// storage worker onto its CPU and the rest of the poll cycle waited out the worker's
// slice: 1 post in 10 took 2-5 ms of wall time under 1,000 busy connections on 2 cores.
import { dlopen, FFIType } from "bun:ffi";
import { errno } from "./libc.ts";
import { errnoName } from "./errno.ts";

const SCHED_BATCH = 3;

const lib = dlopen("libc.so.6", {
  sched_setscheduler: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
});

/** struct sched_param { int sched_priority; }: 0 for SCHED_BATCH. */
const PARAM = new Int32Array(1);

/**
 * Makes the calling thread SCHED_BATCH. Returns null, or why it could not (a seccomp
 * profile may refuse the call; the thread then stays as it was).
 */
export function useBatchScheduling(): string | null {
  return lib.symbols.sched_setscheduler(0, SCHED_BATCH, PARAM) === 0 ? null : `sched_setscheduler: ${errnoName(errno())}`;
}
