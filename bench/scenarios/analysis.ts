// Scenario 11: a long connection's page. One archive of 100,000 snapshots (20,000 with
// --quick), made from a real tcp_info message of this kernel whose counters move every
// 10 ms as a bulk transfer's would; a collector started on that folder indexes it at
// start-up. Timed: GET /connections/:uuid/summary, GET .../series?points=2000, and the
// connection page in headless chromium from navigation to every chart drawn.
import { existsSync, readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { makeUuid } from "../../src/archive/naming.ts";
import { formatTimeNs, type RecordTime } from "../../src/archive/time.ts";
import { SockDiagDumper } from "../../src/collector/dumper.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE, TCPI_BUSY_TIME_OFFSET, TCPI_BYTES_ACKED_OFFSET, TCPI_BYTES_SENT_OFFSET } from "../../src/diag/layouts.ts";
import { startCollector, stopCollector } from "../../test/helpers/collector-proc.ts";
import { loopbackPair } from "../../test/helpers/loopback.ts";
import { row, type ScenarioOutput } from "../lib/results.ts";
import { median } from "../lib/stats.ts";
import { makeTmpDir, removeTmp } from "../lib/tmp.ts";
import type { BenchContext } from "./context.ts";

const CHROMIUM = "/usr/bin/chromium";
const REPEATS = 5;

/** One inet_diag message (from its inet_diag_msg on) of a live loopback connection with a full tcp_info. */
export async function liveMessage(): Promise<Uint8Array> {
  const pair = await loopbackPair("127.0.0.1");
  const port = pair.port;
  await pair.send(pair.clients[0], 1 << 20);
  let found: Uint8Array | null = null;
  const attrs = new AttributeIndex();
  const dumper = new SockDiagDumper();
  try {
    dumper.dump((buf, off, len) => {
      const idm = off + NLMSG_HDRLEN;
      const dport = (buf[idm + 6] << 8) | buf[idm + 7];
      if (found !== null || dport !== port || !attrs.index(buf, idm + INET_DIAG_MSG_SIZE, off + len)) return;
      if (attrs.length[Attr.INFO] >= TCPI_BYTES_SENT_OFFSET + 8) found = buf.slice(idm, off + len);
    });
  } finally {
    dumper.close();
    await pair.close();
  }
  if (found === null) throw new Error("no tcp_info of the loopback connection in the dump");
  return found;
}

/** Writes `n` snapshots of one connection, 10 ms apart, its counters moving as a transfer's. */
function writeArchive(out: string, n: number, msg: Uint8Array): string {
  const uuid = makeUuid("bench_1700000000_unsafe", 0xb11n);
  // The cookie in the message names the file's connection on re-indexing.
  new DataView(msg.buffer, msg.byteOffset).setBigUint64(44, 0xb11n, true);
  const attrs = new AttributeIndex();
  if (!attrs.index(msg, INET_DIAG_MSG_SIZE, msg.byteLength)) throw new Error("bad message");
  const info = attrs.offset[Attr.INFO];
  const dv = new DataView(msg.buffer, msg.byteOffset);
  const set = new ArchiveSet({ outputDir: out, flushIntervalMs: 1000, rotateMinutes: 0 });
  const start = Date.now() - n * 10 - 60_000;
  const w = set.open(uuid, start);
  for (let i = 0; i < n; i++) {
    const ms = start + i * 10;
    const bytes = BigInt(i) * 125_000n; // 100 Mbit/s
    dv.setBigUint64(info + TCPI_BYTES_ACKED_OFFSET, bytes, true);
    dv.setBigUint64(info + TCPI_BYTES_SENT_OFFSET, bytes + 4096n, true);
    if (attrs.length[Attr.INFO] >= TCPI_BUSY_TIME_OFFSET + 24) {
      dv.setBigUint64(info + TCPI_BUSY_TIME_OFFSET, BigInt(i) * 10_000n, true); // µs
      dv.setBigUint64(info + TCPI_BUSY_TIME_OFFSET + 8, BigInt(i) * 3_000n, true); // rwnd-limited
      dv.setBigUint64(info + TCPI_BUSY_TIME_OFFSET + 16, BigInt(i) * 1_000n, true); // sndbuf-limited
    }
    const time: RecordTime = { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6, text: formatTimeNs(Math.floor(ms / 1000), (ms % 1000) * 1e6) };
    w.appendRecord(time, msg, 0, attrs, ms);
  }
  set.close(uuid, start + n * 10);
  set.closeAll(Date.now());
  return uuid;
}

function findArchives(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? findArchives(join(dir, e.name)) : e.name.endsWith(".jsonl.zst") ? [join(dir, e.name)] : [],
  );
}

async function timed(url: string): Promise<number> {
  const t = performance.now();
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  return performance.now() - t;
}

export async function analysis(ctx: BenchContext): Promise<ScenarioOutput> {
  const n = ctx.quick ? 20_000 : 100_000;
  const out = makeTmpDir("analysis");
  try {
    const uuid = writeArchive(out, n, await liveMessage());
    ctx.log(`s11: ${n} snapshots written`);
    const c = await startCollector(out);
    try {
      const base = `${c.api}/connections/${uuid}`;
      const first = (await (await fetch(`${base}/summary`)).json()) as { snapshots: number };
      if (first.snapshots !== n) throw new Error(`the collector indexed ${first.snapshots} snapshots, not ${n}`);
      // Cold: the archive's mtime moved, so the API's track cache misses and reads it
      // whole (a first visit); warm: the same request again (the page's second call).
      const files = findArchives(out);
      const cold = async (url: string): Promise<number> => {
        const now = new Date();
        for (const f of files) utimesSync(f, now, now);
        return timed(url);
      };
      const summary: number[] = [];
      const series: number[] = [];
      const warmSummary: number[] = [];
      const warmSeries: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        summary.push(await cold(`${base}/summary`));
        warmSummary.push(await timed(`${base}/summary`));
        series.push(await cold(`${base}/series?points=2000`));
        warmSeries.push(await timed(`${base}/series?points=2000`));
      }
      const page: number[] = [];
      if (existsSync(CHROMIUM)) {
        const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
        try {
          for (let i = 0; i < REPEATS; i++) {
            const p = await browser.newPage();
            await p.setViewport({ width: 1200, height: 900 });
            const now = new Date();
            for (const f of files) utimesSync(f, now, now);
            const t = performance.now();
            await p.goto(`${c.api}/connection/${uuid}`);
            await p.waitForFunction("document.body.dataset.ready !== undefined", { timeout: 30_000 });
            page.push(performance.now() - t);
            if ((await p.evaluate("document.body.dataset.ready")) !== "1") throw new Error("the page reported an error");
            await p.close();
          }
        } finally {
          await browser.close();
        }
      }
      const name = `one connection of ${n.toLocaleString("en-US")} snapshots`;
      const rows = [
        row({ scenario: 11, key: "s11.summary", name, metric: "GET /connections/:uuid/summary, cold (median)", unit: "ms", value: median(summary), floor: null, target: { op: "<=", value: 200, on: "value" } }),
        row({ scenario: 11, key: "s11.series", name, metric: "GET .../series?points=2000, cold (median)", unit: "ms", value: median(series), floor: null, target: { op: "<=", value: 100, on: "value" } }),
        row({ scenario: 11, key: "s11.summary-warm", name, metric: "the same summary again, cached (median)", unit: "ms", value: median(warmSummary), floor: null, target: null }),
        row({ scenario: 11, key: "s11.series-warm", name, metric: "the same series again, cached (median)", unit: "ms", value: median(warmSeries), floor: null, target: null }),
      ];
      if (page.length > 0) rows.push(row({ scenario: 11, key: "s11.page", name, metric: "page load to charts drawn, cold cache, headless chromium (median)", unit: "ms", value: median(page), floor: null, target: { op: "<=", value: 1000, on: "value" } }));
      const notes = [
        `s11: ${n} snapshots of one connection (a live tcp_info of this kernel, counters moved every 10 ms), indexed by a collector at start-up; ${REPEATS} requests each, sequential, over loopback; cold = the archive's mtime moved first, so the API's track cache misses: summary cold ${summary.map((x) => x.toFixed(0)).join("/")} ms, warm ${warmSummary.map((x) => x.toFixed(0)).join("/")} ms; series cold ${series.map((x) => x.toFixed(0)).join("/")} ms, warm ${warmSeries.map((x) => x.toFixed(0)).join("/")} ms; page (cold: its summary and series requests share one read) ${page.length > 0 ? `${page.map((x) => x.toFixed(0)).join("/")} ms` : "not measured (no chromium)"}.`,
      ];
      expectStopped(await stopCollector(c));
      return { rows, notes };
    } finally {
      if (c.run.proc.exitCode === null) c.run.proc.kill("SIGKILL");
    }
  } finally {
    removeTmp(out);
  }
}

function expectStopped(code: number): void {
  if (code !== 0) throw new Error(`collector exited ${code}`);
}
