// Scenario 2 worker (runs inside nsA): Collector.poll() over idle connections, after a
// warm-up poll that archives every first snapshot and a flush that writes them out, so
// the measured polls find nothing changed and write nothing: this is the cost of
// dump + split + filter + attribute index + diff by cookie + bookkeeping per cycle.
// Interleaved with the C floor dumping with the collector's state mask.
// Args: --floor BIN --rounds K --reps R --out DIR [--no-destroy-events]
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { makeCollector } from "../lib/collector-setup.ts";
import { interleave } from "../lib/interleave.ts";
import { argFlag, argNumber, argString, emitResult, runWorker } from "../lib/worker-io.ts";

runWorker("poll-idle", () => {
  const { collector, archive } = makeCollector({ outputDir: argString("out"), destroyEvents: !argFlag("no-destroy-events") });
  const t0 = Date.now();
  collector.poll(t0);
  const warmSnapshots = collector.stats.snapshots;
  // Write the first snapshots now (they would go out 1 s later), so no measured poll
  // pays for creating 10k files.
  archive.flushDue(t0 + 60_000);
  for (let i = 0; i < 5; i++) collector.poll(Date.now());
  const before = collector.stats.snapshots;
  const a0 = archive.stats();
  const res = interleave({
    floorBin: argString("floor"),
    floor: { states: COLLECTOR_STATES },
    rounds: argNumber("rounds"),
    reps: argNumber("reps"),
    cycle: () => void collector.poll(Date.now()),
  });
  const a1 = archive.stats();
  emitResult({
    ...res,
    tracked: collector.tracked,
    sockets: collector.stats.sockets,
    warmSnapshots,
    // Both should be 0: an idle connection must not be archived again.
    changedDuringMeasure: collector.stats.snapshots - before,
    flushesDuringMeasure: a1.flushes - a0.flushes,
    errors: collector.stats.totalErrors(),
  });
  collector.shutdown(Date.now());
});
