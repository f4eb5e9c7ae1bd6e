// A Prometheus histogram for what the poll loop observes every cycle (its duration, the
// dump's time and socket counts). prom-client's observe() validates and hashes the labels
// and turns the bucket's bound into a property name on every call: a few microseconds
// each, six times a cycle, and its code was still being recompiled tens of seconds into a
// run. Here a series is looked up once and observing it is a bucket search and three adds.
// It registers in prom-client's registry, which formats it as it formats its own.
import type { Registry } from "./prom.ts";

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is past every bound (+Inf only). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly label: Record<string, string>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface ValuePair {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

export interface CycleHistogramConfig {
  name: string;
  help: string;
  buckets: readonly number[];
  /** The one label, if any (M-Lab's `af`). */
  labelName?: string;
  registers: Registry[];
}

export class CycleHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  private readonly labelName: string | null;
  private readonly bySeries = new Map<string, HistogramSeries>();

  constructor(c: CycleHistogramConfig) {
    this.name = c.name;
    this.help = c.help;
    this.bounds = [...c.buckets].sort((a, b) => a - b);
    this.labelName = c.labelName ?? null;
    // An unlabelled histogram is exported (at zero) from the start, as prom-client's is.
    if (this.labelName === null) this.series();
    for (const r of c.registers) r.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** The series of one label value (the unlabelled one without): keep it and observe on it. */
  series(labelValue = ""): HistogramSeries {
    let s = this.bySeries.get(labelValue);
    if (s === undefined) {
      if ((this.labelName === null) !== (labelValue === "")) throw new Error(`${this.name}: label ${this.labelName ?? "(none)"} with value '${labelValue}'`);
      s = new HistogramSeries(this.bounds, this.labelName === null ? {} : { [this.labelName]: labelValue });
      this.bySeries.set(labelValue, s);
    }
    return s;
  }

  observe(value: number, labelValue = ""): void {
    this.series(labelValue).observe(value);
  }

  /** Exports the series at zero before anything is observed in it. */
  zero(labelValue = ""): void {
    this.series(labelValue);
  }

  reset(): void {
    this.bySeries.clear();
  }

  /** What prom-client's Registry formats: cumulative buckets, +Inf, sum and count per series. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ValuePair[] }> {
    const values: ValuePair[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.bySeries.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({ labels: { le: this.bounds[i] }, sharedLabels: s.label, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: "+Inf" }, sharedLabels: s.label, value: s.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: s.label, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.label, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
