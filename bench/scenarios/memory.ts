// Scenario 5: resident memory per tracked idle connection, (RSS(N) - RSS(0)) / N, read in
// one collector process as its population grows (see workers/memory.ts). RSS(0) is read
// after WARM.connections connections came and went WARM.rounds times, so that what the
// first connections cost once (JIT output for the per-socket path, the binary's pages)
// is not counted per connection. Few of them, so that the memory they leave free for the
// next ones to reuse stays small against the readings; the figure against the cold
// baseline is in the details and notes.
import { LoadPool } from "../lib/load.ts";
import { startWorker } from "../lib/proc.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import type { PopulatedContext } from "./context.ts";
import type { MemoryReading as Reading } from "../lib/memory-reading.ts";

const WARM = { connections: 200, rounds: 3 };

export async function memory(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { tb, sizes } = ctx;
  const out = makeTmpDir("memory");
  const pool = new LoadPool(tb, ctx.bins.load, { mode: "idle", connect: tb.addrB });
  const warmPool = new LoadPool(tb, ctx.bins.load, { mode: "idle", connect: tb.addrB });
  try {
    const w = startWorker(tb, "memory", ["--out", out, "--targets", sizes.memoryTargets.join(","), "--warm", String(WARM.connections), "--warm-rounds", String(WARM.rounds)], 600_000);
    for (let round = 0; round < WARM.rounds; round++) {
      await w.out.waitFor(/^WARM \d+$/, 60_000);
      await warmPool.add(WARM.connections);
      await w.out.waitFor(/^WARMED$/, 180_000);
      await warmPool.stop();
    }
    for (const target of sizes.memoryTargets) {
      await w.out.waitFor(new RegExp(`^WAIT ${target}$`), 60_000);
      await pool.add(target - pool.established);
    }
    const result = await w.result;
    const readings = (result.readings ?? []) as Reading[];
    const cold = result.cold as Reading | undefined;
    const base = readings.find((r) => r.target === 0);
    const notes: string[] = [];
    if (base === undefined || cold === undefined) throw new Error("no baseline reading");
    notes.push(`s5 baseline: RSS ${mib(cold.rss)} MiB cold, ${mib(base.rss)} MiB after ${WARM.connections} connections came and went ${WARM.rounds} times (+${mib(base.rss - cold.rss)} MiB paid once)`);
    const rows: Row[] = [];
    let prev = base;
    for (const r of readings) {
      if (r.target === 0) continue;
      const perConn = (r.rss - base.rss) / r.tracked;
      const perConnCold = (r.rss - cold.rss) / r.tracked;
      const heapPerConn = (r.heapUsed - base.heapUsed) / r.tracked;
      const marginal = (r.rss - prev.rss) / Math.max(1, r.tracked - prev.tracked);
      rows.push(
        row({
          scenario: 5,
          key: `s5.memory.${r.target}`,
          name: `memory, ${r.target / 1000}k idle tracked`,
          metric: "RSS/connection",
          unit: "B",
          value: perConn,
          floor: null,
          // 2 KiB per connection up to 10k; past that fixed costs are spread thinner: 1.5 KiB at 50k.
          target: { op: "<=", value: r.target >= 50_000 ? 1536 : 2048, on: "value" },
          details: { ...r, baselineRss: base.rss, coldBaselineRss: cold.rss, perConnCold, heapPerConn, marginalRssPerConn: marginal },
        }),
      );
      notes.push(
        `s5 @${r.tracked}: RSS ${mib(r.rss)} MiB (baseline ${mib(base.rss)} MiB) -> ${perConn.toFixed(0)} B/conn (${perConnCold.toFixed(0)} against the cold baseline); JS heap ${heapPerConn.toFixed(0)} B/conn (heap capacity +${((r.heapTotal - base.heapTotal) / 2 ** 20).toFixed(1)} MiB, external +${((r.external - base.external) / 2 ** 20).toFixed(1)} MiB, of which free line chunks ${((r.pooled ?? 0) / 2 ** 20).toFixed(1)} MiB); marginal since previous reading ${marginal.toFixed(0)} B/conn`,
      );
      prev = r;
    }
    return { rows, notes };
  } finally {
    await warmPool.stop();
    await pool.stop();
    removeTmp(out);
  }
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
