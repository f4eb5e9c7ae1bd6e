// Time series for charts: one value per snapshot, then downsampled on the server to at
// most N points (min and max of each bucket per series, first and last point kept), so a
// connection with 100,000 snapshots costs the browser N points.
import { INFINITE_SSTHRESH, NO_MIN_RTT, UNLIMITED_RATE, type Track } from "./track.ts";

export const SERIES_NAMES = [
  "sendBps", "receiveBps", "cwnd", "ssthresh", "rttMs", "rttvarMs", "minRttMs",
  "deliveryRateBps", "pacingRateBps", "totalRetrans",
  "rwndLimitedShare", "sndbufLimitedShare", "congestionLimitedShare",
] as const;

export type SeriesName = (typeof SERIES_NAMES)[number];

export interface SeriesResult {
  total: number;
  points: number;
  /** Unix ms. */
  t: number[];
  series: Record<SeriesName, (number | null)[]>;
}

/** bits/s between snapshot i-1 and i of a byte counter; NaN for the first or when absent. */
function rateAt(t: Float64Array, c: Float64Array, i: number): number {
  if (i === 0) return NaN;
  const dt = t[i] - t[i - 1];
  const d = c[i] - c[i - 1]; // NaN when absent; < 0 after a reset (tcp_disconnect): no rate
  return dt > 0 && d >= 0 ? (d * 8) / (dt / 1000) : NaN;
}

/** Share of the busy time between snapshot i-1 and i that the counter `c` grew by. */
function shareAt(busy: Float64Array, c: Float64Array, i: number): number {
  if (i === 0) return NaN;
  const db = busy[i] - busy[i - 1];
  if (!(db > 0)) return NaN; // idle, absent, or reset
  return Math.min(1, Math.max(0, (c[i] - c[i - 1]) / db));
}

/** The rest of busy time: neither receiver-window- nor send-buffer-limited. */
function congestionShareAt(f: Track["f"], i: number): number {
  if (i === 0) return NaN;
  const db = f.busyTime[i] - f.busyTime[i - 1];
  if (!(db > 0)) return NaN;
  const other = f.rwndLimited[i] - f.rwndLimited[i - 1] + (f.sndbufLimited[i] - f.sndbufLimited[i - 1]);
  return Math.min(1, Math.max(0, (db - other) / db));
}

/**
 * Series `k` (SERIES_NAMES order) at snapshot `i`, NaN when absent: computed from the
 * track's columns when asked, so a series costs no full-resolution copy (13 columns of a
 * 100,000-snapshot track would be 10 MB to allocate and fill per request).
 */
export function seriesValue(tr: Track, k: number, i: number): number {
  const f = tr.f;
  switch (k) {
    case 0: return rateAt(tr.t, f.bytesAcked, i);
    case 1: return rateAt(tr.t, f.bytesReceived, i);
    case 2: return f.sndCwnd[i];
    case 3: return f.sndSsthresh[i] >= INFINITE_SSTHRESH ? NaN : f.sndSsthresh[i];
    case 4: return f.rtt[i] / 1000;
    case 5: return f.rttvar[i] / 1000;
    case 6: return f.minRtt[i] === NO_MIN_RTT ? NaN : f.minRtt[i] / 1000;
    case 7: return f.deliveryRate[i] >= UNLIMITED_RATE ? NaN : f.deliveryRate[i] * 8;
    case 8: return f.pacingRate[i] >= UNLIMITED_RATE ? NaN : f.pacingRate[i] * 8;
    case 9: return f.totalRetrans[i];
    case 10: return shareAt(f.busyTime, f.rwndLimited, i);
    case 11: return shareAt(f.busyTime, f.sndbufLimited, i);
    default: return congestionShareAt(f, i);
  }
}

const out = (v: number): number | null => (Number.isNaN(v) ? null : v);

/**
 * At most `points` points (>= 2). Every snapshot when they fit; otherwise the first and
 * the last, and between them buckets of consecutive snapshots each giving two points
 * (at the bucket's first and last time) holding each series' min and max in the order
 * they occurred, so spikes survive. Allocates only the output arrays.
 */
export function seriesOf(tr: Track, points: number): SeriesResult {
  const t = tr.t;
  const n = tr.n;
  const names = SERIES_NAMES.length;
  const buckets = n <= points ? 0 : Math.floor((points - 2) / 2);
  const m = n <= points ? n : Math.min(n, 2 + buckets * 2);
  const tOut: number[] = new Array(m);
  const cols: (number | null)[][] = SERIES_NAMES.map(() => new Array(m));
  let r = 0;
  const copyRow = (i: number) => {
    tOut[r] = t[i];
    for (let k = 0; k < names; k++) cols[k][r] = out(seriesValue(tr, k, i));
    r++;
  };
  if (n <= points) {
    for (let i = 0; i < n; i++) copyRow(i);
  } else {
    copyRow(0);
    const inner = n - 2;
    for (let b = 0; b < buckets; b++) {
      const lo = 1 + Math.floor((b * inner) / buckets);
      const hi = 1 + Math.floor(((b + 1) * inner) / buckets); // exclusive
      if (hi - lo === 1) {
        copyRow(lo); // a bucket of one snapshot gives one row
        continue;
      }
      tOut[r] = t[lo];
      tOut[r + 1] = t[hi - 1];
      for (let k = 0; k < names; k++) {
        let min = NaN, max = NaN, minAt = -1, maxAt = -1;
        for (let i = lo; i < hi; i++) {
          const v = seriesValue(tr, k, i);
          if (Number.isNaN(v)) continue;
          if (minAt < 0 || v < min) { min = v; minAt = i; }
          if (maxAt < 0 || v > max) { max = v; maxAt = i; }
        }
        const c = cols[k];
        if (minAt <= maxAt) { c[r] = out(min); c[r + 1] = out(max); }
        else { c[r] = out(max); c[r + 1] = out(min); }
      }
      r += 2;
    }
    copyRow(n - 1);
  }
  tOut.length = r;
  const series = {} as Record<SeriesName, (number | null)[]>;
  SERIES_NAMES.forEach((name, k) => {
    cols[k].length = r;
    series[name] = cols[k];
  });
  return { total: n, points: r, t: tOut, series };
}
