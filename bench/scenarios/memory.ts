// Scenario 5: resident memory per tracked idle connection, (RSS(N) - RSS(0)) / N, read in
// one collector process as its population grows (see workers/memory.ts).
import { LoadPool } from "../lib/load.ts";
import { startWorker } from "../lib/proc.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import type { PopulatedContext } from "./context.ts";
import type { MemoryReading as Reading } from "../lib/memory-reading.ts";

export async function memory(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const { tb, sizes } = ctx;
  const out = makeTmpDir("memory");
  const pool = new LoadPool(tb, ctx.bins.load, { mode: "idle", connect: tb.addrB });
  try {
    const w = startWorker(tb, "memory", ["--out", out, "--targets", sizes.memoryTargets.join(",")], 600_000);
    for (const target of sizes.memoryTargets) {
      await w.out.waitFor(new RegExp(`^WAIT ${target}$`), 60_000);
      await pool.add(target - pool.established);
    }
    const result = await w.result;
    const readings = (result.readings ?? []) as Reading[];
    const base = readings.find((r) => r.target === 0);
    if (base === undefined) throw new Error("no baseline reading");
    const rows: Row[] = [];
    const notes: string[] = [];
    let prev = base;
    for (const r of readings) {
      if (r.target === 0) continue;
      const perConn = (r.rss - base.rss) / r.tracked;
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
          details: { ...r, baselineRss: base.rss, heapPerConn, marginalRssPerConn: marginal },
        }),
      );
      notes.push(
        `s5 @${r.tracked}: RSS ${(r.rss / 2 ** 20).toFixed(1)} MiB (baseline ${(base.rss / 2 ** 20).toFixed(1)} MiB) -> ${perConn.toFixed(0)} B/conn; JS heap ${heapPerConn.toFixed(0)} B/conn (heap capacity +${((r.heapTotal - base.heapTotal) / 2 ** 20).toFixed(1)} MiB, external +${((r.external - base.external) / 2 ** 20).toFixed(1)} MiB, of which free line chunks ${((r.pooled ?? 0) / 2 ** 20).toFixed(1)} MiB); marginal since previous reading ${marginal.toFixed(0)} B/conn`,
      );
      prev = r;
    }
    return { rows, notes };
  } finally {
    await pool.stop();
    removeTmp(out);
  }
}
