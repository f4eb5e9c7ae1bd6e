// Reading the breakdown worker's result (workers/breakdown.ts) into per-phase costs: each
// phase's own share, in µs per socket, from the cumulative timings it reports.

export interface Breakdown {
  sockets: number;
  /** µs per socket, each phase on its own (not cumulative). */
  phases: Record<string, number>;
  text: string;
}

export function readBreakdown(r: Record<string, unknown>): Breakdown {
  const us = (r.usPerSocket ?? {}) as Record<string, number>;
  const g = (k: string): number => us[k] ?? Number.NaN;
  const phases: Record<string, number> = {
    "memcpy+split": g("split"),
    filter: g("filter") - g("split"),
    "attr index": g("index") - g("filter"),
    "cache.observe (diff)": g("observe") - g("index"),
  };
  if (r.changed === true) {
    phases.encodeRecord = g("encode") - g("indexOnly");
    phases["writer.append"] = g("append");
    phases["rest of poll (archiveSnapshot, report/progress, sweep)"] = g("poll") - g("observe") - phases.encodeRecord - g("append");
    phases["flush: zstd+write (100 lines/frame)"] = g("flush100PerCycle");
  } else {
    phases["rest of poll (report, sweep, destroy drain)"] = g("poll") - g("observe");
  }
  if (us.realDump !== undefined) phases["kernel dump (real SockDiagDumper.dump)"] = g("realDump");
  if (us.realPoll !== undefined) phases["real poll (for reference)"] = g("realPoll");
  const text = Object.entries(phases)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(", ");
  return { sockets: typeof r.sockets === "number" ? r.sockets : 0, phases, text };
}
