// Result rows, the stdout table and bench/results.json.
import { cpus, release, totalmem } from "node:os";

export interface Target {
  op: "<=" | ">=";
  value: number;
  /** Whether the target applies to the ratio to the floor or to the value itself. */
  on: "ratio" | "value";
}

export interface Row {
  scenario: number;
  /** Stable identifier, e.g. "s2.idle-poll.wall". */
  key: string;
  name: string;
  metric: string;
  unit: string;
  /** Median (or the scenario's figure) of the code under test. */
  value: number;
  /** The C floor's figure measured in the same run, when there is one. */
  floor: number | null;
  ratio: number | null;
  target: Target | null;
  met: boolean | null;
  details?: Record<string, unknown>;
}

export interface ScenarioOutput {
  rows: Row[];
  /** Free-text lines printed under the table (what was measured, caveats). */
  notes: string[];
  raw?: Record<string, unknown>;
}

export interface ScenarioRecord {
  scenario: number;
  title: string;
  seconds: number;
  status: "ok" | "failed" | "skipped";
  error?: string;
  output?: ScenarioOutput;
}

export function row(r: Omit<Row, "ratio" | "met"> & { ratio?: number | null }): Row {
  const ratio = r.ratio !== undefined ? r.ratio : r.floor !== null && r.floor > 0 ? r.value / r.floor : null;
  let met: boolean | null = null;
  if (r.target !== null) {
    const x = r.target.on === "ratio" ? ratio : r.value;
    met = x === null || !Number.isFinite(x) ? false : r.target.op === "<=" ? x <= r.target.value : x >= r.target.value;
  }
  return { ...r, ratio, met };
}

export interface MachineInfo {
  cores: number;
  kernel: string;
  cpuModel: string;
  memoryMiB: number;
  bun: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cores: c.length,
    kernel: release(),
    cpuModel: c[0]?.model ?? "unknown",
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    bun: Bun.version,
    date: new Date().toISOString(),
  };
}

/** Compact number formatting for the table: 3 significant digits, thousands grouped. */
export function fmt(x: number | null, unit = ""): string {
  if (x === null || !Number.isFinite(x)) return "—";
  const a = Math.abs(x);
  let s: string;
  if (a >= 1000) s = Math.round(x).toLocaleString("en-US");
  else if (a >= 100) s = x.toFixed(0);
  else if (a >= 10) s = x.toFixed(1);
  else if (a >= 1) s = x.toFixed(2);
  else s = x.toPrecision(3);
  return unit ? `${s} ${unit}` : s;
}

function targetText(t: Target | null, unit: string): string {
  if (t === null) return "—";
  return t.on === "ratio" ? `${t.op} ${t.value}x` : `${t.op} ${fmt(t.value, unit)}`;
}

function status(r: Row): string {
  if (r.met === null) return "info";
  return r.met ? "ok" : "MISSED";
}

export function renderTable(records: readonly ScenarioRecord[]): string {
  const header = ["#", "scenario", "metric", "value", "floor", "ratio", "target", "status"];
  const lines: string[][] = [];
  for (const rec of records) {
    if (rec.status !== "ok" || rec.output === undefined) {
      lines.push([String(rec.scenario), rec.title, rec.status === "skipped" ? "skipped" : "FAILED", "", "", "", "", rec.status === "skipped" ? "skipped" : "FAILED"]);
      continue;
    }
    for (const r of rec.output.rows) {
      lines.push([
        String(r.scenario),
        r.name,
        r.metric,
        fmt(r.value, r.unit),
        fmt(r.floor, r.floor === null ? "" : r.unit),
        r.ratio === null ? "—" : `${r.ratio.toFixed(2)}x`,
        targetText(r.target, r.unit),
        status(r),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const right = new Set([3, 4, 5]);
  const fmtLine = (l: readonly string[]): string =>
    l.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [fmtLine(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmtLine)].join("\n");
}
