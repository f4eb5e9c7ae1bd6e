// ArchivalRecord JSON lines, byte for byte as M-Lab's Go collector writes them
// (netlink.ArchivalRecord through encoding/json). Called for every archived snapshot, so
// the line is assembled as bytes, not through JSON.stringify or an object.
//
// Facts matched (github.com/m-lab/tcp-info netlink/archival-record.go, MakeArchivalRecord):
// - key order Timestamp, RawIDM, Attributes; RawIDM is the 72-byte inet_diag_msg;
// - Attributes has one slot per type up to the highest type present, `null` where absent;
//   an attribute with an empty payload is `""` (a non-nil empty Go slice);
// - a message with no attribute at all still gets `"Attributes":[null]` (Go makes a slice of
//   length maxType+1 = 1, which `omitempty` keeps);
// - Go caps the array at 2*INET_DIAG_MAX (38) and drops higher types; src/diag's
//   AttributeIndex keeps types below ATTR_TABLE_SIZE (32) only, which today's kernels
//   (highest type 22) never reach. Nested-flagged types are masked there (Go would drop
//   them): only INET_DIAG_SK_BPF_STORAGES is nested, and only when asked for.
import type { AttributeIndex } from "../diag/attributes.ts";
import { NLMSG_HDRLEN } from "../diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { GO_ZERO_TIME } from "./time.ts";

// The line is assembled as bytes, base64 included, directly in the buffer that keeps it
// until it is compressed. Strings cost twice: made here, then copied back into bytes for
// zstd (and, across threads, serialised once more).
const B64 = Uint8Array.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", (c) => c.charCodeAt(0));
/**
 * Both characters of each 12-bit half of a 3-byte group (the first in the low byte): two
 * lookups a group instead of four, in a table of 8 KiB. ~20 % less time per attribute.
 */
const B64_PAIR = new Uint16Array(4096).map((_, i) => B64[i >>> 6] | (B64[i & 63] << 8));
const EQ = 0x3d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HEAD = ascii('{"Timestamp":"');
const RAW_IDM = ascii('","RawIDM":"');
const ATTRIBUTES = ascii('","Attributes":[');
const NULL = ascii("null");
const TAIL = ascii("]}");
const NEWLINE = 0x0a;

let scratch: Buffer = Buffer.allocUnsafe(16 * 1024);

/**
 * Copies a few bytes with a plain loop: a typed array's set() is a native call whose fixed
 * cost is far above that of the 4-16 bytes of each piece of a line's syntax.
 */
function put(bytes: Uint8Array, out: Uint8Array, pos: number): number {
  for (let i = 0; i < bytes.length; i++) out[pos + i] = bytes[i];
  return pos + bytes.length;
}

// The Timestamp of the last line, as bytes: every line of a cycle shares one text.
let stampText = "";
let stampBytes: Uint8Array = new Uint8Array(0);

function timestampBytes(timestamp: string): Uint8Array {
  if (timestamp !== stampText) {
    stampBytes = Buffer.from(timestamp, "utf8");
    stampText = timestamp;
  }
  return stampBytes;
}

/** Standard base64 (with padding) of src[start, end) into out at pos; returns the new pos. */
function base64Into(src: Uint8Array, start: number, end: number, out: Uint8Array, pos: number): number {
  let i = start;
  const whole = end - ((end - start) % 3);
  for (; i < whole; i += 3) {
    const v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];
    const hi = B64_PAIR[v >>> 12];
    const lo = B64_PAIR[v & 4095];
    out[pos] = hi;
    out[pos + 1] = hi >>> 8;
    out[pos + 2] = lo;
    out[pos + 3] = lo >>> 8;
    pos += 4;
  }
  if (end - i === 1) {
    const v = src[i] << 16;
    out[pos] = B64[v >>> 18];
    out[pos + 1] = B64[(v >>> 12) & 63];
    out[pos + 2] = EQ;
    out[pos + 3] = EQ;
    pos += 4;
  } else if (end - i === 2) {
    const v = (src[i] << 16) | (src[i + 1] << 8);
    out[pos] = B64[v >>> 18];
    out[pos + 1] = B64[(v >>> 12) & 63];
    out[pos + 2] = B64[(v >>> 6) & 63];
    out[pos + 3] = EQ;
    pos += 4;
  }
  return pos;
}

/** Bytes encodeRecordInto may write for this message, at most (the newline included). */
export function recordBound(timestamp: string, attrs: AttributeIndex): number {
  const max = attrs.maxType;
  const offset = attrs.offset;
  const length = attrs.length;
  let need = 64 + timestamp.length * 3 + 4 * Math.ceil(INET_DIAG_MSG_SIZE / 3) + 8;
  for (let t = 0; t <= max; t++) need += offset[t] < 0 ? 5 : 4 * Math.ceil(length[t] / 3) + 3;
  return need;
}

/**
 * Writes one snapshot line and its newline into `out` at `pos` (the caller made room for
 * recordBound() bytes) and returns the position after it. `timestamp` is already
 * formatted (see formatTime); `idm` is the offset of the inet_diag_msg in `buf`, whose 72
 * bytes the caller has checked are present; `attrs` is indexed over `buf`. The line goes
 * straight where it is kept (a writer's buffer, a batch for the storage worker): no
 * string is made of it.
 */
export function encodeRecordInto(out: Buffer, pos: number, timestamp: string, buf: Uint8Array, idm: number, attrs: AttributeIndex): number {
  const max = attrs.maxType;
  const offset = attrs.offset;
  const length = attrs.length;
  pos = put(HEAD, out, pos);
  pos = put(timestampBytes(timestamp), out, pos);
  pos = put(RAW_IDM, out, pos);
  pos = base64Into(buf, idm, idm + INET_DIAG_MSG_SIZE, out, pos);
  pos = put(ATTRIBUTES, out, pos);
  if (max < 0) pos = put(NULL, out, pos);
  for (let t = 0; t <= max; t++) {
    if (t > 0) out[pos++] = COMMA;
    const o = offset[t];
    if (o < 0) {
      pos = put(NULL, out, pos);
    } else {
      out[pos++] = QUOTE;
      pos = base64Into(buf, o, o + length[t], out, pos);
      out[pos++] = QUOTE;
    }
  }
  pos = put(TAIL, out, pos);
  out[pos++] = NEWLINE;
  return pos;
}

/** One snapshot line as a string, without the trailing newline (see encodeRecordInto). */
export function encodeRecord(timestamp: string, buf: Uint8Array, idm: number, attrs: AttributeIndex): string {
  const need = recordBound(timestamp, attrs);
  if (scratch.byteLength < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.byteLength * 2));
  const end = encodeRecordInto(scratch, 0, timestamp, buf, idm, attrs);
  return scratch.toString("utf8", 0, end - 1);
}

/**
 * One whole netlink message (header at `offset`, `length` bytes) as a line, or null where
 * M-Lab writes no record: fewer than 72 bytes after the header, or a malformed attribute
 * area (Go's ParseRouteAttr fails and MakeArchivalRecord returns the error). `attrs` is
 * scratch space, left indexed over the message.
 */
export function encodeMessage(timestamp: string, buf: Uint8Array, offset: number, length: number, attrs: AttributeIndex): string | null {
  const idm = offset + NLMSG_HDRLEN;
  const end = offset + length;
  if (end - idm < INET_DIAG_MSG_SIZE || end > buf.byteLength) return null;
  if (!attrs.index(buf, idm + INET_DIAG_MSG_SIZE, end)) return null;
  return encodeRecord(timestamp, buf, idm, attrs);
}

/**
 * The first line of every archive file, without the trailing newline. `startTime` is
 * already formatted (the connection's start, see formatTime).
 */
export function encodeMetadata(uuid: string, sequence: number, startTime: string): string {
  return `{"Timestamp":"${GO_ZERO_TIME}","Metadata":{"UUID":${goJsonString(uuid)},"Sequence":${Math.trunc(sequence)},"StartTime":"${startTime}"}}`;
}

// encoding/json escapes these (HTML safety, and JavaScript line terminators) where
// JSON.stringify leaves them as they are.
const GO_EXTRA_ESCAPE = /[<>&\u2028\u2029]/;
const GO_EXTRA_ESCAPES = /[<>&\u2028\u2029]/g;

/** A JSON string literal as Go's encoding/json writes it. */
export function goJsonString(s: string): string {
  const json = JSON.stringify(s);
  return GO_EXTRA_ESCAPE.test(json)
    ? json.replace(GO_EXTRA_ESCAPES, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"))
    : json;
}

/**
 * Runs the encoder over a made-up message until the JIT has compiled it. A worker that
 * starts cold encodes its first batches several times slower (36 ms for 1,000 lines
 * against 10), and at start-up, when every busy connection also gets its first file, that
 * is what puts it behind. About 10 ms; returns the lines encoded.
 */
export function warmEncoder(indexer: AttributeIndex, rounds = 4000): number {
  // inet_diag_msg, then INFO (232 bytes), MEMINFO (16) and CONG ("cubic\0"), as rtattrs.
  const payloads: [number, number][] = [[2, 232], [1, 16], [4, 6]];
  const size = INET_DIAG_MSG_SIZE + payloads.reduce((n, [, len]) => n + ((4 + len + 3) & ~3), 0);
  const msg = new Uint8Array(size);
  let off = INET_DIAG_MSG_SIZE;
  for (const [type, len] of payloads) {
    msg[off] = (4 + len) & 0xff;
    msg[off + 1] = (4 + len) >> 8;
    msg[off + 2] = type;
    off += (4 + len + 3) & ~3;
  }
  const out = Buffer.allocUnsafe(4096);
  let lines = 0;
  for (let i = 0; i < rounds; i++) {
    msg[INET_DIAG_MSG_SIZE + 8] = i & 0xff;
    if (!indexer.index(msg, INET_DIAG_MSG_SIZE, size)) break;
    encodeRecordInto(out, 0, "2026-01-01T00:00:00.000000001Z", msg, 0, indexer);
    lines++;
  }
  return lines;
}
