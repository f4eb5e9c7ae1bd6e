// Scenario 3b worker (runs inside nsA): the archive throughput ceiling, in two runs.
//   --capture FILE  while load.c keeps the connections busy: take ONE real dump of the
//                   active sockets and save it.
//   --replay FILE   with the load stopped (a quiet machine): replay that dump through
//                   Collector.poll() cycle after cycle with every socket's counters moved
//                   on, so every socket is "changed" every cycle: filter, attribute index,
//                   diff by cookie, encodeRecord, ArchiveWriter.append, and at each flush
//                   zstd + write, all as in production; only the kernel dump is replaced
//                   by a memcpy of the captured chunks.
// The clock is simulated at 10 ms per cycle, so frames hold what they would polling every
// 10 ms: up to 100 lines (1 s flush interval), fewer when the archive's 256 MiB bound on
// buffered lines forces a connection's flush earlier.
// Args: --capture FILE | --replay FILE --out DIR --warm-cycles W --cycles M
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { makeCollector } from "../lib/collector-setup.ts";
import { CapturedDump, capturedSource } from "../lib/replay.ts";
import { timeFlushes } from "../lib/flush-timer.ts";
import { cpuMs } from "../lib/stats.ts";
import { argNumber, argString, emitResult, runWorker } from "../lib/worker-io.ts";

const SIM_INTERVAL_MS = 10;

function capture(path: string): void {
  const dump = CapturedDump.capture(COLLECTOR_STATES);
  dump.save(path);
  emitResult({ sockets: dump.messages, bytes: dump.bytes, mutable: dump.mutable });
}

function replay(path: string): void {
  const dump = CapturedDump.load(path);
  const { collector, archive } = makeCollector({ outputDir: argString("out"), destroyEvents: false, source: capturedSource(dump) });
  const flush = timeFlushes();
  const warm = argNumber("warm-cycles");
  const cycles = argNumber("cycles");
  let now = Date.now();
  // Warm-up: first snapshots, the first flush (which creates every file) and JIT.
  for (let i = 0; i < warm; i++) {
    dump.advance(100);
    collector.poll(now);
    now += SIM_INTERVAL_MS;
  }
  const s0 = collector.stats.snapshots;
  const a0 = archive.stats();
  const f0 = flush.ms;
  const c0 = cpuMs();
  let pollMs = 0;
  for (let i = 0; i < cycles; i++) {
    dump.advance(100); // not timed: it stands in for the kernel
    const t = performance.now();
    collector.poll(now);
    pollMs += performance.now() - t;
    now += SIM_INTERVAL_MS;
  }
  const cpuS = (cpuMs() - c0) / 1000;
  const a1 = archive.stats();
  const records = collector.stats.snapshots - s0;
  const wallS = pollMs / 1000;
  const flushMs = flush.ms - f0;
  collector.shutdown(now);
  const flushes = a1.flushes - a0.flushes;
  emitResult({
    sockets: dump.messages,
    mutable: dump.mutable,
    dumpBytes: dump.bytes,
    cycles,
    records,
    wallS,
    cpuS,
    recordsPerSec: records / wallS,
    recordsPerCpuSec: records / cpuS,
    usPerRecord: (pollMs * 1000) / records,
    flushShare: flushMs / pollMs,
    flushUsPerRecord: (flushMs * 1000) / records,
    pollUsPerRecordExFlush: ((pollMs - flushMs) * 1000) / records,
    recordsWritten: a1.recordsWritten - a0.recordsWritten,
    bytesIn: a1.bytesIn - a0.bytesIn,
    bytesWritten: a1.bytesWritten - a0.bytesWritten,
    flushes,
    linesPerFrame: (a1.recordsWritten - a0.recordsWritten) / Math.max(1, flushes),
    filesCreatedInWindow: a1.filesCreated - a0.filesCreated,
    errors: collector.stats.totalErrors(),
  });
}

runWorker("archive-ceiling", () => {
  const cap = argString("capture", "");
  if (cap !== "") capture(cap);
  else replay(argString("replay"));
});
