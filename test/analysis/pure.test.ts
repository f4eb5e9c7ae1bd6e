// The analysis on made-up snapshots: absent fields stay absent, shares and downsampling.
import { describe, expect, test } from "bun:test";
import type { Snapshot } from "../../src/diag/snapshot.ts";
import { seriesOf } from "../../src/analysis/series.ts";
import { summarize } from "../../src/analysis/summary.ts";
import { trackOf, TrackBuilder, timestampMs } from "../../src/analysis/track.ts";

const T0 = Date.parse("2026-12-01T00:00:00Z");

function snap(ms: number, tcpInfo: Record<string, number | bigint>): Snapshot {
  const d = new Date(T0 + ms).toISOString().replace("Z", "123456Z");
  return {
    timestamp: d, cookie: "1", uuid: "u", family: 4, state: "ESTABLISHED",
    src: { ip: "127.0.0.1", port: 1 }, dst: { ip: "127.0.0.1", port: 2 },
    interface: 0, uid: 0, inode: 0, timer: 0, retrans: 0, expires: 0, rqueue: 0, wqueue: 0,
    tcpInfo, congestion: "cubic",
  };
}

describe("analysis", () => {
  test("timestamps keep sub-millisecond digits", () => {
    expect(timestampMs("2026-12-01T00:00:00.001500000Z")).toBeCloseTo(T0 + 1.5, 6);
    expect(timestampMs("2026-12-01T00:00:01Z")).toBe(T0 + 1000);
  });

  test("a kernel without chrono counters: no limited block, verdict unknown, no zeros", () => {
    const s = summarize(trackOf([snap(0, { rtt: 1000, bytesAcked: 0n }), snap(1000, { rtt: 3000, bytesAcked: 1000n })]), { uuid: "u" });
    expect(s.limited).toBeUndefined();
    expect(s.verdict.kind).toBe("unknown");
    expect(s.bytes).toEqual({ acked: 1000 });
    expect(s.retransmits).toEqual({});
    expect(s.rtt).toEqual({ minMs: 1, medianMs: 2, p95Ms: 3 });
    expect(s.throughput.meanSendBps).toBe(8000);
    expect("endReason" in s).toBe(false);
  });

  test("chrono deltas give the shares and the largest one the verdict", () => {
    const c = (busy: number, rwnd: number, sndbuf: number) => ({ busyTime: BigInt(busy), rwndLimited: BigInt(rwnd), sndbufLimited: BigInt(sndbuf), sndWnd: 65536, deliveryRateAppLimited: 0 });
    const s = summarize(trackOf([snap(0, c(1000, 0, 0)), snap(1000, c(1_001_000, 710_000, 90_000))]), { uuid: "u", endReason: "destroy" });
    expect(s.limited).toMatchObject({ busyMs: 1000, rwndLimitedMs: 710, sndbufLimitedMs: 90, congestionLimitedMs: 200, appLimitedShare: 0 });
    expect(s.limited!.rwndShare).toBeCloseTo(0.71, 9);
    expect(s.verdict.kind).toBe("receiver");
    expect(s.verdict.text).toStartWith("receiver-limited 71% of busy time");
    expect(s.verdict.text).toContain("64 KiB");
    expect(s.endReason).toBe("destroy");
  });

  test("downsampling keeps first and last, respects the point count, keeps spikes", () => {
    const n = 100_000;
    const b = new TrackBuilder(n);
    for (let i = 0; i < n; i++) b.add(snap(i * 10, { sndCwnd: i === 54_321 ? 1e6 : 10, bytesAcked: BigInt(i * 1000) }));
    const tr = b.build();
    const r = seriesOf(tr, 1000);
    expect(r.total).toBe(n);
    expect(r.points).toBeLessThanOrEqual(1000);
    expect(r.points).toBeGreaterThan(990);
    expect(r.t.length).toBe(r.points);
    expect(r.t[0]).toBe(tr.t[0]);
    expect(r.t[r.points - 1]).toBe(tr.t[n - 1]);
    for (const v of Object.values(r.series)) expect(v.length).toBe(r.points);
    expect(Math.max(...(r.series.cwnd as number[]))).toBe(1e6);
    expect(r.series.sendBps[0]).toBeNull();
    expect(r.series.rttMs.every((v) => v === null)).toBe(true);
    // Fewer snapshots than points: every one, as is.
    const small = seriesOf(trackOf([0, 1, 2, 3, 4].map((i) => snap(i, { sndCwnd: i }))), 10);
    expect(small.points).toBe(5);
    expect(small.series.cwnd).toEqual([0, 1, 2, 3, 4]);
    expect(seriesOf(tr, 2).t).toEqual([tr.t[0], tr.t[n - 1]]);
  });
});
