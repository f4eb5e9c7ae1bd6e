// `query`: lists connections from the index file (read-only) as a table or JSON, with the
// same filter parameters, validation and output format as GET /connections.
import type { ArgsDef } from "citty";
import { tcpStateName } from "../diag/constants.ts";
import type { ConnectionRecord } from "../index-db/index.ts";
import { openIndexReadonly } from "./open-index.ts";
import { stringifyMostlyPlain } from "../util/json.ts";
import { FILTER_PARAMETERS, parseFilter, ParameterError, type FilterParameter } from "../api/filter-params.ts";
import { formatApiTime } from "../api/time.ts";
import { connectionView } from "../api/views.ts";

export interface QueryOptions {
  /** Path of the index file. */
  db: string;
  /** Print `{"connections": [...], "next": …}` as GET /connections does, instead of a table. */
  json?: boolean;
  /** Filter parameters as text, exactly as the HTTP query string would carry them. */
  filter: Partial<Record<FilterParameter, string>>;
  out?: { write(text: string): unknown };
  err?: { write(text: string): unknown };
}

/** citty argument definitions for the `query` command; the type makes every FILTER_PARAMETERS name a flag. */
export const QUERY_ARGS = {
  db: { type: "string", description: "index file (SQLite)", required: true },
  json: { type: "boolean", description: "print JSON (as GET /connections) instead of a table", default: false },
  port: { type: "string", description: "either end's port" },
  sport: { type: "string", description: "source port" },
  dport: { type: "string", description: "destination port" },
  ip: { type: "string", description: "either end's address" },
  src: { type: "string", description: "source address" },
  dst: { type: "string", description: "destination address" },
  state: { type: "string", description: "open | closed" },
  netns: { type: "string", description: "network namespace: its inode (digits) or its name under /var/run/netns" },
  container: { type: "string", description: "container id: all 64 hex digits, or a prefix of 12 or more (as docker ps shows)" },
  pod: { type: "string", description: "Kubernetes pod UID" },
  since: { type: "string", description: "alive at or after (RFC 3339 or unix ms)" },
  until: { type: "string", description: "alive at or before (RFC 3339 or unix ms)" },
  limit: { type: "string", description: "rows per page, 1..1000 (default 100)" },
  cursor: { type: "string", description: "the `next` printed by a previous page" },
} satisfies ArgsDef & Record<FilterParameter, { type: "string"; description: string }>;

/** Maps parsed citty args (or any record) to QueryOptions; non-string values are stringified. */
export function queryOptionsFromArgs(args: Record<string, unknown>): QueryOptions {
  const filter: Partial<Record<FilterParameter, string>> = {};
  for (const name of FILTER_PARAMETERS) {
    const v = args[name];
    if (v !== undefined && v !== null) filter[name] = String(v);
  }
  return { db: String(args.db ?? ""), json: args.json === true, filter };
}

function endpoint(e: { ip: string; port: number }): string {
  return e.ip.includes(":") ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/**
 * Namespace columns, each only when some row of the page has it (a host-only collector's
 * table gains NETNS alone): the inode with its name, docker's 12-digit short container
 * id, the pod UID. `--json` has them in full.
 */
const NETNS_COLUMNS: [string, (c: ConnectionRecord) => string | undefined][] = [
  ["NETNS", (c) => c.netns && (c.netns.name === undefined ? String(c.netns.inode) : `${c.netns.inode} (${c.netns.name})`)],
  ["CONTAINER", (c) => c.netns?.container?.slice(0, 12)],
  ["POD", (c) => c.netns?.pod],
];

function table(rows: ConnectionRecord[]): string {
  const extra = NETNS_COLUMNS.filter(([, cell]) => rows.some((c) => cell(c) !== undefined));
  const header = ["FIRST SEEN", "STATUS", "LAST STATE", "SOURCE", "DESTINATION", "BYTES SENT", "BYTES RECEIVED", "SNAPSHOTS", ...extra.map(([h]) => h), "UUID"];
  const body = rows.map((c) => [
    formatApiTime(c.firstSeen),
    c.closedAt === null ? "open" : `closed (${c.endReason ?? "?"})`,
    tcpStateName(c.lastState),
    endpoint(c.src),
    endpoint(c.dst),
    c.bytesSent?.toString() ?? "-",
    c.bytesReceived?.toString() ?? "-",
    String(c.snapshots),
    ...extra.map(([, cell]) => cell(c) ?? "-"),
    c.uuid,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  return [line(header), ...body.map(line)].join("\n") + "\n";
}

/**
 * Runs the query; returns the process exit code (0 ok, 2 bad parameter, 1 other failure,
 * such as no index file). Parameters are checked before the file is looked at.
 */
export function runQuery(options: QueryOptions): number {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  let filter;
  try {
    const given = Object.entries(options.filter).filter((e): e is [string, string] => typeof e[1] === "string");
    filter = parseFilter(given);
  } catch (e) {
    if (e instanceof ParameterError) {
      err.write(`--${e.parameter}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const index = openIndexReadonly(options.db, err, "run the collector first, or give --db");
  if (index === null) return 1;
  try {
    const page = index.queryConnections(filter);
    if (options.json) {
      out.write(stringifyMostlyPlain({ connections: page.connections.map(connectionView), next: page.next }) + "\n");
    } else {
      out.write(page.connections.length ? table(page.connections) : "no connections match\n");
      if (page.next) out.write(`more: --cursor ${page.next}\n`);
    }
    return 0;
  } finally {
    index.close();
  }
}
