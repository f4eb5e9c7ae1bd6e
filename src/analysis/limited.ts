// What limited the sender, from the kernel's chrono counters (tcpi_busy_time,
// tcpi_rwnd_limited, tcpi_sndbuf_limited, all µs). busy_time is the total of the three
// chrono states (kernel efd90174, tcp_get_info_chrono_stats), so the part of busy time
// neither receiver-window- nor send-buffer-limited is the congestion window's: the path.
import type { Track } from "./track.ts";

export interface Limited {
  busyMs: number;
  rwndLimitedMs: number;
  sndbufLimitedMs: number;
  congestionLimitedMs: number;
  rwndShare?: number;
  sndbufShare?: number;
  congestionShare?: number;
  /** Share of the observed time spent not busy with delivery_rate_app_limited set. */
  appLimitedShare?: number;
}

/** Milliseconds not busy while the application had nothing to send. */
export interface LimitedTimes extends Limited {
  appLimitedMs?: number;
  elapsedMs: number;
}

/** Index of the first / last snapshot carrying all three chrono counters, or -1. */
function chronoBounds(tr: Track): [number, number] {
  const { busyTime, rwndLimited, sndbufLimited } = tr.f;
  const has = (i: number) => !Number.isNaN(busyTime[i]) && !Number.isNaN(rwndLimited[i]) && !Number.isNaN(sndbufLimited[i]);
  let a = 0;
  while (a < tr.n && !has(a)) a++;
  let b = tr.n - 1;
  while (b >= a && !has(b)) b--;
  return a < tr.n ? [a, b] : [-1, -1];
}

/** Over the whole connection: deltas between the first and last snapshot with the counters. */
export function limitedOf(tr: Track): LimitedTimes | undefined {
  const [a, b] = chronoBounds(tr);
  if (a < 0) return undefined;
  const { busyTime, rwndLimited, sndbufLimited, deliveryRateAppLimited } = tr.f;
  // Largest values, not the last: a reset (tcp_disconnect) zeroes the counters.
  const top = (c: Float64Array) => {
    let m = c[a];
    for (let i = a + 1; i <= b; i++) if (c[i] > m) m = c[i];
    return m;
  };
  const busy = (top(busyTime) - busyTime[a]) / 1000;
  const rwnd = (top(rwndLimited) - rwndLimited[a]) / 1000;
  const sndbuf = (top(sndbufLimited) - sndbufLimited[a]) / 1000;
  // Rounding between separately read counters can push the remainder below 0.
  const congestion = Math.max(0, busy - rwnd - sndbuf);
  const out: LimitedTimes = { busyMs: busy, rwndLimitedMs: rwnd, sndbufLimitedMs: sndbuf, congestionLimitedMs: congestion, elapsedMs: tr.t[b] - tr.t[a] };
  if (busy > 0) {
    out.rwndShare = rwnd / busy;
    out.sndbufShare = sndbuf / busy;
    out.congestionShare = congestion / busy;
  }
  // Idle time between snapshots (elapsed minus busy) counts as the application's when the
  // later snapshot says the last delivery-rate sample was app-limited.
  let app = 0;
  let flagSeen = false;
  for (let i = a + 1; i <= b; i++) {
    const flag = deliveryRateAppLimited[i];
    if (Number.isNaN(flag) || Number.isNaN(busyTime[i]) || Number.isNaN(busyTime[i - 1])) continue;
    flagSeen = true;
    if (flag !== 1) continue;
    const dBusy = busyTime[i] - busyTime[i - 1];
    if (dBusy < 0) continue; // reset
    const idle = tr.t[i] - tr.t[i - 1] - dBusy / 1000;
    if (idle > 0) app += idle;
  }
  if (flagSeen) {
    out.appLimitedMs = app;
    if (out.elapsedMs > 0) out.appLimitedShare = Math.min(1, app / out.elapsedMs);
  }
  return out;
}
