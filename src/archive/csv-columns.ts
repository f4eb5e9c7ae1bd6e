// The columns of M-Lab's csvtool (github.com/m-lab/tcp-info cmd/csvtool: gocsv.Marshal over
// snapshot.Snapshot), in its order, with its names and value formats. Pure decoding.
//
// How that output comes about, so the quirks below are deliberate:
// - gocsv (2020) flattens the fields of structs tagged `csv:"-"` under their own tags, so
//   the IDM, TCP, MemInfo, … fields appear without a prefix of their parent;
// - a struct pointer left nil (attribute absent) gives empty cells; a present attribute
//   shorter than the Go struct is zero-padded (snapshot.maybeCopy), longer is cut;
// - plain fields are Go zero values when absent: "0", or "" for CongestionAlgorithm;
// - Go's types decide the sign: PacingRate, BytesAcked, … are int64 and SegsOut/SegsIn
//   int32, so an "unlimited" pacing rate (~0) prints as -1;
// - LastAckRecv is tagged "TCP.LastDataRecv" in M-Lab's struct, so that name appears twice
//   (pass distinctNames to name the second TCP.LastAckRecv); SKMemInfo.Sndbuf is
//   spelled "SKMemInfo.Sndbug"; WScale and AppLimited are the whole bytes 6 and 7;
//   ClassID is the first byte of the attribute; BBR.BW is bw_lo | bw_hi << 32 as int64.
// - Timestamp is time.Time's MarshalText (gocsv prefers it to String()): RFC3339Nano in the
//   offset the file gave, so M-Lab's "…37.511Z" and a "…+02:00" time print as written.
// - Observed has bit t-1 set for every attribute type t present; NotFullyParsed those
//   whose payload did not fit M-Lab's struct (longer than it; wrong size for Mark) or that
//   it does not decode (types 0 and 11-14, 18 and up).
import { formatIPv4, formatIPv6 } from "../diag/address.ts";
import { parseInetDiagMsg, type InetDiagMsg } from "../diag/snapshot.ts";
import { decodeStruct, layout, type FieldType, type StructLayout } from "../diag/struct.ts";
import type { SnapshotEntry } from "./parse-line.ts";
import { goTimeText } from "./time.ts";

type Cell = string;

/** What the columns are computed from: one snapshot, decoded once. */
export interface CsvSnapshot {
  entry: SnapshotEntry;
  idm: InetDiagMsg | null;
  /** Attribute payloads zero-padded or cut to M-Lab's struct size, by type; null if absent. */
  structs: (Uint8Array | null)[];
}

interface StructColumns {
  attr: number;
  /** unsafe.Sizeof of M-Lab's Go struct. */
  goSize: number;
  fields: StructLayout;
  /** Columns read as signed: [name, bits]. */
  signed: Record<string, 32 | 64>;
  names: string[];
}

function structColumns(attr: number, goSize: number, rows: readonly (readonly [string, number, FieldType, (32 | 64)?])[]): StructColumns {
  const signed: Record<string, 32 | 64> = {};
  for (const [name, , , bits] of rows) if (bits !== undefined) signed[name] = bits;
  return { attr, goSize, fields: layout(rows.map(([n, o, t]) => [n, o, t] as const)), signed, names: rows.map((r) => r[0]) };
}

// tcp.LinuxTCPInfo: struct tcp_info up to tcpi_snd_wnd (232 bytes).
const TCP = structColumns(2, 232, [
  ["TCP.State", 0, "u8"], ["TCP.CAState", 1, "u8"], ["TCP.Retransmits", 2, "u8"], ["TCP.Probes", 3, "u8"],
  ["TCP.Backoff", 4, "u8"], ["TCP.Options", 5, "u8"], ["TCP.WScale", 6, "u8"], ["TCP.AppLimited", 7, "u8"],
  ["TCP.RTO", 8, "u32"], ["TCP.ATO", 12, "u32"], ["TCP.SndMSS", 16, "u32"], ["TCP.RcvMSS", 20, "u32"],
  ["TCP.Unacked", 24, "u32"], ["TCP.Sacked", 28, "u32"], ["TCP.Lost", 32, "u32"], ["TCP.Retrans", 36, "u32"], ["TCP.Fackets", 40, "u32"],
  ["TCP.LastDataSent", 44, "u32"], ["TCP.LastAckSent", 48, "u32"], ["TCP.LastDataRecv", 52, "u32"], ["TCP.LastAckRecv", 56, "u32"],
  ["TCP.PMTU", 60, "u32"], ["TCP.RcvSsThresh", 64, "u32"], ["TCP.RTT", 68, "u32"], ["TCP.RTTVar", 72, "u32"],
  ["TCP.SndSsThresh", 76, "u32"], ["TCP.SndCwnd", 80, "u32"], ["TCP.AdvMSS", 84, "u32"], ["TCP.Reordering", 88, "u32"],
  ["TCP.RcvRTT", 92, "u32"], ["TCP.RcvSpace", 96, "u32"], ["TCP.TotalRetrans", 100, "u32"],
  ["TCP.PacingRate", 104, "u64", 64], ["TCP.MaxPacingRate", 112, "u64", 64],
  ["TCP.BytesAcked", 120, "u64", 64], ["TCP.BytesReceived", 128, "u64", 64],
  ["TCP.SegsOut", 136, "u32", 32], ["TCP.SegsIn", 140, "u32", 32],
  ["TCP.NotsentBytes", 144, "u32"], ["TCP.MinRTT", 148, "u32"], ["TCP.DataSegsIn", 152, "u32"], ["TCP.DataSegsOut", 156, "u32"],
  ["TCP.DeliveryRate", 160, "u64", 64],
  ["TCP.BusyTime", 168, "u64", 64], ["TCP.RWndLimited", 176, "u64", 64], ["TCP.SndBufLimited", 184, "u64", 64],
  ["TCP.Delivered", 192, "u32"], ["TCP.DeliveredCE", 196, "u32"],
  ["TCP.BytesSent", 200, "u64", 64], ["TCP.BytesRetrans", 208, "u64", 64],
  ["TCP.DSackDups", 216, "u32"], ["TCP.ReordSeen", 220, "u32"], ["TCP.RcvOooPack", 224, "u32"], ["TCP.SndWnd", 228, "u32"],
]);

const MEM = structColumns(1, 16, [["MemInfo.Rmem", 0, "u32"], ["MemInfo.Wmem", 4, "u32"], ["MemInfo.Fmem", 8, "u32"], ["MemInfo.Tmem", 12, "u32"]]);

const SKMEM = structColumns(7, 36, [
  ["SKMemInfo.RmemAlloc", 0, "u32"], ["SKMemInfo.Rcvbuf", 4, "u32"], ["SKMemInfo.WmemAlloc", 8, "u32"], ["SKMemInfo.Sndbug", 12, "u32"],
  ["SKMemInfo.FwdAlloc", 16, "u32"], ["SKMemInfo.WmemQueued", 20, "u32"], ["SKMemInfo.Optmem", 24, "u32"], ["SKMemInfo.Backlog", 28, "u32"],
  ["SKMemInfo.Drops", 32, "u32"],
]);

const VEGAS = structColumns(3, 16, [["Vegas.Enabled", 0, "u32"], ["Vegas.RTTCount", 4, "u32"], ["Vegas.RTT", 8, "u32"], ["Vegas.MinRTT", 12, "u32"]]);

const DCTCP = structColumns(9, 16, [
  ["DCTCP.Enabled", 0, "u16"], ["DCTCP.CEState", 2, "u16"], ["DCTCP.Alpha", 4, "u32"], ["DCTCP.ABEcn", 8, "u32"], ["DCTCP.ABTot", 12, "u32"],
]);

// Go pads BBRInfo {int64; uint32 x3} to 24 bytes; the kernel sends 20.
const BBR = structColumns(16, 24, [["BBR.BW", 0, "u64", 64], ["BBR.MinRTT", 8, "u32"], ["BBR.PacingGain", 12, "u32"], ["BBR.CwndGain", 16, "u32"]]);

const STRUCTS: readonly StructColumns[] = [TCP, MEM, SKMEM, VEGAS, DCTCP, BBR];
const STRUCT_SIZE: Record<number, number> = Object.fromEntries(STRUCTS.map((s) => [s.attr, s.goSize]));

/** How M-Lab's snapshot.Decode judges an attribute of type t with n bytes ("ok"). */
function fullyParsed(t: number, n: number): boolean {
  const size = STRUCT_SIZE[t];
  if (size !== undefined) return n <= size;
  switch (t) {
    case 4: return true; // congestion control name
    case 5: case 6: case 8: case 10: case 17: return n >= 1; // TOS, TClass, Shutdown, Protocol, ClassID
    case 15: return n === 4; // Mark
    default: return false;
  }
}

/** bit t-1 as a Go uint32 shift would give it: 0 when t-1 is outside 0..31. */
const bit = (t: number): number => (t >= 1 && t <= 32 ? 2 ** (t - 1) : 0);

function firstByte(a: Uint8Array | null): Cell {
  return a !== null && a.byteLength >= 1 ? String(a[0]) : "0";
}

/** Go's net.IP.String() of M-Lab's ip(): IPv4 when bytes 4..15 are zero, dotted for v4-mapped. */
export function mlabAddress(b: Uint8Array, at: number): string {
  let tailZero = true;
  for (let i = 4; i < 16; i++) if (b[at + i] !== 0) { tailZero = false; break; }
  if (tailZero) return formatIPv4(b, at);
  let mapped = b[at + 10] === 0xff && b[at + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[at + i] !== 0) mapped = false;
  return mapped ? formatIPv4(b, at + 12) : formatIPv6(b, at);
}

function structCells(s: StructColumns, snap: CsvSnapshot): Cell[] {
  const bytes = snap.structs[s.attr];
  if (bytes === null || bytes === undefined) return s.names.map(() => "");
  const v = decodeStruct(s.fields, bytes);
  return s.names.map((name) => {
    const x = v[name];
    const bits = s.signed[name];
    if (bits === 64) return BigInt.asIntN(64, BigInt(x)).toString();
    if (bits === 32) return String(Number(x) | 0);
    return String(x);
  });
}

type Column = readonly [name: string, cell: (s: CsvSnapshot) => Cell];

const idm = (f: (m: InetDiagMsg) => string | number): ((s: CsvSnapshot) => Cell) => (s) => (s.idm === null ? "" : String(f(s.idm)));
const raw = (s: CsvSnapshot): Uint8Array => s.entry.rawIdm;

const HEAD: readonly Column[] = [
  // Go's MarshalText of the parsed time: the file's own text for anything Go wrote.
  ["Timestamp", (s) => goTimeText(s.entry.timestampText)],
  ["Observed", (s) => String(s.entry.attributes.reduce((acc, a, t) => (a === null ? acc : (acc | bit(t)) >>> 0), 0))],
  ["NotFullyParsed", (s) => String(s.entry.attributes.reduce((acc, a, t) => (a === null || fullyParsed(t, a.byteLength) ? acc : (acc | bit(t)) >>> 0), 0))],
  ["IDM.Family", idm((m) => m.family)],
  ["IDM.State", idm((m) => m.state)],
  ["IDM.Timer", idm((m) => m.timer)],
  ["IDM.Retrans", idm((m) => m.retrans)],
  ["IDM.SockID.SPort", idm((m) => m.src.port)],
  ["IDM.SockID.DPort", idm((m) => m.dst.port)],
  ["IDM.SockID.Src", (s) => (s.idm === null ? "" : mlabAddress(raw(s), 8))],
  ["IDM.SockID.Dst", (s) => (s.idm === null ? "" : mlabAddress(raw(s), 24))],
  ["IDM.SockID.Interface", idm((m) => m.interface)],
  ["IDM.SockID.Cookie", idm((m) => m.cookie.toString(16).toUpperCase())],
  ["IDM.Expires", idm((m) => m.expires)],
  ["IDM.Rqueue", idm((m) => m.rqueue)],
  ["IDM.Wqueue", idm((m) => m.wqueue)],
  ["IDM.UID", idm((m) => m.uid)],
  ["IDM.Inode", idm((m) => m.inode)],
  ["CongestionAlgorithm", (s) => {
    const a = s.entry.attributes[4];
    // Go: string(raw[:len(raw)-1]), dropping the NUL.
    return a === null || a === undefined || a.byteLength === 0 ? "" : Buffer.from(a.buffer, a.byteOffset, a.byteLength - 1).toString("utf8");
  }],
  ["TOS", (s) => firstByte(s.entry.attributes[5] ?? null)],
  ["TClass", (s) => firstByte(s.entry.attributes[6] ?? null)],
  ["ClassID", (s) => firstByte(s.entry.attributes[17] ?? null)],
  ["Shutdown", (s) => firstByte(s.entry.attributes[8] ?? null)],
  ["Protocol", (s) => firstByte(s.entry.attributes[10] ?? null)],
  ["Mark", (s) => {
    const a = s.entry.attributes[15] ?? null;
    return a !== null && a.byteLength === 4 ? String(new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true)) : "0";
  }],
];

export interface CsvColumnOptions {
  /**
   * Name the second "TCP.LastDataRecv" (really tcpi_last_ack_recv) "TCP.LastAckRecv", so
   * every column name is unique (`csv --unique-columns`; pandas and DuckDB need that).
   */
  distinctNames?: boolean;
}

/** The header names, in order. */
export function csvColumnNames(opts: CsvColumnOptions = {}): string[] {
  const names = HEAD.map((c) => c[0]);
  for (const s of STRUCTS) {
    for (const n of s.names) names.push(n === "TCP.LastAckRecv" && !opts.distinctNames ? "TCP.LastDataRecv" : n);
  }
  return names;
}

/** Decodes what the cells need from one snapshot entry. */
export function csvSnapshot(entry: SnapshotEntry): CsvSnapshot {
  const structs: (Uint8Array | null)[] = [];
  for (const s of STRUCTS) {
    const a = entry.attributes[s.attr] ?? null;
    if (a === null) {
      structs[s.attr] = null;
    } else {
      const padded = new Uint8Array(s.goSize);
      padded.set(a.byteLength > s.goSize ? a.subarray(0, s.goSize) : a);
      structs[s.attr] = padded;
    }
  }
  return { entry, idm: parseInetDiagMsg(entry.rawIdm, 0), structs };
}

/** The cells of one snapshot, in csvColumnNames() order, unescaped. */
export function csvCells(entry: SnapshotEntry): string[] {
  const snap = csvSnapshot(entry);
  const cells = HEAD.map((c) => c[1](snap));
  for (const s of STRUCTS) for (const c of structCells(s, snap)) cells.push(c);
  return cells;
}
