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

/** Full-resolution columns (NaN = absent), indexed like the track. */
export type SeriesColumns = Record<SeriesName, Float64Array>;

export interface SeriesResult {
  total: number;
  points: number;
  /** Unix ms. */
  t: number[];
  series: Record<SeriesName, (number | null)[]>;
}

/** bits/s between snapshot i-1 and i of a byte counter; NaN for the first or when absent. */
function rateColumn(t: Float64Array, c: Float64Array): Float64Array {
  const out = new Float64Array(t.length).fill(NaN);
  for (let i = 1; i < t.length; i++) {
    const dt = t[i] - t[i - 1];
    const d = c[i] - c[i - 1]; // NaN when absent; < 0 after a reset (tcp_disconnect): no rate
    if (dt > 0 && d >= 0) out[i] = (d * 8) / (dt / 1000);
  }
  return out;
}

/** Share of the busy time between snapshot i-1 and i that the counter `c` grew by. */
function shareColumn(busy: Float64Array, c: Float64Array, rest?: [Float64Array, Float64Array]): Float64Array {
  const out = new Float64Array(busy.length).fill(NaN);
  for (let i = 1; i < busy.length; i++) {
    const db = busy[i] - busy[i - 1];
    if (!(db > 0)) continue; // idle, absent, or reset
    if (rest) {
      const other = rest[0][i] - rest[0][i - 1] + (rest[1][i] - rest[1][i - 1]);
      out[i] = Math.min(1, Math.max(0, (db - other) / db));
    } else {
      out[i] = Math.min(1, Math.max(0, (c[i] - c[i - 1]) / db));
    }
  }
  return out;
}

function mapColumn(a: Float64Array, fn: (v: number) => number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = fn(a[i]);
  return out;
}

export function seriesColumns(tr: Track): SeriesColumns {
  const f = tr.f;
  const usToMs = (v: number) => v / 1000;
  return {
    sendBps: rateColumn(tr.t, f.bytesAcked),
    receiveBps: rateColumn(tr.t, f.bytesReceived),
    cwnd: f.sndCwnd,
    ssthresh: mapColumn(f.sndSsthresh, (v) => (v >= INFINITE_SSTHRESH ? NaN : v)),
    rttMs: mapColumn(f.rtt, usToMs),
    rttvarMs: mapColumn(f.rttvar, usToMs),
    minRttMs: mapColumn(f.minRtt, (v) => (v === NO_MIN_RTT ? NaN : v / 1000)),
    deliveryRateBps: mapColumn(f.deliveryRate, (v) => (v >= UNLIMITED_RATE ? NaN : v * 8)),
    pacingRateBps: mapColumn(f.pacingRate, (v) => (v >= UNLIMITED_RATE ? NaN : v * 8)),
    totalRetrans: f.totalRetrans,
    rwndLimitedShare: shareColumn(f.busyTime, f.rwndLimited),
    sndbufLimitedShare: shareColumn(f.busyTime, f.sndbufLimited),
    congestionLimitedShare: shareColumn(f.busyTime, f.busyTime, [f.rwndLimited, f.sndbufLimited]),
  };
}

const out = (v: number): number | null => (Number.isNaN(v) ? null : v);

/**
 * At most `points` points (>= 2). Every snapshot when they fit; otherwise the first and
 * the last, and between them buckets of consecutive snapshots each giving two points
 * (at the bucket's first and last time) holding each series' min and max in the order
 * they occurred, so spikes survive. Allocates only the output arrays.
 */
export function downsample(t: Float64Array, cols: SeriesColumns, points: number): SeriesResult {
  const n = t.length;
  const buckets = n <= points ? 0 : Math.floor((points - 2) / 2);
  // Rows to output: [start, end] index ranges; a bucket of one snapshot gives one row.
  const m = n <= points ? n : Math.min(n, 2 + buckets * 2);
  const tOut: number[] = new Array(m);
  const series = {} as Record<SeriesName, (number | null)[]>;
  for (const name of SERIES_NAMES) series[name] = new Array(m);
  if (n <= points) {
    for (let i = 0; i < n; i++) {
      tOut[i] = t[i];
      for (const name of SERIES_NAMES) series[name][i] = out(cols[name][i]);
    }
    return { total: n, points: n, t: tOut, series };
  }
  let r = 0;
  const copyRow = (i: number) => {
    tOut[r] = t[i];
    for (const name of SERIES_NAMES) series[name][r] = out(cols[name][i]);
    r++;
  };
  copyRow(0);
  const inner = n - 2;
  for (let b = 0; b < buckets; b++) {
    const lo = 1 + Math.floor((b * inner) / buckets);
    const hi = 1 + Math.floor(((b + 1) * inner) / buckets); // exclusive
    if (hi - lo === 1) {
      copyRow(lo);
      continue;
    }
    tOut[r] = t[lo];
    tOut[r + 1] = t[hi - 1];
    for (const name of SERIES_NAMES) {
      const c = cols[name];
      let min = NaN, max = NaN, minAt = -1, maxAt = -1;
      for (let i = lo; i < hi; i++) {
        const v = c[i];
        if (Number.isNaN(v)) continue;
        if (minAt < 0 || v < min) { min = v; minAt = i; }
        if (maxAt < 0 || v > max) { max = v; maxAt = i; }
      }
      const s = series[name];
      if (minAt <= maxAt) { s[r] = out(min); s[r + 1] = out(max); }
      else { s[r] = out(max); s[r + 1] = out(min); }
    }
    r += 2;
  }
  copyRow(n - 1);
  // Buckets of one snapshot used one row instead of two.
  tOut.length = r;
  for (const name of SERIES_NAMES) series[name].length = r;
  return { total: n, points: r, t: tOut, series };
}

export function seriesOf(tr: Track, points: number): SeriesResult {
  return downsample(tr.t, seriesColumns(tr), points);
}
