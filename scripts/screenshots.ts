// Regenerates docs/screenshots/connection-{receiver,sndbuf,bulk}.png: the three connections
// of the analysis tests (test/analysis/drive.py), archived by a real collector and shown
// by its connection page in headless chromium. Needs root (namespaces) and chromium.
//   bun scripts/screenshots.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { getJson, startCollector, stopCollector, waitFor } from "../test/helpers/collector-proc.ts";
import { drive, makeShapedPair, senderOf, type Phase } from "../test/analysis/helpers.ts";

const OUT = join(import.meta.dir, "..", "docs", "screenshots");
const dir = mkdtempSync(join(tmpdir(), "tcpinfo-screenshots-"));
const collector = await startCollector(join(dir, "out"), ["--netns", "all"]);
const pair = makeShapedPair(`tibshot${process.pid % 10000}`);
const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const polled = async () => Number(/^tcpinfo_netns_polled (\S+)$/m.exec(await (await fetch(`${collector.api}/metrics`)).text())?.[1] ?? 0);
  await waitFor("the namespaces polled", async () => ((await polled()) >= 1 + pair.namespaces ? true : undefined), 15_000);
  const phases: [Phase, number][] = [["receiver", 1.5], ["sndbuf", 3], ["bulk", 1.5]];
  for (const [phase, seconds] of phases) {
    const port = await drive(phase, seconds, phase === "sndbuf" ? pair : undefined);
    const row = await senderOf(collector.api, port);
    const verdict = (await getJson(`${collector.api}/connections/${encodeURIComponent(row.uuid)}/summary`)).body.verdict;
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(`${collector.api}/connection/${encodeURIComponent(row.uuid)}`);
    await page.waitForFunction("document.body.dataset.ready !== undefined", { timeout: 30_000 });
    const path = join(OUT, `connection-${phase}.png`);
    await page.screenshot({ path, fullPage: true });
    await page.close();
    console.log(`${phase}: ${verdict.kind} | ${verdict.text} -> ${path}`);
  }
} finally {
  await browser.close();
  pair.remove();
  await stopCollector(collector);
  rmSync(dir, { recursive: true, force: true });
}
