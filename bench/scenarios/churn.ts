// Scenario 4: a flood of short connections (load.c churn: each closed right after its
// handshake; 5,000/s for 10 s, 1,000/s for 3 s with --quick) while the collector CLI runs
// at 10 ms in nsA. Counts the connections whose archive ends with a CLOSE (7) snapshot,
// i.e. whose true final state was recorded, against the connections load.c created; and
// reads the collector's cycle durations and periods off its status lines (once a second)
// printed from the flood's start to the first after its end. Run with destroy events on
// (the targets) and off (for comparison: it archives next to nothing, so it is cheap).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readArchiveSync } from "../../src/archive/reader.ts";
import { parseInetDiagMsg } from "../../src/diag/snapshot.ts";
import { LineReader } from "../netns.ts";
import { startChurn, type ChurnRun } from "../lib/load.ts";
import { BUN, REPO_DIR } from "../lib/proc.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { withTimeout } from "../lib/stats.ts";
import { collectorLine, statusCadence, statusField, statusLineAfter, statusLines } from "../lib/status-line.ts";
import type { PopulatedContext } from "./context.ts";

const TCP_CLOSE = 7;

interface ArchiveCount {
  files: number;
  connections: number;
  finalClose: number;
  records: number;
  /** Last-record TCP state of the connections that did not end in CLOSE: state -> count. */
  otherFinalStates: Record<string, number>;
}

function listArchives(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith(".jsonl.zst")) out.push(join(e.parentPath, e.name));
  }
  return out;
}

/** Reads every archive: a connection counts once, with the state of its last record. */
function countArchives(dir: string): ArchiveCount {
  const last = new Map<string, { seq: number; state: number }>();
  let records = 0;
  const files = listArchives(dir);
  for (const f of files) {
    let uuid = "";
    let seq = 0;
    let state = -1;
    for (const e of readArchiveSync(f)) {
      if (e.kind === "metadata") {
        uuid = e.metadata.uuid;
        seq = e.metadata.sequence;
      } else {
        records++;
        state = parseInetDiagMsg(e.rawIdm, 0)?.state ?? -1;
      }
    }
    const prev = last.get(uuid);
    if (prev === undefined || seq >= prev.seq) last.set(uuid, { seq, state });
  }
  let finalClose = 0;
  const otherFinalStates: Record<string, number> = {};
  for (const v of last.values()) {
    if (v.state === TCP_CLOSE) finalClose++;
    else otherFinalStates[String(v.state)] = (otherFinalStates[String(v.state)] ?? 0) + 1;
  }
  return { files: files.length, connections: last.size, finalClose, records, otherFinalStates };
}

/** The collector's exit status after a shutdown that lost lines (EXIT_DATA_LOST, src/daemon/daemon.ts): the counts show the loss. */
const EXIT_DATA_LOST = 3;

/** The collector's cadence over the flood, from its status lines (each covers its last 4,096 cycles). */
interface FloodCadence {
  /** Maxima over the window's status lines of their p99 and max, ms. */
  cycleP99: number;
  cycleMax: number;
  periodP99: number;
  periodMax: number;
  /** Status lines in the window, and the cycle count at the last of them. */
  lines: number;
  cycles: number;
}

function floodCadence(lines: readonly string[], from: number, to: number): FloodCadence {
  const window = statusLines(lines, from, to);
  const max = (key: "cycle_ms" | "period_ms", q: "p99" | "max"): number => {
    const xs = window.map((l) => statusCadence(l, key)?.[q] ?? Number.NaN).filter((x) => Number.isFinite(x));
    return xs.length > 0 ? Math.max(...xs) : Number.NaN;
  };
  return {
    cycleP99: max("cycle_ms", "p99"),
    cycleMax: max("cycle_ms", "max"),
    periodP99: max("period_ms", "p99"),
    periodMax: max("period_ms", "max"),
    lines: window.length,
    cycles: statusField(window.at(-1) ?? "", "cycles"),
  };
}

async function churnOnce(ctx: PopulatedContext, destroyEvents: boolean): Promise<{ rows: Row[]; note: string }> {
  const { tb, sizes } = ctx;
  const out = makeTmpDir("churn");
  const argv = [BUN, join(REPO_DIR, "src/index.ts"), "collector", "--output", out, "--interval", "10", "--status-seconds", "1",
    // A bound on its life even if nobody stops it.
    "--reps", String(100 * (sizes.churnSeconds + 120))];
  if (!destroyEvents) argv.push("--no-destroy-events");
  const proc = tb.exec(tb.nsA, argv, { stdout: "ignore", stderr: "pipe" });
  const err = new LineReader(proc.stderr);
  let run: ChurnRun | null = null;
  try {
    await collectorLine(proc, err, /^collector: writing/, 15_000);
    const polling = performance.now();
    await Bun.sleep(200);
    // The flood window: from the load's start to the first status line after its end.
    const from = err.lines.length;
    const preFloodMs = performance.now() - polling;
    run = await startChurn(tb, ctx.bins.load, tb.addrB, sizes.churnRate, sizes.churnSeconds);
    const exit = await withTimeout(run.exited, sizes.churnSeconds * 1000 + 30_000, -1);
    const floodEnd = err.lines.length;
    const churn = await run.stop(10_000);
    run = null;
    if (exit !== 0) throw new Error(`churn client failed (exit ${exit}): created ${churn.created}, established ${churn.established}, failed ${churn.failed}`);
    // Longer than vanishGraceMs (250) plus a few polls, so every last socket is ended.
    await Bun.sleep(800);
    const to = (await statusLineAfter(err, floodEnd, 3_000)) ?? err.lines.length;
    const flood = floodCadence(err.lines, from, to);
    proc.kill("SIGTERM");
    // Past its own --shutdown-timeout (60 s), in case the flood left lines to write.
    const code = await withTimeout(proc.exited, 90_000, -1);
    if (code === -1) proc.kill("SIGKILL");
    await err.done;
    // The line printed at exit: counters over the whole run.
    const status = err.lines.findLast((l) => l.startsWith("status:")) ?? "";
    if (code !== 0 && code !== EXIT_DATA_LOST) throw new Error(`collector exited ${code}: ${err.lines.slice(-5).join(" | ")}`);
    const c = countArchives(out);
    const label = destroyEvents ? "destroy events on" : "--no-destroy-events";
    const name = `flood ${sizes.churnRate}/s x ${sizes.churnSeconds}s, ${label}`;
    const k = `s4.churn.${destroyEvents ? "destroy" : "poll-only"}`;
    const details = { churn: churn.raw, archives: c, status, exitCode: code, flood, preFloodMs, opened: statusField(status, "opened"), closed: statusField(status, "closed"), destroyEvents: statusField(status, "destroy_events") };
    const stopped = code === 0 ? "" : `; collector exit status ${code} (lines lost at shutdown: ${err.lines.filter((l) => l.startsWith("collector: stopped")).at(-1) ?? ""})`;
    return {
      rows: [
        row({ scenario: 4, key: `${k}.final`, name, metric: "final CLOSE snapshot / created", unit: "%", value: (100 * c.finalClose) / churn.created, floor: null, target: destroyEvents ? { op: ">=", value: 99.9, on: "value" } : null, details }),
        row({ scenario: 4, key: `${k}.seen`, name, metric: "archived at all / created", unit: "%", value: (100 * c.connections) / churn.created, floor: null, target: null }),
        row({ scenario: 4, key: `${k}.cycle-p99`, name, metric: "p99 cycle during the flood", unit: "ms", value: flood.cycleP99, floor: null, target: destroyEvents ? { op: "<=", value: 100, on: "value" } : null, details: { ...flood, preFloodMs } }),
      ],
      note:
        `s4 (${label}): load created ${churn.created} (established ${churn.established}, failed ${churn.failed}); archives: ${c.connections} connections in ${c.files} files, ${c.records} records, ${c.finalClose} ending in CLOSE (others by last state: ${JSON.stringify(c.otherFinalStates)}); ` +
        `flood from ${preFloodMs.toFixed(0)} ms after polling began; its window (${flood.lines} status lines, the last at cycle ${flood.cycles}): cycle p99 ${flood.cycleP99.toFixed(2)} ms (max ${flood.cycleMax.toFixed(2)}), period p99 ${flood.periodP99.toFixed(2)} ms (max ${flood.periodMax.toFixed(2)})${stopped}; ` +
        `collector at exit: ${status.replace(/^status: /, "")}`,
    };
  } finally {
    if (run !== null) await run.stop().catch(() => null);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    removeTmp(out);
  }
}

export async function churn(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const on = await churnOnce(ctx, true);
  const off = await churnOnce(ctx, false);
  return {
    rows: [...on.rows, ...off.rows],
    notes: [
      on.note,
      off.note,
      "s4: cycle and period figures are the largest p99 (and max) of the collector's status lines (--status-seconds 1) printed from the flood's start to the first line after its end; " +
        "each line's quantiles cover its last 4,096 cycles, i.e. here every cycle since the collector began polling (a few idle cycles before the flood, then the flood and about a second after it).",
    ],
  };
}
