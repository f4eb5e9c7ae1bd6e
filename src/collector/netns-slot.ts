// One network namespace the collector polls: its identity, its kernel message sources,
// and what this cycle's poll of it found. Connections point at their slot, so a failed
// dump spares only that namespace's connections from being ended as vanished, and a
// namespace that goes away ends only its own.
import { bytesOf, type Bytes } from "../diff/bytes.ts";
import type { NetnsIdentity } from "../model/report.ts";
import type { MessageVisitor } from "../diag/netlink-messages.ts";
import { SyscallError } from "../ffi/errno.ts";
import { DumpTimeoutError } from "../ffi/netlink-socket.ts";
import type { DestroySource, DumpSource, KernelSource } from "./kernel-source.ts";
import type { CollectorStats } from "./stats.ts";

export interface NetnsSlot {
  readonly identity: NetnsIdentity;
  readonly dumper: DumpSource;
  readonly destroy: DestroySource | null;
  readonly rx: Bytes;
  readonly dx: Bytes | null;
  /** The cycle whose dump of this namespace failed (nothing is known of its sockets then); -1: none. */
  failedCycle: number;
  /** The namespace is gone: the next poll is its last, then its connections end as netns_gone. */
  gone: boolean;
}

export function newSlot(identity: NetnsIdentity, source: KernelSource): NetnsSlot {
  return {
    identity,
    dumper: source.dumper,
    destroy: source.destroy,
    rx: bytesOf(source.dumper.buffer),
    dx: source.destroy ? bytesOf(source.destroy.buffer) : null,
    failedCycle: -1,
    gone: false,
  };
}

export function closeSlot(slot: NetnsSlot): void {
  slot.dumper.close();
  slot.destroy?.close();
}

/**
 * The last cycle's dumps summed over every namespace (metrics count totals, never a label
 * per namespace): messages per address family, seconds per walk (AF_UNSPEC: one walk for
 * every family).
 */
export class DumpTotals {
  families: readonly number[] = [];
  messages: number[] = [];
  walks: readonly number[] = [];
  seconds: number[] = [];

  reset(families: readonly number[], walks: readonly number[]): void {
    if (this.families !== families) {
      this.families = families;
      this.messages = families.map(() => 0);
    }
    if (this.walks !== walks) {
      this.walks = walks;
      this.seconds = walks.map(() => 0);
    }
    this.messages.fill(0);
    this.seconds.fill(0);
  }

  add(d: DumpSource): void {
    for (let i = 0; i < this.messages.length && i < d.lastMessages.length; i++) this.messages[i] += d.lastMessages[i];
    for (let i = 0; i < this.seconds.length && i < d.lastSeconds.length; i++) this.seconds[i] += d.lastSeconds[i];
  }
}

/**
 * The namespaces polled, in order: each one's dump and destroy events in turn, with `cur`
 * the one whose messages are being handled (connections and held entries point at it).
 */
export class NetnsSlots {
  private readonly slots: NetnsSlot[] = [];
  readonly totals = new DumpTotals();
  cur!: NetnsSlot;

  /** Starts polling a namespace with the next cycle. */
  add(identity: NetnsIdentity, source: KernelSource): void {
    const slot = newSlot(identity, source);
    this.slots.push(slot);
    if (this.slots.length === 1) this.cur = slot;
  }

  /** Marks the namespace gone (polled once more, then retired); false if not polled. */
  markGone(inode: number): boolean {
    const slot = this.slots.find((s) => s.identity.inode === inode && !s.gone);
    if (slot === undefined) return false;
    slot.gone = true;
    return true;
  }

  /** Why a dump gave up the one-walk request, if one did. */
  get dumpFallback(): string | null {
    for (const s of this.slots) if (s.dumper.fallback !== null) return s.dumper.fallback;
    return null;
  }

  get count(): number {
    return this.slots.length;
  }

  /** Dumps each namespace into `visit`: the sockets shown, and whether a dump failed. */
  dumpAll(cycle: number, visit: MessageVisitor, stats: CollectorStats): { sockets: number; failed: boolean } {
    const first = this.slots[0]?.dumper;
    this.totals.reset(first?.families ?? [], first?.walks ?? []);
    let sockets = 0;
    let failed = false;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i];
      this.cur = slot;
      try {
        const r = slot.dumper.dump(visit);
        if (r.malformed > 0) stats.error("malformed_dump", r.malformed);
        this.totals.add(slot.dumper);
        sockets += r.messages;
      } catch (e) {
        // A failed dump must not end connections: nothing is known about them this cycle.
        failed = true;
        slot.failedCycle = cycle;
        const timedOut = e instanceof DumpTimeoutError || (e instanceof SyscallError && e.code === "EAGAIN");
        stats.error(timedOut ? "dump_timeout" : "dump_failed");
        stats.lastError = `netns ${slot.identity.inode}: ${(e as Error).message}`;
        try {
          slot.dumper.reset();
        } catch (r) {
          stats.lastError += `; reopening the netlink socket failed: ${(r as Error).message}`;
        }
      }
    }
    return { sockets, failed };
  }

  /** True when some namespace has a destroy-event subscription. */
  get listening(): boolean {
    return this.slots.some((s) => s.destroy !== null);
  }

  /** Reads each namespace's queued destroy events into `visit`. */
  drainAll(visit: MessageVisitor, stats: CollectorStats): void {
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i];
      if (slot.destroy === null) continue;
      this.cur = slot;
      try {
        const r = slot.destroy.drain(visit);
        stats.destroyEvents += r.messages;
        if (r.overruns > 0) stats.error("destroy_overrun", r.overruns);
        if (r.malformed > 0) stats.error("malformed_destroy", r.malformed);
      } catch (e) {
        stats.error("destroy_failed");
        stats.lastError = `netns ${slot.identity.inode}: ${(e as Error).message}`;
      }
    }
  }

  /** Namespaces marked gone, after their last poll: `retire` ends what was in each, then it is closed and dropped. */
  retireGone(retire: (slot: NetnsSlot) => void): void {
    for (let i = this.slots.length - 1; i >= 0; i--) {
      const slot = this.slots[i];
      if (!slot.gone) continue;
      retire(slot);
      closeSlot(slot);
      this.slots.splice(i, 1);
    }
  }

  /** Closes every namespace's sockets (shutdown). */
  closeAll(): void {
    for (const slot of this.slots) closeSlot(slot);
    this.slots.length = 0;
  }
}
