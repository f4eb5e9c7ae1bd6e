// Scenario 5 worker (runs inside nsA): resident memory of a process running the collector
// loop, first with no connection, then each time it tracks at least the next target count
// of idle connections (the driver adds them when this worker prints "WAIT <n>").
// Two baselines: "cold", before any connection was seen, and "warm", after the driver's
// warm-up connections came and went --warm-rounds times (--warm N: "WARM <n>", then
// "WARMED" when they are tracked, and the driver closes them). Between the two the process grows by what its first
// connections cost once, whatever their number (the per-socket code compiled by the JIT
// and the binary's pages it touches; several MiB), which is not memory per connection.
// Before each reading the loop runs `settle-ms` more (longer than the 1 s flush interval),
// then until no line is still buffered (every first snapshot written) and 500 ms more (the
// chunk pool's trim period, twice), and Bun.gc(true) runs a full collection.
// Args: --out DIR --targets N1,N2,... [--warm N] [--settle-ms MS]
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
  const warm = argNumber("warm", 0);
  const warmRounds = argNumber("warm-rounds", 1);

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

  const pollUntil = async (what: string, done: () => boolean, deadline: number): Promise<void> => {
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`${what}: ${collector.tracked} tracked, ${archive.stats().pendingRecords} lines buffered`);
      collector.poll(Date.now());
      await Bun.sleep(POLL_MS);
    }
  };
  // Idle connections hold nothing once their first snapshot is written; on a disk where
  // creating 50k files takes longer than the settle time, wait for that (the reading is
  // of tracked connections, not of lines waiting for their file). Their buffers go back
  // to the archive's pool of free chunks, which lets go within one trim period (250 ms)
  // of what the next lines did not take: poll past it.
  const settle = async (deadline: number): Promise<void> => {
    await pollFor(settleMs);
    await pollUntil("lines still buffered", () => archive.stats().pendingRecords === 0, deadline);
    await pollFor(500);
  };

  await pollFor(settleMs);
  const cold = read(0);
  emitLine(`MEM ${JSON.stringify(cold)}`);
  let base = cold;
  for (let round = 1; warm > 0 && round <= warmRounds; round++) {
    const closedBefore = collector.stats.closed;
    emitLine(`WARM ${warm}`);
    const deadline = performance.now() + GROW_TIMEOUT_MS;
    await pollUntil(`warm-up: waiting for ${warm}`, () => collector.tracked >= warm, deadline);
    await settle(deadline);
    emitLine("WARMED");
    // The driver closes them: they end (destroy events) and their files are finished.
    // (What the kernel still shows of them, FIN_WAIT2 orphans, may stay in the cache.)
    const ended = () => collector.stats.closed - closedBefore >= warm && archive.stats().liveWriters === 0;
    await pollUntil("warm-up connections not ended", ended, deadline);
    await settle(deadline);
  }
  if (warm > 0) {
    base = read(0);
    emitLine(`MEM ${JSON.stringify(base)}`);
  }
  const readings: Reading[] = [base];
  for (const target of targets) {
    emitLine(`WAIT ${target}`);
    const deadline = performance.now() + GROW_TIMEOUT_MS;
    await pollUntil(`waiting for ${target}`, () => collector.tracked >= target, deadline);
    await settle(deadline);
    const r = read(target);
    readings.push(r);
    emitLine(`MEM ${JSON.stringify(r)}`);
  }
  collector.shutdown(Date.now());
  emitResult({ cold, readings });
});
