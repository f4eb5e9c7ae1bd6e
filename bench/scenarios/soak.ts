// Scenario 9: a memory soak. The real CLI collector (`bun src/index.ts collector`, index,
// API and eventsocket on, as a user runs it) in nsA, under steady churn: load.c holds
// `activeConns` long-lived connections that all move data, and a second load client opens
// `churnRate` short connections a second, each closed right after its handshake; a sidecar
// (`bun src/index.ts sidecar`) reads the eventsocket throughout. The
// collector's RSS is read from /proc/<pid>/status every `sampleSeconds`, its /metrics
// scraped and one /connections page queried at the same time (as Prometheus and a user
// would); the scenario reports RSS at 5, 10, 20 and 30 minutes (those within the run,
// plus its end) and how much it still grew over the second half.
//
// Not part of a default run (30 minutes): `bun run bench --only 9` or `--soak`;
// `--soak-minutes N` sets the length (default 30, 3 with --quick).
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { LineReader } from "../netns.ts";
import { LoadPool, startChurn, type ChurnRun, type ChurnSummary } from "../lib/load.ts";
import { BUN, REPO_DIR, statusKiB } from "../lib/proc.ts";
import { row, type Row, type ScenarioOutput } from "../lib/results.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { median, withTimeout } from "../lib/stats.ts";
import type { PopulatedContext } from "./context.ts";

export interface SoakOptions {
  minutes: number;
  sampleSeconds: number;
  activeConns: number;
  /** Write period of each active connection (ms) and bytes per write. */
  periodMs: number;
  bytes: number;
  /** New short connections per second. */
  churnRate: number;
  /** The collector's entry point (default src/index.ts); a debugging wrapper may stand in. */
  entry?: string;
  /** Extra collector flags. */
  extraArgs?: readonly string[];
}

export const SOAK_DEFAULTS: SoakOptions = { minutes: 30, sampleSeconds: 30, activeConns: 500, periodMs: 100, bytes: 100, churnRate: 200 };
/** RSS is reported at these minutes (those within the run), and at its end. */
export const SOAK_MARKS = [5, 10, 20, 30];

export interface SoakSample {
  /** Seconds since the load was in place. */
  t: number;
  /** /proc/<pid>/status, KiB. */
  rssKiB: number;
  hwmKiB: number;
  anonKiB: number;
  fileKiB: number;
  shmemKiB: number;
  /** From /metrics (NaN when the scrape failed). */
  heapUsedBytes: number;
  externalBytes: number;
  indexRows: number;
  /** tcpinfo_index_write_seconds: total seconds and batches so far. */
  indexWriteSeconds: number;
  indexWrites: number;
  /** Connections tracked, from the latest status line. */
  tracked: number;
  /** How long the /metrics and /connections requests took together, ms. */
  apiMs: number;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

const MiB = (kib: number): string => (kib / 1024).toFixed(1);
const minutes = (seconds: number): string => (seconds < 600 ? (seconds / 60).toFixed(1) : (seconds / 60).toFixed(0));

export async function soak(ctx: PopulatedContext, opts: SoakOptions): Promise<ScenarioOutput> {
  const { tb, log } = ctx;
  const out = makeTmpDir("soak");
  const seconds = opts.minutes * 60;
  const listen = "127.0.0.1:9990";
  const argv = [BUN, opts.entry ?? join(REPO_DIR, "src/index.ts"), "collector", "--interval", "10", "--output", join(out, "archive"),
    "--db", join(out, "index.sqlite"), "--listen", listen, "--eventsocket", join(out, "events.sock"),
    "--status-seconds", String(opts.sampleSeconds), ...(opts.extraArgs ?? [])];
  const collector = tb.exec(tb.nsA, argv, { stdout: "ignore", stderr: "pipe" });
  const err = new LineReader(collector.stderr);
  let sidecar: ReturnType<typeof tb.exec<"ignore", "ignore">> | null = null;
  const pool = new LoadPool(tb, ctx.bins.load, { mode: "active", connect: tb.addrB, periodMs: opts.periodMs, bytes: opts.bytes, seconds: seconds + 600 });
  let churn: ChurnRun | null = null;
  const alive = (): boolean => collector.exitCode === null && collector.signalCode === null;
  const dead = (): Error => new Error(`collector exited (${String(collector.exitCode ?? collector.signalCode)}): ${err.lines.slice(-5).join(" | ")}`);
  try {
    await err.waitFor(/^collector: writing/, 30_000);
    sidecar = tb.exec(tb.nsA, [BUN, join(REPO_DIR, "src/index.ts"), "sidecar", "--eventsocket", join(out, "events.sock")], { stdout: "ignore", stderr: "ignore" });
    log(`soak: ${opts.activeConns} active connections (every ${opts.periodMs} ms, ${opts.bytes} B) + ${opts.churnRate} new connections/s for ${opts.minutes} min; collector pid ${collector.pid}`);
    await pool.add(opts.activeConns);
    churn = await startChurn(tb, ctx.bins.load, tb.addrB, opts.churnRate, seconds + 30);
    const t0 = performance.now();

    const scrape = async (): Promise<{ text: string; ms: number }> => {
      const s = performance.now();
      const curl = (path: string) =>
        tb.exec(tb.nsA, ["curl", "-sf", "-m", "10", `http://${listen}${path}`], { stdout: "pipe", stderr: "ignore" });
      const m = curl("/metrics");
      const q = curl("/connections?limit=100");
      const [text] = await Promise.all([new Response(m.stdout).text(), new Response(q.stdout).arrayBuffer(), m.exited, q.exited]);
      return { text, ms: performance.now() - s };
    };
    const sample = async (): Promise<SoakSample> => {
      const t = (performance.now() - t0) / 1000;
      const status = readFileSync(`/proc/${collector.pid}/status`, "utf8");
      const { text, ms } = await scrape();
      const statusLine = err.lines.findLast((l) => l.startsWith("status:")) ?? "";
      const tracked = Number(/\btracked=(\d+)/.exec(statusLine)?.[1] ?? Number.NaN);
      return {
        t,
        rssKiB: statusKiB(status, "VmRSS"),
        hwmKiB: statusKiB(status, "VmHWM"),
        anonKiB: statusKiB(status, "RssAnon"),
        fileKiB: statusKiB(status, "RssFile"),
        shmemKiB: statusKiB(status, "RssShmem"),
        heapUsedBytes: metric(text, "nodejs_heap_size_used_bytes"),
        externalBytes: metric(text, "nodejs_external_memory_bytes"),
        indexRows: metric(text, "tcpinfo_index_rows"),
        indexWriteSeconds: metric(text, "tcpinfo_index_write_seconds_sum"),
        indexWrites: metric(text, "tcpinfo_index_write_seconds_count"),
        tracked,
        apiMs: ms,
      };
    };

    const samples: SoakSample[] = [];
    for (let k = 0; k * opts.sampleSeconds <= seconds; k++) {
      const wait = t0 + k * opts.sampleSeconds * 1000 - performance.now();
      if (wait > 0) await Promise.race([Bun.sleep(wait), collector.exited]);
      if (!alive()) throw dead();
      const s = await sample();
      samples.push(s);
      log(`soak ${(s.t / 60).toFixed(1)} min: RSS ${MiB(s.rssKiB)} MiB (anon ${MiB(s.anonKiB)}, file ${MiB(s.fileKiB)}, shmem ${MiB(s.shmemKiB)}), JS heap used ${(s.heapUsedBytes / 2 ** 20).toFixed(1)} MiB, tracked ${s.tracked}, index rows ${s.indexRows}`);
    }

    const churnSummary: ChurnSummary = await churn.stop();
    churn = null;
    const loadSummaries = await pool.stop();
    sidecar.kill("SIGINT");
    collector.kill("SIGTERM");
    const code = await withTimeout(collector.exited, 120_000, -1); // past its own --shutdown-timeout (60 s)
    if (code === -1) collector.kill("SIGKILL");
    await err.done;
    // The figures stand whatever the exit status (3: lines or index reports lost at shutdown); the note says it.
    const lastStatus = err.lines.findLast((l) => l.startsWith("status:")) ?? "";
    return report(opts, samples, { churn: churnSummary.raw, active: loadSummaries, lastStatus, exitCode: code, stopped: err.lines.filter((l) => l.startsWith("collector: stopped")).at(-1) ?? err.lines.at(-1) ?? "" });
  } finally {
    if (churn !== null) await churn.stop().catch(() => null);
    await pool.stop();
    if (sidecar !== null && sidecar.exitCode === null && sidecar.signalCode === null) sidecar.kill("SIGKILL");
    if (alive()) {
      collector.kill("SIGKILL");
      await collector.exited;
    }
    removeTmp(out);
  }
}

/** The sample taken at (or first after) minute `m`. */
function at(samples: readonly SoakSample[], m: number): SoakSample | undefined {
  return samples.find((s) => s.t >= m * 60 - 1);
}

function report(opts: SoakOptions, samples: readonly SoakSample[], details: Record<string, unknown>): ScenarioOutput {
  const last = samples.at(-1);
  if (last === undefined) throw new Error("no RSS sample");
  const marks = SOAK_MARKS.filter((m) => m <= opts.minutes);
  if (!marks.includes(opts.minutes)) marks.push(opts.minutes);
  const load = `${opts.activeConns} active + ${opts.churnRate}/s churn`;
  const rows: Row[] = [];
  for (const m of marks) {
    const s = at(samples, m) ?? last;
    rows.push(row({ scenario: 9, key: `s9.soak.rss.${m}min`, name: `soak, ${load}, at ${m} min`, metric: "collector RSS", unit: "MiB", value: s.rssKiB / 1024, floor: null, target: null, details: { ...s } }));
  }
  // Levelling off: the median RSS of the run's last sixth against that of the sixth
  // before its middle (medians, because the JS heap's collections swing RSS by tens of MiB).
  const window = (opts.minutes * 60) / 6;
  const mid = at(samples, opts.minutes / 2) ?? samples[0];
  const med = (from: number, to: number): number => median(samples.filter((s) => s.t >= from - 1 && s.t <= to + 1).map((s) => s.rssKiB)) / 1024;
  const before = med(mid.t - window, mid.t);
  const after = med(last.t - window, last.t);
  const writes = last.indexWrites - (samples[0].indexWrites || 0);
  const writeMs = writes > 0 ? (1000 * (last.indexWriteSeconds - (samples[0].indexWriteSeconds || 0))) / writes : Number.NaN;
  rows.push(row({ scenario: 9, key: "s9.soak.rss.growth-second-half", name: `soak, ${load}, median of the last ${minutes(window)} min vs of the ${minutes(window)} min before ${minutes(mid.t)} min`, metric: "RSS growth", unit: "MiB", value: after - before, floor: null, target: null, details: { medianBeforeMiB: before, medianAfterMiB: after, peakMiB: last.hwmKiB / 1024, indexWriteMsPerBatch: writeMs, exitCode: details.exitCode, samples } }));
  const series = samples.map((s) => `${(s.t / 60).toFixed(1)}:${MiB(s.rssKiB)}`).join(" ");
  return {
    rows,
    notes: [
      `s9: ${opts.minutes} min, ${opts.activeConns} active connections (a write of ${opts.bytes} B every ${opts.periodMs} ms each) + ${opts.churnRate} new connections/s; RSS every ${opts.sampleSeconds} s (min:MiB): ${series}`,
      `s9: collector exit status ${String(details.exitCode)} at SIGTERM: ${String(details.stopped)}`,
      `s9: at the end: RSS ${MiB(last.rssKiB)} MiB (anon ${MiB(last.anonKiB)}, file ${MiB(last.fileKiB)}, shmem ${MiB(last.shmemKiB)}), peak ${MiB(last.hwmKiB)} MiB; JS heap used ${(last.heapUsedBytes / 2 ** 20).toFixed(1)} MiB; index rows ${last.indexRows}, ${writeMs.toFixed(1)} ms per index batch; ${String(details.lastStatus).replace(/^status: /, "")}`,
    ],
    raw: { samples, ...details },
  };
}
