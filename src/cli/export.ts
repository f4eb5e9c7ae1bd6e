// `export`: closed connections and their snapshots as hive-partitioned Parquet, for
// engines that query a fleet's files where they lie (DuckDB, BigQuery, ClickHouse, ...).
import type { ArgsDef } from "citty";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { parseTime } from "../api/time.ts";
import type { ExportSummary } from "../export/export.ts";
import { ConnectionIndex } from "../index-db/index.ts";
import { UsageError } from "./validate.ts";

export const EXPORT_ARGS = {
  out: { type: "string", description: "Export root: files go to <out>/table=connections|snapshots/date=YYYY-MM-DD/host=<host>/part-*.parquet", valueHint: "DIR", required: true },
  output: { type: "string", description: "The collector's output folder (default $TCPINFO_OUTPUT, else ./data)", valueHint: "DIR" },
  db: { type: "string", description: "Index file (default $TCPINFO_DB, else <output>/index.sqlite)", valueHint: "PATH" },
  since: { type: "string", description: "Only connections closed at or after this time (RFC 3339 or unix ms)", valueHint: "T" },
  until: { type: "string", description: "Only connections closed at or before this time (RFC 3339 or unix ms)", valueHint: "T" },
  every: { type: "string", description: "Thin snapshots to at most one per interval per connection, first and last kept (e.g. 100ms, 1s, 5m); the `snapshots` column counts what each row stands for", valueHint: "DURATION" },
  host: { type: "string", description: "Host name in the files and their partition (default this machine's)", valueHint: "NAME" },
} satisfies ArgsDef;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `100ms`, `1.5s`, `5m`, `1h`, or plain milliseconds. */
export function parseDuration(what: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2] ?? "ms"] : NaN;
  if (!(ms >= 1) || !Number.isFinite(ms)) throw new UsageError(`${what} must be a duration of at least 1 ms such as 100ms, 1s, 5m or 1h, got '${text}'`);
  return ms;
}

function time(what: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = parseTime(text);
  if (t === null) throw new UsageError(`${what} must be an RFC 3339 time or unix milliseconds, got '${text}'`);
  return t;
}

export interface ExportCliOptions {
  out: string;
  output: string;
  db: string;
  since?: number;
  until?: number;
  everyMs?: number;
  host: string;
}

export function exportOptionsFromArgs(args: Record<string, unknown>): ExportCliOptions {
  const s = (k: string) => (typeof args[k] === "string" ? (args[k] as string) : undefined);
  const out = s("out");
  if (out === undefined || out.trim() === "") throw new UsageError("--out must name the export folder");
  const output = s("output") ?? process.env.TCPINFO_OUTPUT ?? "./data";
  const every = s("every");
  const o: ExportCliOptions = {
    out: resolve(out),
    output: resolve(output),
    db: resolve(s("db") ?? process.env.TCPINFO_DB ?? join(output, "index.sqlite")),
    since: time("--since", s("since")),
    until: time("--until", s("until")),
    everyMs: every === undefined ? undefined : parseDuration("--every", every),
    host: s("host") ?? hostname(),
  };
  if (o.host.trim() === "") throw new UsageError("--host must not be empty");
  if (o.since !== undefined && o.until !== undefined && o.since > o.until) throw new UsageError("--since is after --until");
  return o;
}

/** Names, the first ten of them: a run over a damaged disk must not print a line per file. */
function named(names: readonly string[]): string {
  return names.length <= 10 ? names.join(", ") : `${names.slice(0, 10).join(", ")} and ${names.length - 10} more`;
}

/** The summary line: what was written, archives with malformed lines and every archive skipped, by name. */
export function summaryLine(s: ExportSummary): string {
  const mb = (s.bytes / 1e6).toFixed(1);
  const thinned = s.rows !== s.snapshots ? ` (${s.rows} rows after thinning)` : "";
  let line = `export: ${s.connections} connections, ${s.snapshots} snapshots${thinned} in ${s.files.length} files, ${mb} MB, ${s.seconds.toFixed(2)} s`;
  if (s.malformedLines > 0) line += `; ${s.malformedLines} malformed archive lines skipped, in ${named(s.malformed.map((m) => `${m.path} (${m.lines})`))}`;
  if (s.skipped.length > 0) line += `; ${s.skipped.length} archives skipped: ${s.skipped.map((k) => `${k.path} (${k.reason})`).join(", ")}`;
  return line;
}

/** Exit status: 0 done (archives skipped are named, not failures), 1 the export failed (what earlier batches committed stays). */
export async function runExportCommand(o: ExportCliOptions, err: { write(s: string): unknown } = process.stderr): Promise<number> {
  if (!existsSync(o.db)) {
    err.write(`error: cannot open index ${o.db}: no such file (the collector writes it; give --db or --output)\n`);
    return 1;
  }
  let index: ConnectionIndex;
  try {
    index = ConnectionIndex.open(o.db);
  } catch (e) {
    err.write(`error: cannot open index ${o.db}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    // Loaded here, not with the command table: Arrow and the Parquet encoder's wasm cost
    // every process that loads them ~25 MiB, and the collector itself never exports.
    const { runExport } = await import("../export/export.ts");
    const s = await runExport(index, { outDir: o.out, archiveDir: o.output, host: o.host, since: o.since, until: o.until, everyMs: o.everyMs });
    err.write(`${summaryLine(s)}\n`);
    return 0;
  } catch (e) {
    err.write(`error: export failed: ${(e as Error).message}; files of earlier batches are complete and marked exported, this batch left nothing behind\n`);
    return 1;
  } finally {
    index.db.close();
  }
}
