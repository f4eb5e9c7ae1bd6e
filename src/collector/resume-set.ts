// The connections a previous run left open, by cookie. The first dump tells which are
// still alive (the collector takes each as it finds it, to continue its UUID and file
// series); the rest ended while no collector was running.
import type { ResumeInfo } from "./options.ts";

export class ResumeSet {
  private readonly waiting: Map<bigint, ResumeInfo>;
  private readonly gone: ResumeInfo[] = [];

  constructor(previous?: ReadonlyMap<bigint, ResumeInfo>) {
    this.waiting = new Map(previous ?? []);
  }

  /** The previous run's connection with this cookie, if any (once). */
  take(cookie: bigint): ResumeInfo | undefined {
    const r = this.waiting.get(cookie);
    if (r !== undefined) this.waiting.delete(cookie);
    return r;
  }

  /** The first dump is done: the connections it did not show are gone. */
  firstDumpDone(): void {
    if (this.waiting.size === 0) return;
    for (const r of this.waiting.values()) this.gone.push(r);
    this.waiting.clear();
  }

  /** Connections found gone since the last call. */
  takeGone(): ResumeInfo[] {
    return this.gone.splice(0);
  }
}
