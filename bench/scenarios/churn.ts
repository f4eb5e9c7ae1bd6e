// Scenario 4: short connections (load.c churn: each closed right after its handshake)
// while the collector CLI runs at 10 ms in nsA. Counts the connections whose archive ends
// with a CLOSE (7) snapshot, i.e. whose true final state was recorded, against the
// connections load.c created. Run with destroy events on and off.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readArchiveSync } from "../../src/archive/reader.ts";
import { parseInetDiagMsg } from "../../src/diag/snapshot.ts";
import { LineReader } from "../netns.ts";
import { runChurn } from "../lib/load.ts";
import { BUN, REPO_DIR } from "../lib/proc.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { withTimeout } from "../lib/stats.ts";
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

function statusField(status: string, key: string): number {
  const m = new RegExp(`\\b${key}=(\\d+)`).exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

async function churnOnce(ctx: PopulatedContext, destroyEvents: boolean): Promise<{ rows: Row[]; note: string }> {
  const { tb, sizes } = ctx;
  const out = makeTmpDir("churn");
  try {
    const argv = [BUN, join(REPO_DIR, "src/index.ts"), "collector", "--output", out, "--interval", "10", "--status-seconds", "0",
      // A bound on its life even if nobody stops it.
      "--reps", String(100 * (sizes.churnSeconds + 60))];
    if (!destroyEvents) argv.push("--no-destroy-events");
    const proc = tb.exec(tb.nsA, argv, { stdout: "ignore", stderr: "pipe" });
    const err = new LineReader(proc.stderr);
    await err.waitFor(/^collector: writing/, 15_000);
    await Bun.sleep(200);
    const churn = await runChurn(tb, ctx.bins.load, tb.addrB, sizes.churnRate, sizes.churnSeconds);
    // Longer than vanishGraceMs (250) plus a few polls, so every last socket is ended.
    await Bun.sleep(800);
    proc.kill("SIGTERM");
    const code = await withTimeout(proc.exited, 30_000, -1);
    if (code === -1) proc.kill("SIGKILL");
    await err.done;
    const status = err.lines.find((l) => l.startsWith("status:")) ?? "";
    if (code !== 0) throw new Error(`collector exited ${code}: ${err.lines.slice(-5).join(" | ")}`);
    const c = countArchives(out);
    const label = destroyEvents ? "destroy events on" : "--no-destroy-events";
    const name = `churn ${sizes.churnRate}/s x ${sizes.churnSeconds}s, ${label}`;
    const details = { churn: churn.raw, archives: c, status, opened: statusField(status, "opened"), closed: statusField(status, "closed"), destroyEvents: statusField(status, "destroy_events") };
    return {
      rows: [
        row({ scenario: 4, key: `s4.churn.${destroyEvents ? "destroy" : "poll-only"}.final`, name, metric: "final CLOSE snapshot / created", unit: "%", value: (100 * c.finalClose) / churn.created, floor: null, target: destroyEvents ? { op: ">=", value: 99.9, on: "value" } : null, details }),
        row({ scenario: 4, key: `s4.churn.${destroyEvents ? "destroy" : "poll-only"}.seen`, name, metric: "archived at all / created", unit: "%", value: (100 * c.connections) / churn.created, floor: null, target: null }),
      ],
      note: `s4 (${label}): load created ${churn.created} (established ${churn.established}, failed ${churn.failed}); archives: ${c.connections} connections in ${c.files} files, ${c.records} records, ${c.finalClose} ending in CLOSE (others by last state: ${JSON.stringify(c.otherFinalStates)}); collector ${status.replace(/^status: /, "")}`,
    };
  } finally {
    removeTmp(out);
  }
}

export async function churn(ctx: PopulatedContext): Promise<ScenarioOutput> {
  const on = await churnOnce(ctx, true);
  const off = await churnOnce(ctx, false);
  return { rows: [...on.rows, ...off.rows], notes: [on.note, off.note] };
}
