// The cycle histogram must print exactly what prom-client's Histogram prints for the same
// observations (M-Lab's dashboards read these series): the real library side by side.
import { expect, test } from "bun:test";
import { CycleHistogram } from "../../src/api/cycle-histogram.ts";
import { Histogram, Registry } from "../../src/api/prom.ts";

const BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5];
// On bounds, between them, below the first, past the last, zero.
const VALUES = [0, 0.0005, 0.001, 0.0010001, 0.0049, 0.005, 0.0123, 0.1, 0.25, 0.3, 2.5, 2.6, 17];

async function text(make: (r: Registry) => void): Promise<string> {
  const r = new Registry();
  make(r);
  return r.metrics();
}

test("an unlabelled series prints as prom-client's, at zero from the start and after observations", async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({ name: "h_seconds", help: "help text", buckets: BUCKETS, registers: [theirs] });
  const c = new CycleHistogram({ name: "h_seconds", help: "help text", buckets: BUCKETS, registers: [ours] });
  expect(await ours.metrics()).toBe(await theirs.metrics());
  for (const v of VALUES) {
    h.observe(v);
    c.observe(v);
  }
  expect(await ours.metrics()).toBe(await theirs.metrics());
  expect(await ours.metrics()).toContain('h_seconds_bucket{le="0.005"} 6');
});

test("labelled series print as prom-client's, in the order they were first seen", async () => {
  const counts = [1, 3, 12, 12.5, 999, 1e6, 2e7];
  const bounds = [1, 2, 5, 10, 12.5, 100, 1000, 10000000];
  const theirs = await text((r) => {
    const h = new Histogram({ name: "n", help: "count", labelNames: ["af"], buckets: bounds, registers: [r] });
    h.zero({ af: "ipv4" });
    h.zero({ af: "all" });
    for (const v of counts) h.observe({ af: "all" }, v);
    h.observe({ af: "ipv6" }, 7);
  });
  const ours = await text((r) => {
    const c = new CycleHistogram({ name: "n", help: "count", labelName: "af", buckets: bounds, registers: [r] });
    c.zero("ipv4");
    c.zero("all");
    const all = c.series("all");
    for (const v of counts) all.observe(v);
    c.observe(7, "ipv6");
  });
  expect(ours).toBe(theirs);
  expect(ours).toContain('n_bucket{le="+Inf",af="all"} 7');
});

test("a label value without a label name, or none with one, is refused", () => {
  const r = new Registry();
  const plain = new CycleHistogram({ name: "p", help: "p", buckets: [1], registers: [r] });
  const labelled = new CycleHistogram({ name: "l", help: "l", labelName: "af", buckets: [1], registers: [r] });
  expect(() => plain.series("ipv4")).toThrow();
  expect(() => labelled.series()).toThrow();
});
