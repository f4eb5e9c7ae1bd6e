// Read side of the index: filtered, keyset-paginated listings and single lookups.
// The SQL text is assembled only from fixed fragments chosen by which filter fields are
// present; every value is a bound parameter.
import type { Database, Statement } from "bun:sqlite";
import { CursorError, decodeCursor, encodeCursor } from "./cursor.ts";
import {
  DEFAULT_LIMIT,
  MAX_LIMIT,
  type ConnectionFilter,
  type ConnectionPage,
  type ConnectionRecord,
  type ConnectionWithFiles,
  type EndReason,
  type FileRecord,
} from "./types.ts";
import { cookieFromHex, u64FromSql } from "./u64.ts";

type Bind = string | number | bigint | null;

const COLUMNS = `uuid, cookie, family, src_ip, src_port, dst_ip, dst_port, interface, uid, inode,
  first_seen, last_seen, closed_at, end_reason, first_state, last_state,
  bytes_sent, bytes_received, bytes_acked, snapshots`;

/** A row as read with safeIntegers: every integer is a bigint. */
interface Row {
  uuid: string;
  cookie: string;
  family: bigint;
  src_ip: string;
  src_port: bigint;
  dst_ip: string;
  dst_port: bigint;
  interface: bigint;
  uid: bigint;
  inode: bigint;
  first_seen: bigint;
  last_seen: bigint;
  closed_at: bigint | null;
  end_reason: string | null;
  first_state: bigint;
  last_state: bigint;
  bytes_sent: bigint | null;
  bytes_received: bigint | null;
  bytes_acked: bigint | null;
  snapshots: bigint;
}

export class FilterError extends Error {
  constructor(readonly parameter: keyof ConnectionFilter, message: string) {
    super(message);
  }
}

const PORT_FIELDS = ["port", "sport", "dport"] as const;
const TIME_FIELDS = ["since", "until"] as const;

/** Defensive checks for callers that did not go through src/api's parser. */
function checkFilter(f: ConnectionFilter): void {
  for (const k of PORT_FIELDS) {
    const v = f[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 65535)) throw new FilterError(k, `${k} must be 0..65535`);
  }
  for (const k of TIME_FIELDS) {
    const v = f[k];
    if (v !== undefined && !Number.isSafeInteger(v)) throw new FilterError(k, `${k} must be an integer of unix ms`);
  }
  if (f.since !== undefined && f.until !== undefined && f.until < f.since) throw new FilterError("until", "until is before since");
  if (f.limit !== undefined && !(Number.isInteger(f.limit) && f.limit >= 1 && f.limit <= MAX_LIMIT)) {
    throw new FilterError("limit", `limit must be 1..${MAX_LIMIT}`);
  }
  if (f.state !== undefined && f.state !== "open" && f.state !== "closed") throw new FilterError("state", "state must be open or closed");
}

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;
const V4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * The stored spellings of one address: an IPv6 socket talking to an IPv4 peer is stored
 * as `::ffff:a.b.c.d`, an IPv4 socket as `a.b.c.d`, and a query for either means both.
 */
export function addressForms(ip: string): string[] {
  const m = MAPPED_V4.exec(ip);
  if (m) return [`::ffff:${m[1]}`, m[1]];
  return V4.test(ip) ? [ip, `::ffff:${ip}`] : [ip];
}

interface Built {
  sql: string;
  params: Bind[];
}

/** Builds the listing statement; exported for the query-plan test. */
export function buildListing(f: ConnectionFilter, fetch: number): Built {
  checkFilter(f);
  const common: string[] = [];
  const commonParams: Bind[] = [];
  const add = (cond: string, ...p: Bind[]) => {
    common.push(cond);
    commonParams.push(...p);
  };
  if (f.sport !== undefined) add("src_port = ?", f.sport);
  if (f.dport !== undefined) add("dst_port = ?", f.dport);
  const ip = f.ip === undefined ? null : addressForms(f.ip);
  const src = f.src === undefined ? null : addressForms(f.src);
  const dst = f.dst === undefined ? null : addressForms(f.dst);
  if (f.state === "open") add("closed_at IS NULL");
  if (f.state === "closed") add("closed_at IS NOT NULL");
  if (f.until !== undefined) add("first_seen <= ?", f.until);
  if (f.since !== undefined) add("(closed_at IS NULL OR closed_at >= ?)", f.since);
  if (f.cursor !== undefined) {
    let key;
    try {
      key = decodeCursor(f.cursor);
    } catch (e) {
      if (e instanceof CursorError) throw new FilterError("cursor", e.message);
      throw e;
    }
    // Row-value comparison: SQLite turns it into a range on the (…, first_seen, uuid) index.
    add("(first_seen, uuid) < (?, ?)", key.firstSeen, key.uuid);
  }

  // Alternatives ("either end", either spelling of an IPv4 address) become a UNION of
  // equality index scans merged in keyset order, instead of an OR or IN that no single
  // index can return in (first_seen, uuid) order. One filter drives the arms; the others
  // are plain conditions inside every arm.
  const driver = f.port !== undefined ? "port" : ip ? "ip" : src && src.length > 1 ? "src" : dst && dst.length > 1 ? "dst" : null;
  const eq = (column: string, values: Bind[]): [string, Bind][] => values.map((v) => [`${column} = ?`, v]);
  const oneOf = (column: string, values: Bind[]) => (values.length === 1 ? `${column} = ?` : `${column} IN (${values.map(() => "?").join(", ")})`);
  let arms: [string, Bind][] | null = null;
  if (driver === "port") arms = [...eq("src_port", [f.port!]), ...eq("dst_port", [f.port!])];
  if (driver === "ip") arms = [...eq("src_ip", ip!), ...eq("dst_ip", ip!)];
  if (driver === "src") arms = eq("src_ip", src!);
  if (driver === "dst") arms = eq("dst_ip", dst!);
  if (ip && driver !== "ip") add(`(${oneOf("src_ip", ip)} OR ${oneOf("dst_ip", ip)})`, ...ip, ...ip);
  if (src && driver !== "src") add(oneOf("src_ip", src), ...src);
  if (dst && driver !== "dst") add(oneOf("dst_ip", dst), ...dst);

  const where = (conds: string[]) => (conds.length ? `WHERE ${conds.join(" AND ")}` : "");
  if (arms === null) {
    return {
      sql: `SELECT ${COLUMNS} FROM connections ${where(common)} ORDER BY first_seen DESC, uuid DESC LIMIT ?`,
      params: [...commonParams, fetch],
    };
  }
  const params: Bind[] = [];
  const armSql = arms.map(([cond, value]) => {
    params.push(value, ...commonParams);
    return `SELECT rowid AS rid, first_seen AS fs, uuid AS u FROM connections ${where([cond, ...common])}`;
  });
  params.push(fetch);
  return {
    sql: `WITH keys AS (${armSql.join(" UNION ")} ORDER BY fs DESC, u DESC, rid DESC LIMIT ?)
          SELECT ${COLUMNS} FROM keys JOIN connections ON connections.rowid = keys.rid ORDER BY keys.fs DESC, keys.u DESC`,
    params,
  };
}

export class IndexReader {
  private readonly filesStmt: Statement<{ path: string; seq: number; opened_at: number; closed_at: number | null; records: number }, [string]>;
  private readonly oneStmt: Statement<Row, [string]>;

  constructor(private readonly db: Database) {
    this.filesStmt = db.prepare(`SELECT path, seq, opened_at, closed_at, records FROM files WHERE uuid = ?1 ORDER BY seq`);
    this.oneStmt = db.prepare<Row, [string]>(`SELECT ${COLUMNS} FROM connections WHERE uuid = ?1`).safeIntegers(true);
  }

  /** Throws FilterError for an invalid filter (including a malformed cursor). */
  queryConnections(filter: ConnectionFilter = {}): ConnectionPage {
    const limit = filter.limit ?? DEFAULT_LIMIT;
    // One extra row tells whether another page exists without a COUNT.
    const { sql, params } = buildListing({ ...filter, limit }, limit + 1);
    // db.query caches the prepared statement per SQL text; there are few distinct shapes.
    const rows = this.db.query<Row, Bind[]>(sql).safeIntegers(true).all(...params);
    const more = rows.length > limit;
    const connections = (more ? rows.slice(0, limit) : rows).map(toRecord);
    const last = connections[connections.length - 1];
    return { connections, next: more && last ? encodeCursor({ firstSeen: last.firstSeen, uuid: last.uuid }) : null };
  }

  /** The connection and its files (ordered by seq), or null. */
  getConnection(uuid: string): ConnectionWithFiles | null {
    const row = this.oneStmt.get(uuid);
    if (!row) return null;
    return { ...toRecord(row), files: this.files(uuid) };
  }

  files(uuid: string): FileRecord[] {
    return this.filesStmt.all(uuid).map((f) => ({
      path: f.path,
      seq: f.seq,
      openedAt: f.opened_at,
      closedAt: f.closed_at,
      records: f.records,
    }));
  }
}

function num(v: bigint): number {
  return Number(v);
}

function toRecord(r: Row): ConnectionRecord {
  return {
    uuid: r.uuid,
    cookie: cookieFromHex(r.cookie),
    family: Number(r.family) === 6 ? 6 : 4,
    src: { ip: r.src_ip, port: num(r.src_port) },
    dst: { ip: r.dst_ip, port: num(r.dst_port) },
    interface: num(r.interface),
    uid: num(r.uid),
    inode: num(r.inode),
    firstSeen: num(r.first_seen),
    lastSeen: num(r.last_seen),
    closedAt: r.closed_at === null ? null : num(r.closed_at),
    endReason: r.end_reason as EndReason | null,
    firstState: num(r.first_state),
    lastState: num(r.last_state),
    bytesSent: u64FromSql(r.bytes_sent),
    bytesReceived: u64FromSql(r.bytes_received),
    bytesAcked: u64FromSql(r.bytes_acked),
    snapshots: num(r.snapshots),
  };
}
