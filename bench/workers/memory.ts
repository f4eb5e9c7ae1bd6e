// Scenario 5 worker (runs inside nsA): resident memory of a process running the collector
// loop, first with no connection, then each time it tracks at least the next target count
// of idle connections (the driver adds them when this worker prints "WAIT <n>").
// Before each reading the loop runs `settle-ms` more (longer than the 1 s flush interval),
// then until no line is still buffered (every first snapshot written) and 500 ms more (the
// chunk pool's trim period, twice), and Bun.gc(true)
// runs a full collection.
// Args: --out DIR --targets N1,N2,... [--settle-ms MS]
import { join } from "node:path";
import { makeCollector } from "../lib/collector-setup.ts";
import { pooledBufferBytes } from "../../src/archive/pending-lines.ts";
import { argNumber, argString, emitLine, emitResult, runWorker } from "../lib/worker-io.ts";
import type { MemoryReading as Reading } from "../lib/memory-reading.ts";

const POLL_MS = 10;
const GROW_TIMEOUT_MS = 180_000;

runWorker("memory", async () => {
  const out = argString("out");
  const targets = argString("targets").split(",").map(Number);
  const settleMs = argNumber("settle-ms", 1500);

  const { collector, archive } = makeCollector({ outputDir: join(out, "archive"), destroyEvents: true });
  // Write one line through the collector's own archive set before the baseline, so the
  // baseline already holds what any archiving process holds whatever its connection
  // count: the zstd context and its scratch buffers, the binding's code, JIT output.
  archive.open("warm_0000000000000001", Date.now()).append('{"warm":true}', Date.now());
  archive.close("warm_0000000000000001", Date.now());
  const pollFor = async (ms: number): Promise<void> => {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      collector.poll(Date.now());
      await Bun.sleep(POLL_MS);
    }
  };
  const read = (target: number): Reading => {
    Bun.gc(true);
    const m = process.memoryUsage();
    return { target, tracked: collector.tracked, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, pooled: pooledBufferBytes() };
  };

  await pollFor(settleMs);
  const readings: Reading[] = [read(0)];
  emitLine(`MEM ${JSON.stringify(readings[0])}`);
  for (const target of targets) {
    emitLine(`WAIT ${target}`);
    const deadline = performance.now() + GROW_TIMEOUT_MS;
    while (collector.tracked < target) {
      if (performance.now() > deadline) throw new Error(`tracked only ${collector.tracked} of ${target} connections`);
      collector.poll(Date.now());
      await Bun.sleep(POLL_MS);
    }
    await pollFor(settleMs);
    // Idle connections hold nothing once their first snapshot is written; on a disk where
    // creating 50k files takes longer than the settle time, wait for that (the reading is
    // of tracked connections, not of lines waiting for their file).
    while (archive.stats().pendingRecords > 0) {
      if (performance.now() > deadline) throw new Error(`${archive.stats().pendingRecords} lines still buffered`);
      await pollFor(100);
    }
    // Their buffers go back to the archive's pool of free chunks, which lets go within
    // one trim period (250 ms) of what the next lines did not take: poll past it.
    await pollFor(500);
    const r = read(target);
    readings.push(r);
    emitLine(`MEM ${JSON.stringify(r)}`);
  }
  collector.shutdown(Date.now());
  emitResult({ readings });
});
