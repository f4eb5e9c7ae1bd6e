// One network namespace the collector polls: its identity, its kernel message sources,
// and what this cycle's poll of it found. Connections point at their slot, so a failed
// dump spares only that namespace's connections from being ended as vanished, and a
// namespace that goes away ends only its own.
import { bytesOf, type Bytes } from "../diff/bytes.ts";
import type { NetnsIdentity } from "../model/report.ts";
import type { DestroySource, DumpSource, KernelSource } from "./kernel-source.ts";

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
 * Per address family, the last cycle's messages and seconds summed over every namespace
 * (metrics count totals, never a label per namespace).
 */
export class DumpTotals {
  families: readonly number[] = [];
  messages: number[] = [];
  seconds: number[] = [];

  reset(families: readonly number[]): void {
    if (this.families !== families) {
      this.families = families;
      this.messages = families.map(() => 0);
      this.seconds = families.map(() => 0);
    }
    this.messages.fill(0);
    this.seconds.fill(0);
  }

  add(d: DumpSource): void {
    for (let i = 0; i < this.messages.length && i < d.lastMessages.length; i++) {
      this.messages[i] += d.lastMessages[i];
      this.seconds[i] += d.lastSeconds[i];
    }
  }
}
