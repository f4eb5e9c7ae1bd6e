// Times ArchiveWriter.flush (zstd + file writes) wherever it is called from (flushDue,
// append when a buffer bound is reached, close), by wrapping the prototype method in
// this worker process. Bench-only instrumentation; the code path itself is unchanged.
import { ArchiveWriter } from "../../src/archive/writer.ts";

export interface FlushTimer {
  /** Total ms inside flush, and calls. */
  ms: number;
  calls: number;
}

export function timeFlushes(): FlushTimer {
  const acc: FlushTimer = { ms: 0, calls: 0 };
  const proto = ArchiveWriter.prototype;
  const orig = proto.flush;
  proto.flush = function (this: ArchiveWriter, nowMs: number): boolean {
    const t = performance.now();
    const ok = orig.call(this, nowMs);
    acc.ms += performance.now() - t;
    acc.calls++;
    return ok;
  };
  return acc;
}
