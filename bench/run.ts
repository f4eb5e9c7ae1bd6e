/**
 * The benchmark: `bun run bench` (full, well under 10 minutes) or `bun run bench --quick`
 * (2k connections, fewer repetitions, no 50k and no index benchmark; under a minute).
 *
 * Every figure of the code under test sits next to the C floor (bench/floor.c) measured
 * in the same run, interleaved with it, with the same dump request. Prints a table on
 * stdout, progress on stderr, and writes bench/results.json (or --out PATH).
 *
 * Options: --quick, --only 1,2,..  (scenario numbers), --out PATH, --index-args "ARGS"
 *          (arguments passed to bench/index-query.ts; default none, i.e. its own defaults),
 *          --tmp DIR (where archives are written; default os.tmpdir()).
 *          Scenario 9, the memory soak (30 minutes), runs only when asked for: --only 9
 *          (also --only soak) or --soak; --soak-minutes N sets its length (default 30,
 *          3 with --quick), --soak-period-ms M the active connections' write period (100).
 *
 * Everything runs as root inside two network namespaces created for the run (see
 * netns.ts); they, the load processes, the workers and the scratch folders are removed at
 * exit, on error and on SIGINT/SIGTERM.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BENCH_DIR, createTestbed, ensureBuilt, type BenchBinaries, type Testbed } from "./netns.ts";
import { LoadPool } from "./lib/load.ts";
import { machineInfo, renderTable, type ScenarioOutput, type ScenarioRecord } from "./lib/results.ts";
import { removeAllTmp, setTmpRoot, tmpRoot } from "./lib/tmp.ts";
import { fileCreateUs } from "./lib/env-probe.ts";
import { FULL, QUICK, type BenchContext, type PopulatedContext } from "./scenarios/context.ts";
import { dumpSplit } from "./scenarios/dump-split.ts";
import { idlePoll } from "./scenarios/idle-poll.ts";
import { active } from "./scenarios/active.ts";
import { churn } from "./scenarios/churn.ts";
import { memory } from "./scenarios/memory.ts";
import { ssScenario } from "./scenarios/ss.ts";
import { wholeProcess } from "./scenarios/process.ts";
import { indexQuery, indexQueryExists } from "./scenarios/index-query.ts";
import { soak, SOAK_DEFAULTS } from "./scenarios/soak.ts";
import { apiLoad } from "./scenarios/api-load.ts";
import { analysis } from "./scenarios/analysis.ts";
import { manyNamespaces } from "./scenarios/netns-many.ts";
import { exportScenario } from "./scenarios/export.ts";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const quick = process.argv.includes("--quick");
const onlyArg = option("only");
const only = onlyArg === undefined ? null : new Set(onlyArg.split(",").map((x) => (x === "soak" ? 9 : Number(x))));
// The soak takes half an hour: never part of a default run.
const soakAsked = process.argv.includes("--soak");
const soakMinutes = Number(option("soak-minutes") ?? (quick ? 3 : SOAK_DEFAULTS.minutes));
const soakPeriodMs = Number(option("soak-period-ms") ?? SOAK_DEFAULTS.periodMs);
if (!(soakMinutes > 0)) throw new Error("--soak-minutes must be a positive number");
if (!(soakPeriodMs >= 1)) throw new Error("--soak-period-ms must be at least 1");
const outPath = option("out") ?? join(BENCH_DIR, "results.json");
const indexArgs = (option("index-args") ?? "").split(/\s+/).filter((s) => s !== "");
const wanted = (n: number): boolean => (n === 9 ? only?.has(9) === true || soakAsked : only === null || only.has(n));
const tmpArg = option("tmp");
if (tmpArg !== undefined) setTmpRoot(tmpArg);

const log = (line: string): void => {
  process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1)}s] ${line}\n`);
};
const T0 = performance.now();

// Signals end the run through process.exit, so every "exit" handler runs: netns.ts
// removes the namespaces and kills what runs in them, tmp.ts removes scratch folders.
for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    removeAllTmp();
    process.exit(code);
  });
}

const records: ScenarioRecord[] = [];

const TITLES: Record<number, string> = {
  1: "dump+split vs floor",
  2: "idle poll cycle vs floor",
  3: "active connections: archived records/s",
  4: "churn flood: connections with a final snapshot, cycle p99",
  5: "memory per tracked connection",
  6: "ss -tinm",
  7: "whole collector process vs floor process, steady state",
  8: "index + API (bench/index-query.ts)",
  9: "memory soak: collector RSS under steady churn",
  10: "API load: polls/s and request latency with 8 API clients",
  11: "a long connection: summary, series and its page in a browser",
  12: "every network namespace: 100 namespaces x 100 idle connections, --netns all vs floor",
  13: "export: archives to Parquet, snapshots per CPU-second and size",
};

async function scenario(n: number, fn: () => Promise<ScenarioOutput>): Promise<void> {
  const title = TITLES[n] ?? `scenario ${n}`;
  if (!wanted(n)) return;
  log(`scenario ${n}: ${title}`);
  const t = performance.now();
  try {
    const output = await fn();
    records.push({ scenario: n, title, seconds: (performance.now() - t) / 1000, status: "ok", output });
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    log(`scenario ${n} FAILED: ${error}`);
    records.push({ scenario: n, title, seconds: (performance.now() - t) / 1000, status: "failed", error });
  }
}

function skip(n: number, why: string): void {
  if (!wanted(n)) return;
  records.push({ scenario: n, title: TITLES[n] ?? "", seconds: 0, status: "skipped", error: why });
}

async function makeTestbed(): Promise<Testbed> {
  const tb = await createTestbed({ prefix: "tib" });
  for (const w of tb.warnings) log(`testbed warning: ${w}`);
  return tb;
}

/** A fresh test bed for one phase, so no phase sees another's sockets (or TIME_WAITs). */
async function withTestbed(body: (tb: Testbed) => Promise<void>): Promise<void> {
  const tb = await makeTestbed();
  try {
    await body(tb);
  } finally {
    await tb.destroy();
  }
}

async function main(): Promise<void> {
  const sizes = quick ? QUICK : FULL;
  const bins: BenchBinaries = await ensureBuilt();
  const machine = { ...machineInfo(), scratchDir: tmpRoot(), fileCreateUs: fileCreateUs(tmpRoot()) };
  const base: BenchContext = { bins, quick, sizes, log, fileCreateUs: machine.fileCreateUs };
  log(`scratch dir ${machine.scratchDir}: creating a file costs ${machine.fileCreateUs.toFixed(0)} µs`);
  log(`${quick ? "quick" : "full"} run on ${machine.cores} cores, ${machine.cpuModel}, kernel ${machine.kernel}, bun ${machine.bun}`);

  // Phase 1: N idle connections shared by scenarios 1, 2 and 6.
  if ([1, 2, 6].some(wanted)) {
    await withTestbed(async (tb) => {
      const ctx: PopulatedContext = { ...base, tb };
      const pool = new LoadPool(tb, bins.load, { mode: "idle", connect: tb.addrB });
      try {
        log(`establishing ${sizes.conns} idle connections`);
        await pool.add(sizes.conns);
        await scenario(1, () => dumpSplit(ctx));
        await scenario(2, () => idlePoll(ctx));
        await scenario(6, () => ssScenario(ctx));
      } finally {
        await pool.stop();
      }
    });
  }
  // Scenario 7 grows its own populations (1k, 3k, 10k idle; 1k active), each in a fresh test bed.
  await scenario(7, () => wholeProcess(base, makeTestbed));
  if (wanted(3)) await withTestbed((tb) => scenario(3, () => active({ ...base, tb })));
  if (wanted(4)) await withTestbed((tb) => scenario(4, () => churn({ ...base, tb })));
  if (wanted(5)) await withTestbed((tb) => scenario(5, () => memory({ ...base, tb })));
  if (!indexQueryExists()) skip(8, "bench/index-query.ts not found");
  else if (quick) skip(8, "skipped in --quick (index-query.ts has ~20 s of fixed paced phases)");
  else await scenario(8, () => indexQuery(base, indexArgs));
  if (wanted(10)) await withTestbed((tb) => scenario(10, () => apiLoad({ ...base, tb })));
  await scenario(11, () => analysis(base));
  await scenario(12, () => manyNamespaces(base));
  await scenario(13, () => exportScenario(base));
  if (wanted(9)) await withTestbed((tb) => scenario(9, () => soak({ ...base, tb }, { ...SOAK_DEFAULTS, minutes: soakMinutes, periodMs: soakPeriodMs })));

  records.sort((a, b) => a.scenario - b.scenario);
  const totalSeconds = (performance.now() - T0) / 1000;
  const allRows = records.flatMap((r) => r.output?.rows ?? []);
  const missed = allRows.filter((r) => r.met === false);
  const met = allRows.filter((r) => r.met === true);
  const failed = records.filter((r) => r.status === "failed");

  const out: string[] = [];
  out.push(`tcp-info-bun benchmark (${quick ? "--quick" : "full"}): ${machine.cores} cores, ${machine.cpuModel}, kernel ${machine.kernel}, bun ${machine.bun}, ${machine.date}`);
  out.push(`scratch dir ${machine.scratchDir} (file create+write+close: ${machine.fileCreateUs.toFixed(0)} µs each)`);
  out.push("");
  out.push(renderTable(records));
  out.push("");
  out.push(`targets: ${met.length} met, ${missed.length} MISSED${missed.length ? ` (${missed.map((r) => `${r.key}`).join(", ")})` : ""}; ${failed.length} scenario(s) failed; total ${totalSeconds.toFixed(0)} s`);
  out.push("");
  for (const r of records) {
    if (r.status !== "ok") out.push(`s${r.scenario}: ${r.status}: ${r.error ?? ""}`);
    for (const n of r.output?.notes ?? []) out.push(n);
  }
  process.stdout.write(`${out.join("\n")}\n`);

  const json = {
    mode: quick ? "quick" : "full",
    machine,
    totalSeconds,
    summary: { met: met.length, missed: missed.map((r) => r.key), failed: failed.map((r) => r.scenario) },
    scenarios: records.map((r) => ({
      scenario: r.scenario,
      title: r.title,
      status: r.status,
      seconds: r.seconds,
      error: r.error,
      results: (r.output?.rows ?? []).map((x) => ({
        key: x.key,
        name: x.name,
        metric: x.metric,
        unit: x.unit,
        median: x.value,
        floor: x.floor,
        ratio: x.ratio,
        target: x.target === null ? null : `${x.target.op} ${x.target.value}${x.target.on === "ratio" ? "x (ratio to floor)" : ` ${x.unit}`}`,
        met: x.met,
        details: x.details,
      })),
      notes: r.output?.notes ?? [],
    })),
  };
  writeFileSync(outPath, `${JSON.stringify(json, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
  log(`wrote ${outPath}`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  log(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
