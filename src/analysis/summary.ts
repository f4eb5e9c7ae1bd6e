// A connection's summary from its snapshots (as a Track, in time order): figures for
// humans and the page. Keys whose data the kernel did not send are left out, never 0.
import { limitedOf, type Limited } from "./limited.ts";
import { maxOf, median, minOf, percentile, sortedValues } from "./stats.ts";
import { INFINITE_SSTHRESH, lastValue, NO_MIN_RTT, type Track } from "./track.ts";
import { verdictOf, type Verdict } from "./verdict.ts";

export interface Summary {
  uuid: string;
  start?: string;
  end?: string;
  durationSeconds?: number;
  endReason?: string;
  snapshots: number;
  bytes: { sent?: number; received?: number; acked?: number };
  throughput: { meanSendBps?: number; meanReceiveBps?: number; peakSendBps?: number; peakReceiveBps?: number };
  rtt: { minMs?: number; medianMs?: number; p95Ms?: number; minRttMs?: number };
  retransmits: { totalRetrans?: number; segsOut?: number; rate?: number; dsackDups?: number; reordSeen?: number };
  cwnd: { peak?: number; final?: number };
  ssthresh: { peak?: number; final?: number };
  congestionControl?: string;
  limited?: Limited;
  verdict: Verdict;
}

/** What the index knows that the snapshots do not. */
export interface SummaryMeta {
  uuid: string;
  endReason?: string | null;
}

/** Peak rates use pairs at least this far apart: snapshots 10 ms apart give noise, not a rate. */
export const PEAK_WINDOW_MS = 100;

/** Drops undefined values so absent figures are absent keys. */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * A counter's final figure: its largest value. Counters only grow, except that a reset
 * (tcp_disconnect) zeroes them, so the connection's last snapshot can read 0.
 */
function counter(a: Float64Array): number | undefined {
  return maxOf(a);
}

/** Mean bits/s between the first and last snapshot carrying the counter. */
function meanBps(t: Float64Array, c: Float64Array): number | undefined {
  let a = 0;
  while (a < c.length && Number.isNaN(c[a])) a++;
  let b = c.length - 1;
  while (b > a && Number.isNaN(c[b])) b--;
  if (b <= a || t[b] <= t[a]) return undefined;
  let top = c[a];
  for (let i = a + 1; i <= b; i++) if (c[i] > top) top = c[i]; // see counter()
  return ((top - c[a]) * 8) / ((t[b] - t[a]) / 1000);
}

/**
 * Peak bits/s: for each snapshot, the rate since the latest earlier snapshot at least
 * PEAK_WINDOW_MS before it (two pointers, one pass). A connection shorter than the
 * window has no peak apart from its mean.
 */
function peakBps(t: Float64Array, c: Float64Array): number | undefined {
  let best: number | undefined;
  let j = 0;
  for (let i = 1; i < t.length; i++) {
    if (Number.isNaN(c[i])) continue;
    while (j + 1 < i && t[i] - t[j + 1] >= PEAK_WINDOW_MS) j++;
    if (t[i] - t[j] < PEAK_WINDOW_MS || Number.isNaN(c[j]) || c[i] < c[j]) continue; // c[i] < c[j]: reset
    const bps = ((c[i] - c[j]) * 8) / ((t[i] - t[j]) / 1000);
    if (best === undefined || bps > best) best = bps;
  }
  return best ?? meanBps(t, c);
}

const finiteSsthresh = (v: number) => v < INFINITE_SSTHRESH;

export function summarize(tr: Track, meta: SummaryMeta): Summary {
  const f = tr.f;
  const n = tr.n;
  const rtts = sortedValues(f.rtt, (v) => v > 0); // 0 = no RTT sample yet
  const ms = (us: number | undefined) => (us === undefined ? undefined : us / 1000);
  const totalRetrans = counter(f.totalRetrans);
  const segsOut = counter(f.segsOut);
  const lastSsthresh = lastValue(f.sndSsthresh);
  const limited = limitedOf(tr);
  const minRtt = minOf(f.minRtt, (v) => v !== NO_MIN_RTT && v > 0);
  const summary: Summary = defined({
    uuid: meta.uuid,
    start: n ? new Date(tr.t[0]).toISOString() : undefined,
    end: n ? new Date(tr.t[n - 1]).toISOString() : undefined,
    durationSeconds: n ? (tr.t[n - 1] - tr.t[0]) / 1000 : undefined,
    endReason: meta.endReason ?? undefined,
    snapshots: n,
    bytes: defined({ sent: counter(f.bytesSent), received: counter(f.bytesReceived), acked: counter(f.bytesAcked) }),
    // Sending is measured by bytes acked: what reached the peer, without retransmissions.
    throughput: defined({
      meanSendBps: meanBps(tr.t, f.bytesAcked),
      meanReceiveBps: meanBps(tr.t, f.bytesReceived),
      peakSendBps: peakBps(tr.t, f.bytesAcked),
      peakReceiveBps: peakBps(tr.t, f.bytesReceived),
    }),
    rtt: defined({ minMs: ms(rtts.length ? rtts[0] : undefined), medianMs: ms(median(rtts)), p95Ms: ms(percentile(rtts, 95)), minRttMs: ms(minRtt) }),
    retransmits: defined({
      totalRetrans,
      segsOut,
      rate: totalRetrans !== undefined && segsOut ? totalRetrans / segsOut : undefined,
      dsackDups: counter(f.dsackDups),
      reordSeen: counter(f.reordSeen),
    }),
    cwnd: defined({ peak: maxOf(f.sndCwnd), final: lastValue(f.sndCwnd) }),
    // Before the first loss ssthresh is "infinite" (0x7fffffff): no figure.
    ssthresh: defined({
      peak: maxOf(f.sndSsthresh, finiteSsthresh),
      final: lastSsthresh !== undefined && finiteSsthresh(lastSsthresh) ? lastSsthresh : undefined,
    }),
    congestionControl: tr.congestion,
    limited: limited && limitedView(limited),
    verdict: verdictOf(limited, {
      peerWindowMaxBytes: maxOf(f.sndWnd),
      sndbufMaxBytes: maxOf(tr.sndbuf),
      cwndPeak: maxOf(f.sndCwnd),
      rttMedianMs: ms(median(rtts)),
      retransRate: totalRetrans !== undefined && segsOut ? totalRetrans / segsOut : undefined,
    }),
  });
  return summary;
}

/** The public part of the chrono figures (no working values). */
function limitedView(l: Limited): Limited {
  return defined({
    busyMs: l.busyMs,
    rwndLimitedMs: l.rwndLimitedMs,
    sndbufLimitedMs: l.sndbufLimitedMs,
    congestionLimitedMs: l.congestionLimitedMs,
    rwndShare: l.rwndShare,
    sndbufShare: l.sndbufShare,
    congestionShare: l.congestionShare,
    appLimitedShare: l.appLimitedShare,
  });
}
