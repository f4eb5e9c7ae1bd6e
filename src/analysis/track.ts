// A connection's snapshots as columns: one Float64Array per tcp_info field the analysis
// uses, NaN where a snapshot lacks the field (older kernels send a shorter tcp_info).
// Summary and series both read these, so 100,000 snapshots cost a few flat arrays,
// not 100,000 objects kept alive.
import { fractionMs } from "../archive/line-bytes.ts";
import type { AttributeParts, TrackLine } from "../archive/track-reader.ts";
import { Attr } from "../diag/constants.ts";
import { SK_MEM_INFO, TCP_INFO } from "../diag/layouts.ts";
import { fieldSize, NumberFields, type Field } from "../diag/struct.ts";
import type { Snapshot } from "../diag/snapshot.ts";

/** tcp_info fields kept, by their decoded names (src/diag/layouts.ts). */
export const TRACK_FIELDS = [
  "bytesAcked", "bytesSent", "bytesReceived",
  "rtt", "rttvar", "minRtt",
  "sndCwnd", "sndSsthresh", "sndWnd",
  "totalRetrans", "segsOut", "dsackDups", "reordSeen",
  "deliveryRate", "pacingRate", "deliveryRateAppLimited",
  "busyTime", "rwndLimited", "sndbufLimited",
] as const;

export type TrackField = (typeof TRACK_FIELDS)[number];

function fieldOf(layout: readonly Field[], name: string): Field {
  const f = layout.find((x) => x.name === name);
  if (f === undefined) throw new Error(`no field ${name}`);
  return f;
}

/** The tracked fields of tcp_info, and skmeminfo's sndbuf, compiled for the per-line loop. */
const INFO_FIELDS = new NumberFields(TRACK_FIELDS.map((k) => fieldOf(TCP_INFO, k)));
const SNDBUF_FIELD = new NumberFields([fieldOf(SK_MEM_INFO, "sndbuf")]);
/** Attribute types readTrackLines must decode for addLine. */
export const TRACK_ATTRS: readonly number[] = [Attr.INFO, Attr.CONG, Attr.SKMEMINFO];
/** Of tcp_info and skmeminfo, only the bytes of the fields kept (under half of tcp_info). */
export const TRACK_PARTS: AttributeParts = new Map([
  [Attr.INFO, TRACK_FIELDS.map((k) => fieldOf(TCP_INFO, k)).map((f) => [f.offset, f.offset + fieldSize(f)] as const)],
  [Attr.SKMEMINFO, [fieldOf(SK_MEM_INFO, "sndbuf")].map((f) => [f.offset, f.offset + fieldSize(f)] as const)],
]);

export interface Track {
  /** Snapshots held. */
  readonly n: number;
  /** Unix ms (fractional: archives keep nanoseconds). */
  readonly t: Float64Array;
  readonly f: Readonly<Record<TrackField, Float64Array>>;
  /** skMemInfo.sndbuf per snapshot (NaN when absent). */
  readonly sndbuf: Float64Array;
  /** Congestion control of the last snapshot that named one. */
  readonly congestion?: string;
  /** The memory every column lies in (a BlockPool may take it back once the track is unused). */
  readonly block: Float64Array;
}

const FRACTION = /\.(\d+)Z$/;

/** Unix ms of an archive timestamp (RFC 3339 UTC, up to nanoseconds). */
export function timestampMs(text: string): number {
  const m = FRACTION.exec(text);
  if (!m) return Date.parse(text);
  const whole = Date.parse(text.slice(0, m.index) + "Z");
  return whole + fractionMs(Number(m[1]), m[1].length);
}

/** Columns of a track: time, the tracked tcp_info fields, sndbuf. */
const COLUMNS = TRACK_FIELDS.length + 2;

/**
 * Blocks of memory given back by tracks nobody uses any more, for the next track to fill.
 * A fresh 17 MB track costs more in first-touch page faults than in decoding on a VM
 * (~10 µs a page here); a reused block has its pages already. Bounded in bytes.
 */
export class BlockPool {
  private readonly blocks: Float64Array[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** A block of at least `length` values (and not more than twice that), or undefined. */
  take(length: number): Float64Array | undefined {
    const i = this.blocks.findIndex((b) => b.length >= length && b.length <= 2 * length);
    if (i < 0) return undefined;
    const [b] = this.blocks.splice(i, 1);
    this.bytes -= b.byteLength;
    return b;
  }

  /** Takes `block` back; the caller must hold no view of it any more. */
  give(block: Float64Array): void {
    while (this.blocks.length > 0 && this.bytes + block.byteLength > this.maxBytes) this.bytes -= this.blocks.shift()!.byteLength;
    if (block.byteLength > this.maxBytes) return;
    this.blocks.push(block);
    this.bytes += block.byteLength;
  }
}

/** Grows columns as snapshots arrive (doubling, all in one block), then trims them in build(). */
export class TrackBuilder {
  private n = 0;
  private cap = 0;
  private block: Float64Array = new Float64Array(0);
  private t: Float64Array = new Float64Array(0);
  private cols = {} as Record<TrackField, Float64Array>;
  /** The same columns in TRACK_FIELDS order: the per-line loop indexes, never looks up names. */
  private colList: Float64Array[] = [];
  private sndbuf: Float64Array = new Float64Array(0);
  private congestion: string | undefined;

  constructor(expected = 64, private readonly pool?: BlockPool) {
    this.grow(Math.max(1, expected));
  }

  private grow(cap: number): void {
    const old = this.block;
    const block = this.pool?.take(cap * COLUMNS) ?? new Float64Array(cap * COLUMNS);
    const column = (k: number, from: Float64Array) => {
      const c = block.subarray(k * cap, (k + 1) * cap);
      c.set(from.subarray(0, this.n));
      return c;
    };
    this.t = column(0, this.t);
    this.sndbuf = column(1, this.sndbuf);
    TRACK_FIELDS.forEach((k, i) => (this.cols[k] = column(2 + i, this.cols[k] ?? new Float64Array(0))));
    this.colList = TRACK_FIELDS.map((k) => this.cols[k]);
    this.block = block;
    this.cap = cap;
    if (old.length > 0) this.pool?.give(old);
  }

  add(s: Snapshot): void {
    if (this.n === this.cap) this.grow(this.cap * 2);
    const i = this.n++;
    this.t[i] = timestampMs(s.timestamp);
    const info = s.tcpInfo;
    for (const k of TRACK_FIELDS) {
      const v = info?.[k];
      this.cols[k][i] = v === undefined ? NaN : Number(v);
    }
    const sb = s.skMemInfo?.sndbuf;
    this.sndbuf[i] = sb === undefined ? NaN : Number(sb);
    if (s.congestion !== undefined && s.congestion !== "") this.congestion = s.congestion;
  }

  /** One archive line as readTrackLines hands it (the same columns add() fills). */
  addLine(line: TrackLine): void {
    if (this.n === this.cap) this.grow(this.cap * 2);
    const i = this.n++;
    this.t[i] = line.timeMs;
    const dv = line.view;
    const info = line.offset(Attr.INFO);
    const infoLen = line.length(Attr.INFO);
    const cols = this.colList;
    for (let k = 0; k < cols.length; k++) {
      cols[k][i] = info < 0 ? NaN : INFO_FIELDS.read(dv, info, infoLen, k);
    }
    const sk = line.offset(Attr.SKMEMINFO);
    this.sndbuf[i] = sk < 0 ? NaN : SNDBUF_FIELD.read(dv, sk, line.length(Attr.SKMEMINFO), 0);
    const cong = line.offset(Attr.CONG);
    if (cong >= 0 && line.length(Attr.CONG) > 0) this.noteCongestion(line.bytes, cong, line.length(Attr.CONG));
  }

  // The congestion control name rarely changes: decoded only when its bytes do.
  private congBytes = new Uint8Array(0);

  private noteCongestion(bytes: Uint8Array, at: number, len: number): void {
    let end = at;
    while (end < at + len && bytes[end] !== 0) end++;
    const n = end - at;
    if (n === this.congBytes.length) {
      let same = true;
      for (let i = 0; i < n && same; i++) same = bytes[at + i] === this.congBytes[i];
      if (same) return;
    }
    this.congBytes = bytes.slice(at, end);
    if (n > 0) this.congestion = new TextDecoder().decode(this.congBytes);
  }

  build(): Track {
    const n = this.n;
    const f = {} as Record<TrackField, Float64Array>;
    for (const k of TRACK_FIELDS) f[k] = this.cols[k].subarray(0, n);
    return { n, t: this.t.subarray(0, n), f, sndbuf: this.sndbuf.subarray(0, n), block: this.block, ...(this.congestion ? { congestion: this.congestion } : {}) };
  }
}

export function trackOf(snapshots: Iterable<Snapshot>): Track {
  const b = new TrackBuilder();
  for (const s of snapshots) b.add(s);
  return b.build();
}

/** The last non-NaN value of a column, or undefined. */
export function lastValue(a: Float64Array): number | undefined {
  for (let i = a.length - 1; i >= 0; i--) if (!Number.isNaN(a[i])) return a[i];
  return undefined;
}

/** The first non-NaN value of a column, or undefined. */
export function firstValue(a: Float64Array): number | undefined {
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i])) return a[i];
  return undefined;
}

/** tcp_info sentinels: ssthresh before the first loss, min_rtt before a sample, unlimited pacing. */
export const INFINITE_SSTHRESH = 0x7fffffff;
export const NO_MIN_RTT = 0xffffffff;
/** u64 rates at or above this are ~0 ("unlimited"), not a rate. */
export const UNLIMITED_RATE = 2 ** 63;
