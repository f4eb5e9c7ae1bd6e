// Scenario 13: `export` throughput. The collector's own path makes the input: a Collector
// over a generated dump (a real tcp_info message of this kernel, taken from a loopback
// connection, its counters moving every poll as transfers' would) writes the archives
// through an ArchiveSet and the index through ConnectionIndex, every connection ending
// as vanished. Then the `export` command over all of it, in its own process: its CPU
// (every thread, start-up included), its peak memory, and the files' size against the
// archives'.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { Collector } from "../../src/collector/collector.ts";
import type { DumpResult, DumpSource } from "../../src/collector/kernel-source.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { AF_INET, AF_INET6, AF_UNSPEC, Attr, NLMSG_HDRLEN, SOCK_DIAG_BY_FAMILY } from "../../src/diag/constants.ts";
import type { MessageVisitor } from "../../src/diag/netlink-messages.ts";
import { INET_DIAG_MSG_SIZE, TCPI_BYTES_ACKED_OFFSET, TCPI_BYTES_SENT_OFFSET } from "../../src/diag/layouts.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import { BUN, statusKiB } from "../lib/proc.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import { liveMessage } from "./analysis.ts";
import type { BenchContext } from "./context.ts";

const RTT_OFFSET = 68;

/** Every poll, `conns` copies of `base` (cookies 1..conns) with counters moved by the poll number; then empty dumps. */
class GeneratedDump implements DumpSource {
  readonly buffer: Uint8Array;
  readonly families = [AF_INET6, AF_INET];
  readonly lastMessages = [0, 0];
  readonly walks = [AF_UNSPEC];
  readonly lastSeconds = [0];
  readonly fallback = null;
  private poll = 0;
  private readonly len: number;
  private readonly info: number;

  constructor(private readonly base: Uint8Array, private readonly conns: number, private readonly polls: number) {
    this.len = (NLMSG_HDRLEN + base.byteLength + 3) & ~3;
    this.buffer = new Uint8Array(this.len * conns);
    const attrs = new AttributeIndex();
    if (!attrs.index(base, INET_DIAG_MSG_SIZE, base.byteLength) || attrs.offset[Attr.INFO] < 0) throw new Error("no tcp_info in the message");
    this.info = NLMSG_HDRLEN + attrs.offset[Attr.INFO];
    for (let i = 0; i < conns; i++) {
      const off = i * this.len;
      const dv = new DataView(this.buffer.buffer, off);
      dv.setUint32(0, NLMSG_HDRLEN + base.byteLength, true);
      dv.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
      this.buffer.set(base, off + NLMSG_HDRLEN);
      dv.setBigUint64(NLMSG_HDRLEN + 44, BigInt(i + 1), true);
    }
  }

  dump(visit: MessageVisitor): DumpResult {
    const p = this.poll++;
    if (p >= this.polls) return { messages: 0, bytes: 0, chunks: 1, malformed: 0 };
    for (let i = 0; i < this.conns; i++) {
      const off = i * this.len;
      const dv = new DataView(this.buffer.buffer, off);
      const at = this.info;
      dv.setBigUint64(at + TCPI_BYTES_ACKED_OFFSET, BigInt(p * 14_480 + i), true);
      dv.setBigUint64(at + TCPI_BYTES_SENT_OFFSET, BigInt(p * 14_480 + i + 2_896), true);
      dv.setUint32(at + RTT_OFFSET, 200 + ((p * 7 + i) % 50), true);
      visit(this.buffer, off, NLMSG_HDRLEN + this.base.byteLength, SOCK_DIAG_BY_FAMILY);
    }
    return { messages: this.conns, bytes: this.buffer.byteLength, chunks: 1, malformed: 0 };
  }

  reset(): void {}
  close(): void {}
}

function treeBytes(dir: string, suffix: string): number {
  let n = 0;
  for (const p of readdirSync(dir, { recursive: true }) as string[]) if (p.endsWith(suffix)) n += statSync(join(dir, p)).size;
  return n;
}

/** Archives (under dir/data) and an index (dir/index.sqlite) of `conns` closed connections of `polls` snapshots each. */
export async function makeExportInput(dir: string, conns: number, polls: number): Promise<{ index: ConnectionIndex; archives: string }> {
  const base = await liveMessage();
  const index = ConnectionIndex.open(join(dir, "index.sqlite"));
  const archives = join(dir, "data");
  const source = { dumper: new GeneratedDump(base, conns, polls), destroy: null };
  const c = new Collector(
    { uuidPrefix: "bench_1700000000_unsafe", includeLocal: true, excludeSrcPorts: [], excludeDstIps: [], anonymize: "none", destroyEvents: false, vanishGraceMs: 0 },
    new ArchiveSet({ outputDir: archives, rotateMinutes: 0 }),
    source,
  );
  const t0 = Date.now() - (polls + 10) * 10;
  for (let p = 0; p <= polls; p++) index.applyCycle(c.poll(t0 + p * 10));
  index.applyCycle(c.shutdown(t0 + (polls + 1) * 10));
  return { index, archives };
}

/** One run of the `export` command over a fresh index copy: its CPU (every thread, start-up included), wall time and peak memory. */
async function exportOnce(archives: string, db: string, out: string, snapshots: number): Promise<{ cpuS: number; wall: number; peakMiB: number }> {
  const w0 = performance.now();
  const proc = Bun.spawn([BUN, join(import.meta.dir, "..", "..", "src", "index.ts"), "export", "--out", out, "--output", archives, "--db", db, "--host", "bench"], { stdout: "ignore", stderr: "pipe" });
  // Its own peak: VmHWM of its memory, sampled while it runs. (The rusage maxRSS of a
  // child includes what it held before exec, i.e. this process's size when it forked.)
  let hwmKiB = 0;
  const sample = (): void => {
    try {
      hwmKiB = Math.max(hwmKiB, statusKiB(readFileSync(`/proc/${proc.pid}/status`, "utf8"), "VmHWM") || 0);
    } catch {
      // Exited meanwhile.
    }
  };
  const sampler = setInterval(sample, 20);
  const said = await new Response(proc.stderr).text();
  clearInterval(sampler);
  if ((await proc.exited) !== 0) throw new Error(`export exited ${proc.exitCode}: ${said.trim()}`);
  const wall = (performance.now() - w0) / 1000;
  const exported = Number(/, (\d+) snapshots/.exec(said)?.[1]);
  if (exported !== snapshots) throw new Error(`exported ${exported} snapshots, archived ${snapshots}: ${said.trim()}`);
  return { cpuS: Number(proc.resourceUsage()!.cpuTime.total) / 1e6, wall, peakMiB: hwmKiB / 1024 };
}

/** exportOnce three times, each from a copy of the index as it was: the rounds by CPU time, least first. */
async function exportRounds(archives: string, db: string, out: string, snapshots: number): Promise<{ cpuS: number; wall: number; peakMiB: number }[]> {
  // The database with its write-ahead log, as the collector's index left it.
  const parts = [db, `${db}-wal`].filter((f) => existsSync(f));
  for (const f of parts) copyFileSync(f, `${f}.orig`);
  const rounds: { cpuS: number; wall: number; peakMiB: number }[] = [];
  for (let round = 0; round < 3; round++) {
    rmSync(out, { recursive: true, force: true });
    for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
    for (const f of parts) copyFileSync(`${f}.orig`, f);
    rounds.push(await exportOnce(archives, db, out, snapshots));
  }
  return rounds.sort((a, b) => a.cpuS - b.cpuS);
}

export async function exportScenario(ctx: BenchContext): Promise<ScenarioOutput> {
  const conns = ctx.quick ? 200 : 1000;
  const polls = ctx.quick ? 250 : 500;
  const dir = makeTmpDir("export");
  try {
    const { index, archives } = await makeExportInput(dir, conns, polls);
    const snapshots = conns * polls;
    const archiveBytes = treeBytes(archives, ".jsonl.zst");
    ctx.log(`s13: ${conns} connections x ${polls} snapshots archived (${(archiveBytes / 1e6).toFixed(1)} MB); exporting`);

    // The command users run, in its own process: its CPU (every thread) and peak memory.
    // Three rounds, each from a copy of the same index (an export marks what it wrote),
    // into an empty folder; the figures are the median round's (this machine's CPU time
    // for the same work moves by a fifth from one run to the next), the peak the largest.
    await index.close();
    const out = join(dir, "export");
    const rounds = await exportRounds(archives, join(dir, "index.sqlite"), out, snapshots);
    const { cpuS, wall } = rounds[1];
    const peakMiB = Math.max(...rounds.map((r) => r.peakMiB));
    // The same for a tenth of the connections: the difference is the rate past start-up
    // (module loading, the wasm encoder's compilation, the JIT), whatever the export's size.
    const smallDir = join(dir, "small");
    mkdirSync(smallDir);
    const small = await makeExportInput(smallDir, conns / 10, polls);
    await small.index.close();
    const smallRounds = await exportRounds(small.archives, join(smallDir, "index.sqlite"), join(smallDir, "export"), snapshots / 10);
    const marginal = (snapshots - snapshots / 10) / (cpuS - smallRounds[1].cpuS);
    const fixedS = smallRounds[1].cpuS - snapshots / 10 / marginal;
    const parquetBytes = treeBytes(out, ".parquet");
    const files = (readdirSync(out, { recursive: true }) as string[]).filter((p) => p.endsWith(".parquet")).length;
    const perM = (bytes: number) => bytes / 1e6 / (snapshots / 1e6);
    const name = `export ${snapshots.toLocaleString("en")} snapshots (${conns} connections)`;
    return {
      rows: [
        row({ scenario: 13, key: "s13.export.rate", name, metric: "snapshots per CPU-second", unit: "/s", value: snapshots / cpuS, floor: null, target: { op: ">=", value: 200_000, on: "value" }, details: { wallSeconds: wall, cpuSeconds: cpuS, files } }),
        row({ scenario: 13, key: "s13.export.marginal", name, metric: "snapshots per CPU-second past start-up (against an export of a tenth)", unit: "/s", value: marginal, floor: null, target: null, details: { fixedCpuSeconds: fixedS, smallCpuSeconds: smallRounds[1].cpuS } }),
        row({ scenario: 13, key: "s13.export.peak-rss", name, metric: "peak RSS of the export process (VmHWM, sampled every 20 ms)", unit: "MiB", value: peakMiB, floor: null, target: null }),
        row({ scenario: 13, key: "s13.export.parquet-size", name, metric: "Parquet MB per million snapshots", unit: "MB", value: perM(parquetBytes), floor: null, target: null }),
        row({ scenario: 13, key: "s13.export.archive-size", name, metric: "archive MB per million snapshots (zstd JSONL)", unit: "MB", value: perM(archiveBytes), floor: null, target: null }),
      ],
      notes: [
        `s13: \`export\` of ${snapshots} snapshots of ${conns} connections in ${wall.toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU of the process (${Math.round(snapshots / cpuS).toLocaleString("en")}/CPU-s), peak RSS ${peakMiB.toFixed(0)} MiB; ` +
          `Parquet ${(parquetBytes / 1e6).toFixed(1)} MB in ${files} files against ${(archiveBytes / 1e6).toFixed(1)} MB of archives ` +
          `(${perM(parquetBytes).toFixed(1)} vs ${perM(archiveBytes).toFixed(1)} MB per million snapshots). Input: a real tcp_info of this kernel, counters moving every poll. ` +
          `Median of 3 rounds (CPU ${rounds.map((r) => r.cpuS.toFixed(2)).join(" / ")} s). An export of ${(snapshots / 10).toLocaleString("en")} snapshots took ${smallRounds[1].cpuS.toFixed(2)} s (median of ${smallRounds.map((r) => r.cpuS.toFixed(2)).join(" / ")}): ` +
          `past ~${fixedS.toFixed(2)} s of start-up and compilation, ${Math.round(marginal).toLocaleString("en")} snapshots per CPU-s.`,
      ],
    };
  } finally {
    removeTmp(dir);
  }
}
