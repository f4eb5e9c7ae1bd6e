// `report`: a connection's summary and verdict in the terminal (or as JSON, exactly as
// GET /connections/:uuid/summary returns it), read from the index and archives directly.
import type { ArgsDef } from "citty";
import type { Summary } from "../analysis/summary.ts";
import { formatBytes } from "../analysis/verdict.ts";
import { connectionSummary, withTrack } from "../api/analysis-routes.ts";
import { HttpError } from "../api/routes.ts";
import type { ConnectionWithFiles, NetnsIdentity } from "../index-db/index.ts";
import { openIndexReadonly } from "./open-index.ts";
import { stringifyExact } from "../util/json.ts";
import { parseIntArg, UsageError } from "./validate.ts";

export const REPORT_ARGS = {
  uuid: { type: "positional", description: "The connection's UUID (or give --port)", required: false, valueHint: "UUID" },
  port: { type: "string", description: "The connection with this port at either end (the only one, or the newest with --latest)", valueHint: "P" },
  latest: { type: "boolean", description: "With --port: the newest matching connection when several match" },
  json: { type: "boolean", description: "Print the summary as JSON (as GET /connections/:uuid/summary)" },
  output: { type: "string", description: "The collector's output folder (default $TCPINFO_OUTPUT, else ./data)", valueHint: "DIR" },
  db: { type: "string", description: "Index file (default $TCPINFO_DB, else <output>/index.sqlite)", valueHint: "PATH" },
} satisfies ArgsDef;

export interface ReportOptions {
  uuid?: string;
  port?: number;
  latest: boolean;
  json: boolean;
  output: string;
  db: string;
  out?: { write(text: string): unknown };
  err?: { write(text: string): unknown };
}

/** Checks the flags; throws UsageError (exit 2) for what was given wrongly. */
export function reportOptionsFromArgs(args: Record<string, unknown> & { _: string[] }, env: Record<string, string | undefined> = process.env): ReportOptions {
  if (args._.length > 1) throw new UsageError(`report takes one UUID, got ${args._.length}`);
  const uuid = args._[0];
  const port = args.port === undefined ? undefined : parseIntArg("--port", args.port as string, 1, 65535);
  if (args.latest === true && port === undefined) throw new UsageError("--latest goes with --port");
  if (uuid === undefined && port === undefined) throw new UsageError("give a connection's UUID or --port P");
  if (uuid !== undefined && port !== undefined) throw new UsageError("give a UUID or --port, not both");
  const output = (args.output as string | undefined) ?? (env.TCPINFO_OUTPUT || "./data");
  const db = (args.db as string | undefined) ?? env.TCPINFO_DB ?? `${output}/index.sqlite`;
  return { uuid, port, latest: args.latest === true, json: args.json === true, output, db };
}

const bps = (v: number): string => {
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let u = 0;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
};
const ms = (v: number): string => `${v.toFixed(3)} ms`;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const endpoint = (e: { ip: string; port: number }): string => (e.ip.includes(":") ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

/** Label: figure pairs, leaving out the absent ones; null when none is known. */
function line(label: string, parts: [string, number | undefined, (v: number) => string][]): string | null {
  const known = parts.filter((p): p is [string, number, (v: number) => string] => p[1] !== undefined);
  return known.length ? `${label.padEnd(14)}${known.map(([k, v, f]) => `${k} ${f(v)}`).join(", ")}` : null;
}

/** `4026532001 (blue) container 0123456789ab pod …`: the container as docker ps shortens it. */
export function netnsLine(n: NetnsIdentity): string {
  const parts = [n.name === undefined ? String(n.inode) : `${n.inode} (${n.name})`];
  if (n.container !== undefined) parts.push(`container ${n.container.slice(0, 12)}`);
  if (n.pod !== undefined) parts.push(`pod ${n.pod}`);
  return `netns         ${parts.join(" ")}`;
}

export function formatReport(s: Summary, c: ConnectionWithFiles): string {
  const l = s.limited;
  const lines = [
    `connection    ${s.uuid}`,
    `endpoints     ${endpoint(c.src)} -> ${endpoint(c.dst)}`,
    c.netns === undefined ? null : netnsLine(c.netns),
    s.start === undefined ? null : `time          ${s.start} to ${s.end} (${s.durationSeconds!.toFixed(3)} s)${s.endReason ? `, ended: ${s.endReason}` : ", open"}`,
    `snapshots     ${s.snapshots}`,
    line("bytes", [["sent", s.bytes.sent, String], ["received", s.bytes.received, String], ["acked", s.bytes.acked, String]]),
    line("send", [["mean", s.throughput.meanSendBps, bps], ["peak", s.throughput.peakSendBps, bps]]),
    line("receive", [["mean", s.throughput.meanReceiveBps, bps], ["peak", s.throughput.peakReceiveBps, bps]]),
    line("rtt", [["min", s.rtt.minMs, ms], ["median", s.rtt.medianMs, ms], ["p95", s.rtt.p95Ms, ms], ["min_rtt", s.rtt.minRttMs, ms]]),
    line("retransmits", [["segments", s.retransmits.totalRetrans, String], ["of", s.retransmits.segsOut, String], ["rate", s.retransmits.rate, pct], ["dsack dups", s.retransmits.dsackDups, String], ["reordering seen", s.retransmits.reordSeen, String]]),
    line("cwnd", [["peak", s.cwnd.peak, String], ["final", s.cwnd.final, String]]),
    line("ssthresh", [["peak", s.ssthresh.peak, String], ["final", s.ssthresh.final, String]]),
    s.congestionControl === undefined ? null : `congestion    ${s.congestionControl}`,
    l === undefined ? null : line("limited", [["busy", l.busyMs / 1000, (v) => `${v.toFixed(3)} s`], ["receiver window", l.rwndShare, pct], ["send buffer", l.sndbufShare, pct], ["network", l.congestionShare, pct], ["idle, app-limited", l.appLimitedShare, pct]]),
    `verdict       ${s.verdict.text}`,
  ];
  return lines.filter((x): x is string => x !== null).join("\n") + "\n";
}

/** Runs the report; returns the exit status (0 ok, 1 cannot answer). */
export async function runReport(o: ReportOptions): Promise<number> {
  const out = o.out ?? process.stdout;
  const err = o.err ?? process.stderr;
  const index = openIndexReadonly(o.db, err, "run the collector first, or give --db / --output");
  if (index === null) return 1;
  try {
    let uuid = o.uuid;
    if (uuid === undefined) {
      const page = index.queryConnections({ port: o.port, limit: o.latest ? 1 : 10 });
      if (page.connections.length === 0) {
        err.write(`no connection has port ${o.port}\n`);
        return 1;
      }
      if (!o.latest && page.connections.length > 1) {
        err.write(`${page.next ? "more than 10" : page.connections.length} connections have port ${o.port}; give one UUID or --latest:\n`);
        for (const c of page.connections) err.write(`  ${c.uuid}  ${endpoint(c.src)} -> ${endpoint(c.dst)}\n`);
        return 1;
      }
      uuid = page.connections[0].uuid;
    }
    await withTrack({ index, outputDir: o.output }, uuid, (c, track) => {
      const summary = connectionSummary(c, track);
      out.write(o.json ? stringifyExact(summary) + "\n" : formatReport(summary, c));
    });
    return 0;
  } catch (e) {
    if (e instanceof HttpError) {
      err.write(`${which(o)}: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    index.close();
  }
}

const which = (o: ReportOptions): string => o.uuid ?? `port ${o.port}`;
