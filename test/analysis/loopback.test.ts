// Real TCP connections driven through designed phases while a real collector archives
// them (on loopback; the send-buffer phase between namespaces the test makes, since on
// loopback ACKs free the buffer at once): each must be classified as designed, and the
// summary's figures must match what the test computes itself from the decoded snapshots.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getJson, startCollector, stopCollector, waitFor, type CollectorProc } from "../helpers/collector-proc.ts";
import { drive, expectedFigures, makeShapedPair, senderOf, snapshotsOf, type Json, type Phase, type ShapedPair } from "./helpers.ts";

let dir = "";
/** uuid of each phase's sending end, once its test has run. */
const made: Partial<Record<Phase, string>> = {};
let collector: CollectorProc | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-analysis-"));
  // --netns all: the send-buffer phase runs between namespaces the test makes.
  collector = await startCollector(join(dir, "out"), ["--netns", "all"]);
}, 40_000);

afterAll(async () => {
  if (collector) await stopCollector(collector);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

async function phase(p: Phase, pair?: ShapedPair, seconds = 1.5): Promise<{ summary: Json; snaps: Json[]; uuid: string; endReason: string | null }> {
  const api = collector!.api;
  const port = await drive(p, seconds, pair);
  const row = await senderOf(api, port);
  const res = await getJson(`${api}/connections/${encodeURIComponent(row.uuid)}/summary`);
  expect(res.status).toBe(200);
  const snaps = await snapshotsOf(api, row.uuid);
  made[p] = row.uuid;
  console.log(`${p}: ${res.body.verdict.kind} | ${res.body.verdict.text} | ${JSON.stringify(res.body.limited)}`);
  return { summary: res.body, snaps, uuid: row.uuid, endReason: row.endReason };
}

function checkFigures(s: Json, snaps: Json[], uuid: string, endReason: string | null): void {
  const e = expectedFigures(snaps);
  expect(s.uuid).toBe(uuid);
  expect(s.snapshots).toBe(snaps.length);
  if (endReason !== null) expect(s.endReason).toBe(endReason);
  expect(s.bytes).toEqual(e.bytes);
  expect(s.rtt.medianMs).toBeCloseTo(e.medianMs, 9);
  expect(s.rtt.minMs).toBeCloseTo(e.minMs, 9);
  expect(s.limited.busyMs).toBeCloseTo(e.busyMs, 6);
  expect(s.limited.rwndShare).toBeCloseTo(e.rwndShare, 9);
  expect(s.limited.sndbufShare).toBeCloseTo(e.sndbufShare, 9);
  expect(s.limited.congestionShare).toBeCloseTo(e.congestionShare, 9);
  expect(s.retransmits.totalRetrans).toBe(e.totalRetrans);
  expect(s.retransmits.segsOut).toBe(e.segsOut);
  expect(s.cwnd).toEqual({ peak: e.cwndPeak, final: e.cwndFinal });
  expect(s.start).toBe(new Date(Date.parse(snaps[0].timestamp)).toISOString());
  expect(s.congestionControl).toBe(snaps.filter((x) => x.congestion !== undefined).pop()?.congestion);
  expect(s.bytes.acked).toBeGreaterThan(0);
}

describe("what limited a real loopback connection", () => {
  test("a receiver that stops reading: receiver-limited", async () => {
    const { summary, snaps, uuid, endReason } = await phase("receiver");
    expect(summary.verdict.kind).toBe("receiver");
    expect(summary.verdict.text).toStartWith("receiver-limited ");
    expect(summary.limited.rwndShare).toBeGreaterThan(0.5);
    checkFigures(summary, snaps, uuid, endReason);
  }, 40_000);

  // Between namespaces (the collector polls them with --netns all): on loopback ACKs free
  // the buffer at once and the kernel reports a few % at most (see drive.py for the setup).
  test("a sender with a tiny SO_SNDBUF: send-buffer-limited", async () => {
    const pair = makeShapedPair(`tibsb${process.pid % 100000}`);
    try {
      // Polled once the collector's rescan has found the three namespaces.
      const polled = async () => Number(/^tcpinfo_netns_polled (\S+)$/m.exec(await (await fetch(`${collector!.api}/metrics`)).text())?.[1] ?? 0);
      const before = await polled();
      await waitFor("the namespaces polled", async () => ((await polled()) >= before + pair.namespaces ? true : undefined), 15_000);
      const { summary, snaps, uuid, endReason } = await phase("sndbuf", pair, 3);
      expect(summary.verdict.kind).toBe("send-buffer");
      expect(summary.limited.sndbufShare).toBeGreaterThan(0.5);
      checkFigures(summary, snaps, uuid, endReason);
    } finally {
      pair.remove();
    }
  }, 60_000);

  test("an unconstrained bulk transfer: neither the receiver nor the send buffer", async () => {
    const { summary, snaps, uuid, endReason } = await phase("bulk");
    expect(["network", "application"]).toContain(summary.verdict.kind);
    checkFigures(summary, snaps, uuid, endReason);
  }, 40_000);

  test("series: points respected, first and last kept, lengths consistent; bad input gets 4xx JSON", async () => {
    const api = collector!.api;
    const uuid = made.receiver ?? made.bulk;
    if (uuid === undefined) throw new Error("no connection was made by the tests above");
    const url = `${api}/connections/${encodeURIComponent(uuid)}`;
    const snaps = await snapshotsOf(api, uuid);
    const all = await getJson(`${url}/series?points=10000`);
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(snaps.length);
    expect(all.body.points).toBe(snaps.length);
    expect(all.body.t[0]).toBeCloseTo(Date.parse(snaps[0].timestamp), -1);
    for (const points of [2, 3, 10, Math.max(2, Math.floor(snaps.length / 3))]) {
      const r = await getJson(`${url}/series?points=${points}`);
      expect(r.status).toBe(200);
      expect(r.body.uuid).toBe(uuid);
      expect(r.body.points).toBeLessThanOrEqual(points);
      expect(r.body.t.length).toBe(r.body.points);
      expect(r.body.t[0]).toBe(all.body.t[0]);
      expect(r.body.t[r.body.points - 1]).toBe(all.body.t[all.body.points - 1]);
      expect(Object.keys(r.body.series).sort()).toEqual(Object.keys(all.body.series).sort());
      for (const v of Object.values(r.body.series) as unknown[][]) expect(v.length).toBe(r.body.points);
    }
    const def = await getJson(`${url}/series`);
    expect(def.body.points).toBe(Math.min(1000, snaps.length));
    for (const bad of ["1", "10001", "abc", "", "2.5"]) {
      const r = await getJson(`${url}/series?points=${bad}`);
      expect(r.status).toBe(400);
      expect(r.body.parameter).toBe("points");
    }
    const unknownParam = await getJson(`${url}/series?pionts=5`);
    expect(unknownParam).toMatchObject({ status: 400, body: { parameter: "pionts" } });
    expect(await getJson(`${url}/summary?x=1`)).toMatchObject({ status: 400, body: { parameter: "x" } });
    for (const route of ["summary", "series"]) {
      const r = await getJson(`${api}/connections/no-such-uuid/${route}`);
      expect(r).toMatchObject({ status: 404, body: { error: "no such connection" } });
    }
  }, 40_000);

  test("410 when every archive of the connection is gone", async () => {
    const api = collector!.api;
    const port = await drive("bulk", 0.3);
    const row = await senderOf(api, port);
    const detail = await getJson(`${api}/connections/${encodeURIComponent(row.uuid)}`);
    for (const f of detail.body.files as { path: string }[]) rmSync(join(dir, "out", f.path));
    for (const route of ["summary", "series"]) {
      const r = await getJson(`${api}/connections/${encodeURIComponent(row.uuid)}/${route}`);
      expect(r.status).toBe(410);
      expect(typeof r.body.error).toBe("string");
    }
  }, 40_000);
});
