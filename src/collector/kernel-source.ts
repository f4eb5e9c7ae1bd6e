// Where the collector's kernel messages come from: the sock_diag dump and the destroy
// events. The daemon uses the real netlink sockets; tests replay recorded messages
// through the same interface, so every path above it (vanish, destroy, resume, a failing
// dump) runs without a socket.
import type { MessageVisitor } from "../diag/netlink-messages.ts";
import { DestroyListener, type DrainResult } from "./destroy-listener.ts";
import { SockDiagDumper, type DumpResult } from "./dumper.ts";

export type { DrainResult } from "./destroy-listener.ts";
export type { DumpResult } from "./dumper.ts";

/** A dump of every socket, one address family after another. */
export interface DumpSource {
  /** Messages are handed to visitors from this buffer (the same one every time). */
  readonly buffer: Uint8Array;
  /** Families dumped, in order, with the last dump's message count and seconds for each. */
  readonly families: readonly number[];
  readonly lastMessages: readonly number[];
  readonly lastSeconds: readonly number[];
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

/** The real netlink sockets: a dump of the given TCP states, and destroy events if asked. */
export function netlinkSource(states: number, destroyEvents: boolean, dumpTimeoutMs?: number): KernelSource {
  const dumper = new SockDiagDumper(undefined, states, dumpTimeoutMs);
  try {
    return { dumper, destroy: destroyEvents ? new DestroyListener() : null };
  } catch (e) {
    dumper.close();
    throw e;
  }
}
