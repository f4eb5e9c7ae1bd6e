// Scenario 8: bench/index-query.ts (the index and HTTP API benchmark, written separately)
// run as it is, in this (host) namespace: it only talks to itself over loopback. It has no
// machine-readable output yet, so its table is parsed from the text and also kept whole.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BENCH_DIR } from "../netns.ts";
import { BUN } from "../lib/proc.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import type { BenchContext } from "./context.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";

export const INDEX_QUERY = join(BENCH_DIR, "index-query.ts");

const live = new Set<{ kill(sig?: number | NodeJS.Signals): void }>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export function indexQueryExists(): boolean {
  return existsSync(INDEX_QUERY);
}

const NUM = "([0-9.]+)";

export async function indexQuery(ctx: BenchContext, args: readonly string[]): Promise<ScenarioOutput> {
  // Its index goes under os.tmpdir(): pointing TMPDIR at one of our scratch folders
  // means it is removed even if the run is interrupted while index-query is running.
  const scratch = makeTmpDir("index");
  const proc = Bun.spawn([BUN, INDEX_QUERY, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, TMPDIR: scratch } });
  live.add(proc);
  let text: string;
  let errText: string;
  let code: number;
  const timer = setTimeout(() => proc.kill("SIGKILL"), 600_000);
  try {
    [text, errText, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  } finally {
    clearTimeout(timer);
    live.delete(proc);
    removeTmp(scratch);
  }
  if (code !== 0) throw new Error(`index-query exited ${code}: ${errText.trim().split("\n").slice(-3).join(" | ")}`);
  const lines = text.split("\n");
  const rows: Row[] = [];
  // Query table: "query  rows  db p50 ms  db p99 ms  http p50 ms  http p99 ms".
  const h = lines.findIndex((l) => l.startsWith("query") && l.includes("http p99"));
  if (h >= 0) {
    for (const l of lines.slice(h + 1)) {
      const m = new RegExp(`^(.*?)\\s+(\\d+)\\s+${NUM}\\s+${NUM}\\s+${NUM}\\s+${NUM}$`).exec(l.trim());
      if (!m) break;
      const [, query = "", n = "", dbP50 = "", dbP99 = "", httpP50 = "", httpP99 = ""] = m;
      // The target is on the p99 of the port queries (the API's main use), over ~1M rows.
      const portQuery = query.startsWith("port=");
      rows.push(row({ scenario: 8, key: `s8.index.${query}`, name: `index: GET /connections?${query}`, metric: "http p99", unit: "ms", value: Number(httpP99), floor: null, target: portQuery ? { op: "<=", value: 5, on: "value" } : null, details: { rows: Number(n), dbP50: Number(dbP50), dbP99: Number(dbP99), httpP50: Number(httpP50), httpP99: Number(httpP99) } }));
    }
  }
  const cycleLine = (re: RegExp, key: string, name: string): void => {
    const l = lines.find((x) => re.test(x));
    const m = l ? new RegExp(`p50 ${NUM} ms, p99 ${NUM} ms, max ${NUM} ms`).exec(l) : null;
    if (m) rows.push(row({ scenario: 8, key, name, metric: "p50", unit: "ms", value: Number(m[1]), floor: null, target: null, details: { p50: Number(m[1]), p99: Number(m[2]), max: Number(m[3]) } }));
  };
  cycleLine(/1 report\/s of 1,000 opened/, "s8.index.apply-1000", "index: applyCycle 1k opened+updated+closed");
  cycleLine(/^\s*100 reports\/s of 10/, "s8.index.apply-paced", "index: applyCycle 100/s of 10+10+10");
  cycleLine(/applyCycles of 25 reports/, "s8.index.apply-batched", "index: applyCycles 25 reports/250 ms");
  ctx.log(`index-query: ${rows.length} figures parsed`);
  return {
    rows,
    notes: [`s8: \`bun bench/index-query.ts ${args.join(" ")}\` output:`, ...lines.filter((l) => l.trim() !== "").map((l) => `    ${l}`)],
    raw: { stdout: text },
  };
}
