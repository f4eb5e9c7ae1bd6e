// Small numeric helpers over Float64Array columns (NaN = absent).

/** Sorted copy of the values that pass `keep`. */
export function sortedValues(a: Float64Array, keep: (v: number) => boolean): Float64Array {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i]) && keep(a[i])) m++;
  const out = new Float64Array(m);
  let j = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i]) && keep(a[i])) out[j++] = a[i];
  return out.sort();
}

/** Median of sorted values (the mean of the middle two for an even count). */
export function median(sorted: Float64Array): number | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of sorted values. */
export function percentile(sorted: Float64Array, p: number): number | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
}

/** Largest value passing `keep`, or undefined. */
export function maxOf(a: Float64Array, keep: (v: number) => boolean = () => true): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!Number.isNaN(v) && keep(v) && (best === undefined || v > best)) best = v;
  }
  return best;
}

/** Smallest value passing `keep`, or undefined. */
export function minOf(a: Float64Array, keep: (v: number) => boolean = () => true): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!Number.isNaN(v) && keep(v) && (best === undefined || v < best)) best = v;
  }
  return best;
}
