// How long poll cycles take and how far apart they start, over the last WINDOW cycles:
// the status line reports their median, p99 and maximum, so an operator (and the
// benchmark) sees whether the collector keeps its cadence. Fixed-size rings: no
// allocation per cycle.
const WINDOW = 4096;

export interface CycleQuantiles {
  p50: number;
  p99: number;
  max: number;
}

export class CycleTimes {
  private readonly durations = new Float64Array(WINDOW);
  private readonly periods = new Float64Array(WINDOW);
  private count = 0;
  private periodCount = 0;
  private lastStart = Number.NaN;

  /** One cycle that started at `startMs` (performance.now()) and took `durationMs`. */
  record(startMs: number, durationMs: number): void {
    this.durations[this.count++ % WINDOW] = durationMs;
    if (!Number.isNaN(this.lastStart)) this.periods[this.periodCount++ % WINDOW] = startMs - this.lastStart;
    this.lastStart = startMs;
  }

  /** Poll cycle durations (dump, diff, hand-off), ms. */
  duration(): CycleQuantiles | null {
    return quantiles(this.durations, this.count);
  }

  /** Start-to-start periods, ms: the cadence the interval asks for, or what overruns made of it. */
  period(): CycleQuantiles | null {
    return quantiles(this.periods, this.periodCount);
  }
}

function quantiles(ring: Float64Array, count: number): CycleQuantiles | null {
  const n = Math.min(count, WINDOW);
  if (n === 0) return null;
  const xs = ring.slice(0, n).sort();
  const at = (q: number): number => xs[Math.min(n - 1, Math.floor(q * n))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: xs[n - 1] ?? Number.NaN };
}

export function formatQuantiles(q: CycleQuantiles | null): string {
  return q === null ? "-" : `${q.p50.toFixed(2)}/${q.p99.toFixed(2)}/${q.max.toFixed(2)}`;
}
