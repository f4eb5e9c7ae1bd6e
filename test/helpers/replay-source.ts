// A KernelSource that replays recorded netlink messages: each dump() plays the next
// scripted step (the messages of one dump, or an error to throw), each drain() delivers
// the destroy events queued so far. Messages are copied into the source's own buffer
// first, as the kernel would write them there.
import { AF_INET, AF_INET6, AF_UNSPEC, SOCK_DIAG_BY_FAMILY } from "../../src/diag/constants.ts";
import type { MessageVisitor } from "../../src/diag/netlink-messages.ts";
import type { DestroySource, DrainResult, DumpResult, DumpSource, KernelSource } from "../../src/collector/kernel-source.ts";

export type DumpStep = Uint8Array[] | Error;

function deliver(buffer: Uint8Array, messages: readonly Uint8Array[], visit: MessageVisitor): number {
  let off = 0;
  for (const m of messages) {
    buffer.set(m, off);
    visit(buffer, off, m.byteLength, SOCK_DIAG_BY_FAMILY);
    off += (m.byteLength + 3) & ~3;
  }
  return off;
}

export class ReplayDump implements DumpSource {
  readonly buffer = new Uint8Array(1 << 20);
  readonly families = [AF_INET6, AF_INET];
  readonly lastMessages = [0, 0];
  readonly walks = [AF_UNSPEC];
  readonly lastSeconds = [0];
  readonly fallback = null;
  resets = 0;
  constructor(readonly steps: DumpStep[] = []) {}

  dump(visit: MessageVisitor): DumpResult {
    const step = this.steps.shift() ?? [];
    if (step instanceof Error) throw step;
    const bytes = deliver(this.buffer, step, visit);
    this.lastMessages[0] = step.length;
    return { messages: step.length, bytes, chunks: 1, malformed: 0 };
  }

  reset(): void {
    this.resets++;
  }

  close(): void {}
}

export class ReplayDestroy implements DestroySource {
  readonly buffer = new Uint8Array(1 << 20);
  readonly queue: Uint8Array[] = [];

  drain(visit: MessageVisitor): DrainResult {
    const batch = this.queue.splice(0);
    deliver(this.buffer, batch, visit);
    return { messages: batch.length, overruns: 0, malformed: 0 };
  }

  close(): void {}
}

export function replaySource(steps: DumpStep[] = [], destroyEvents = true): { source: KernelSource; dump: ReplayDump; destroy: ReplayDestroy } {
  const dump = new ReplayDump(steps);
  const destroy = new ReplayDestroy();
  return { source: { dumper: dump, destroy: destroyEvents ? destroy : null }, dump, destroy };
}
