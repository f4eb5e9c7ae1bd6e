/**
 * Runs one worker of bench/workers/ against a population, for diagnosis: a phase
 * breakdown, or a CPU / heap profile of a scenario's worker.
 *
 *   bun bench/profile.ts [--population idle|active] [--conns N] [--bun-flags "FLAGS"] WORKER [ARGS...]
 *
 * In ARGS, {out} becomes a scratch folder (removed afterwards) and {floor} the floor binary.
 * Examples:
 *   bun bench/profile.ts breakdown --out {out}                            # idle 10k
 *   bun bench/profile.ts --population active breakdown --out {out} --changed
 *   bun bench/profile.ts --bun-flags "--cpu-prof-md --cpu-prof-dir /tmp/prof" \
 *       poll-idle --floor {floor} --rounds 2 --reps 50 --out {out}
 * The worker's JSON result is printed on stdout.
 */
import { createTestbed, ensureBuilt } from "./netns.ts";
import { LoadPool } from "./lib/load.ts";
import { BUN, workerPath } from "./lib/proc.ts";
import { makeTmpDir, removeAllTmp } from "./lib/tmp.ts";
import { LineReader } from "./netns.ts";
import { withTimeout } from "./lib/stats.ts";

for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(sig, () => {
    removeAllTmp();
    process.exit(code);
  });
}

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = args[i + 1] ?? fallback;
  args.splice(i, 2);
  return v;
};
const population = opt("population", "idle");
const conns = Number(opt("conns", "10000"));
const bunFlags = opt("bun-flags", "").split(/\s+/).filter((s) => s !== "");
const [worker, ...rest] = args;
if (worker === undefined || (population !== "idle" && population !== "active") || !Number.isInteger(conns) || conns < 0) {
  process.stderr.write("usage: bun bench/profile.ts [--population idle|active] [--conns N] [--bun-flags FLAGS] WORKER [ARGS...]\n");
  process.exit(2);
}

const bins = await ensureBuilt();
const tb = await createTestbed({ prefix: "tib" });
const pool = new LoadPool(tb, bins.load, { mode: population, connect: tb.addrB, periodMs: 10, bytes: 100 });
let code = 1;
try {
  if (conns > 0) await pool.add(conns);
  const out = makeTmpDir("profile");
  const wargs = rest.map((a) => a.replaceAll("{out}", out).replaceAll("{floor}", bins.floor));
  const proc = tb.exec(tb.nsA, [BUN, ...bunFlags, workerPath(worker), ...wargs], { stdout: "pipe", stderr: "inherit" });
  const reader = new LineReader(proc.stdout);
  const exit = await withTimeout(proc.exited, 600_000, -1);
  await reader.done;
  for (const l of reader.lines) process.stdout.write(`${l}\n`);
  code = exit;
} finally {
  await pool.stop();
  await tb.destroy();
  removeAllTmp();
}
process.exit(code);
