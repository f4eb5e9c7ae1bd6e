// Where the collector's kernel messages come from: the sock_diag dump and the destroy
// events. The daemon uses the real netlink sockets; tests replay recorded messages
// through the same interface, so every path above it (vanish, destroy, resume, a failing
// dump) runs without a socket.
import type { MessageVisitor } from "../diag/netlink-messages.ts";
import { inNetns } from "../ffi/netns.ts";
import { DESTROY_RCVBUF, DestroyListener, type DrainResult } from "./destroy-listener.ts";
import { RECEIVE_BUFFER_SIZE, SockDiagDumper, type DumpMode, type DumpResult } from "./dumper.ts";

export type { DrainResult } from "./destroy-listener.ts";
export type { DumpResult } from "./dumper.ts";

/** A dump of every socket: one walk for every address family, or one per family. */
export interface DumpSource {
  /** Messages are handed to visitors from this buffer (the same one every time). */
  readonly buffer: Uint8Array;
  /** Families dumped, in order, with the last dump's message count for each. */
  readonly families: readonly number[];
  readonly lastMessages: readonly number[];
  /** The walks of the kernel's tables one dump makes (AF_UNSPEC: one for every family), with the last dump's seconds for each. */
  readonly walks: readonly number[];
  readonly lastSeconds: readonly number[];
  /** Why the one-walk request was given up (the kernel refused it), else null. */
  readonly fallback: string | null;
  /** Visits every message of one dump; throws when the dump fails (a timeout, an errno). */
  dump(visit: MessageVisitor): DumpResult;
  /** After a failed dump: start again with a fresh socket. */
  reset(): void;
  close(): void;
}

/** The kernel's TCP destroy events. */
export interface DestroySource {
  /** Messages are handed to visitors from this buffer (the same one every time). */
  readonly buffer: Uint8Array;
  /** Visits the events queued now, at most `limit`; never blocks. */
  drain(visit: MessageVisitor, limit?: number): DrainResult;
  close(): void;
}

export interface KernelSource {
  dumper: DumpSource;
  /** null: destroy events are off. */
  destroy: DestroySource | null;
}

/** Where a source's sockets live: a network namespace (entered to create them) and shared read buffers. */
export interface SourcePlacement {
  /** A path naming the namespace (/proc/PID/ns/net or /var/run/netns/NAME) and its inode; null: this thread's own. */
  netns: { path: string; inode: number } | null;
  /** Reused by every source polled one after the other (no view outlives a visit). */
  dumpBuffer?: Uint8Array;
  destroyBuffer?: Uint8Array;
  /** How the dump asks for both families (default: one walk, if the kernel answers it). */
  mode?: DumpMode;
}

/** Runs socket creation inside `ns` (null: right here, in this thread's own namespace). */
export function enterFor(ns: { path: string; inode: number } | null): <T>(make: () => T) => T {
  return ns === null ? (make) => make() : (make) => inNetns(ns.path, ns.inode, make);
}

/** Buffers for sources that are read one after the other. */
export function sharedBuffers(): Required<Pick<SourcePlacement, "dumpBuffer" | "destroyBuffer">> {
  return { dumpBuffer: new Uint8Array(RECEIVE_BUFFER_SIZE), destroyBuffer: new Uint8Array(64 * 1024) };
}

/**
 * The real netlink sockets: a dump of the given TCP states, and destroy events if asked,
 * made inside `placement.netns` when given (they stay bound to it).
 */
export function netlinkSource(states: number, destroyEvents: boolean, dumpTimeoutMs?: number, placement?: SourcePlacement): KernelSource {
  const enter = enterFor(placement?.netns ?? null);
  const dumper = new SockDiagDumper(undefined, states, dumpTimeoutMs, { enter, buffer: placement?.dumpBuffer }, placement?.mode);
  try {
    return { dumper, destroy: destroyEvents ? new DestroyListener(DESTROY_RCVBUF, enter, placement?.destroyBuffer) : null };
  } catch (e) {
    dumper.close();
    throw e;
  }
}
