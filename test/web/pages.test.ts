// The web pages in a real browser (Debian's chromium, headless, driven by puppeteer-core):
// the search page finds a connection the test made by its port (and a late answer to an
// earlier list does not replace the search's results), its page draws every
// chart from the downsampled series and shows the summary's verdict. A failing test
// leaves a screenshot in its temp folder.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { getJson, startCollector, stopCollector, waitFor, type CollectorProc } from "../helpers/collector-proc.ts";
import { loopbackPair } from "../helpers/loopback.ts";

// What the page.evaluate / waitForFunction callbacks touch in the browser.
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  getElementById(id: string): { textContent: string | null } | null;
  querySelector(selector: string): unknown;
  querySelectorAll(selector: string): { length: number };
};
declare const window: unknown;

const CHROMIUM = "/usr/bin/chromium";
const dirs: string[] = [];
const collectors: CollectorProc[] = [];
let browser: Browser | null = null;
afterAll(async () => {
  await browser?.close();
  for (const c of collectors) if (c.run.proc.exitCode === null) await stopCollector(c);
  for (const d of dirs) if (!process.env.KEEP_WEB_TEST) rmSync(d, { recursive: true, force: true });
});

/** A loopback connection that moves `chunks` of 64 KiB, one every 20 ms, then closes. Resolves with the server's port. */
async function connection(chunks: number): Promise<number> {
  const pair = await loopbackPair("127.0.0.1");
  try {
    const client = pair.clients[0];
    for (let i = 0; i < chunks; i++) {
      client.write(Buffer.alloc(64 * 1024, i));
      await Bun.sleep(20);
    }
    client.end();
    await once(client, "close");
    return pair.port;
  } finally {
    await pair.close();
  }
}

async function withScreenshot<T>(page: Page, dir: string, what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    const path = join(dir, `${what}.png`);
    await page.screenshot({ path, fullPage: true }).catch(() => {});
    dirs.splice(dirs.indexOf(dir), 1); // keep it
    throw new Error(`${(e as Error).message} (screenshot: ${path})`);
  }
}

test("search finds the connection by its port; its page draws every chart and the summary's verdict", async () => {
  const dir = mkdtempSync(join(tmpdir(), "web-"));
  dirs.push(dir);
  const c = await startCollector(join(dir, "out"), ["--interval", "10"]);
  collectors.push(c);
  const port = await connection(40);
  // Both ends archived and closed: the client's end has the server's port as its dport.
  const listed = await waitFor("the connection closed in the index", async () => {
    const r = await getJson(`${c.api}/connections?port=${port}&state=closed`);
    const ends = r.body.connections as { uuid: string; snapshots: number; dst: { port: number } }[];
    const client = ends.find((x) => x.dst.port === port);
    return client && client.snapshots >= 3 ? client : undefined;
  }, 20_000);
  const summary = (await getJson(`${c.api}/connections/${listed.uuid}/summary`)).body;
  expect(summary.verdict?.text).toBeString();

  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });

  await withScreenshot(page, dir, "search", async () => {
    // The unfiltered list the page asks for when it opens is held back until the search
    // has been answered: its late answer must not replace the search's results.
    let held: { continue(): Promise<void> } | null = null;
    await page.setRequestInterception(true);
    page.on("request", (req) => {
      if (held === null && req.url().includes("/connections?") && !req.url().includes("port=")) held = req;
      else void req.continue();
    });
    await page.goto(`${c.api}/`, { waitUntil: "load" });
    await page.type("input[name=port]", String(port));
    await page.click("button[type=submit]");
    await page.waitForFunction((u: string) => !!document.querySelector(`a[title="${u}"]`), { timeout: 10_000 }, listed.uuid);
    expect(held).not.toBeNull();
    await held!.continue();
    await page.waitForFunction(() => document.body.dataset.answered === "2", { timeout: 10_000 });
    const matching = (await getJson(`${c.api}/connections?port=${port}&limit=50`)).body.connections.length;
    const shown = await page.evaluate(() => document.querySelectorAll("#results tbody tr").length);
    expect(shown).toBe(matching);
  });

  await withScreenshot(page, dir, "connection", async () => {
    const started = performance.now();
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(`a[title="${listed.uuid}"]`)]);
    await page.waitForFunction(() => document.body.dataset.ready !== undefined, { timeout: 10_000 });
    const loadMs = performance.now() - started;
    const state = await page.evaluate(() => ({
      ready: document.body.dataset.ready,
      verdict: document.getElementById("verdict")?.textContent ?? "",
      charts: (window as unknown as { charts: { title: string; keys: string[]; lengths: number[]; drawn: number }[] }).charts,
      points: (window as unknown as { seriesPoints: number }).seriesPoints,
      canvases: document.querySelectorAll("#charts canvas").length,
      message: document.getElementById("message")?.textContent ?? "",
    }));
    expect(state.message).toBe("");
    expect(state.ready).toBe("1");
    expect(state.verdict).toBe(summary.verdict.text);
    // Throughput, cwnd/ssthresh, RTT, rates, retransmits (the shares need chrono data).
    expect(state.charts.length).toBeGreaterThanOrEqual(5);
    expect(state.canvases).toBe(state.charts.length);
    const series = (await getJson(`${c.api}/connections/${listed.uuid}/series?points=${state.points}`)).body;
    expect(state.points).toBe(series.points);
    for (const chart of state.charts) {
      expect(chart.drawn).toBe(chart.keys.length);
      for (const n of chart.lengths) expect(n).toBe(series.points);
    }
    expect(series.points).toBeLessThanOrEqual(series.total);
    expect(loadMs).toBeGreaterThan(0);
    await page.screenshot({ path: join(dir, "connection-ok.png"), fullPage: true });
  });
  expect(await stopCollector(c)).toBe(0);
}, 90_000);
