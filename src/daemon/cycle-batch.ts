// One cycle's archive operations for the storage worker, built on the poll thread: the
// operations in a Float64Array and the archived messages, raw, back to back in one
// ArrayBuffer, each starting 4-byte aligned (see storage-protocol.ts). Both are moved to
// the worker whole, which hands them back for the next cycles: a busy host does not
// leave a batch's worth of garbage per cycle.
import { Op, type ToStorage } from "./storage-protocol.ts";

/** First size of a cycle's line buffer; it grows (doubling) to what cycles need. */
const FIRST_BATCH_BYTES = 256 * 1024;
/** Operation buffers above this size (a start-up burst's) are not kept for reuse. */
const MAX_SPARE_OPS_BYTES = 1 << 20;
/** Buffers the worker hands back, kept for the next cycles. */
const SPARE_BATCHES = 3;

type Lines = { buffer: ArrayBuffer; bytes: Buffer; words: Int32Array };

export class CycleBatch {
  /** The operations (`opsLen` numbers). */
  private ops: Float64Array | null = null;
  private opsLen = 0;
  private uuids: string[] = [];
  private lines: Lines | null = null;
  /** Bytes of messages so far, padding included. */
  bytes = 0;
  private batchSize = FIRST_BATCH_BYTES;
  private readonly spare: ArrayBuffer[] = [];
  private readonly spareOps: Float64Array[] = [];
  /** The last message buffer copied from, and a word view of it when it starts aligned. */
  private from: Uint8Array | null = null;
  private from32: Int32Array | null = null;

  open(id: number, startMs: number, firstSeq: number, startSubMs: number, uuid: string): void {
    this.op6(Op.Open, id, startMs, firstSeq, startSubMs, this.uuids.push(uuid) - 1);
  }

  /** The message msg[idm, idm + n) for connection `id`, taken at (sec, nsec). */
  line(id: number, nowMs: number, msg: Uint8Array, idm: number, n: number, sec: number, nsec: number): void {
    this.copyIn(msg, idm, n, this.room(n + 3));
    this.op6(Op.Line, id, nowMs, n, sec, nsec);
    this.bytes += (n + 3) & ~3;
  }

  /** An operation of five operands (no array made for them). */
  private op6(op: Op, a: number, b: number, c: number, d: number, e: number): void {
    const o = this.opsRoom(6);
    const at = this.opsLen;
    o[at] = op;
    o[at + 1] = a;
    o[at + 2] = b;
    o[at + 3] = c;
    o[at + 4] = d;
    o[at + 5] = e;
    this.opsLen += 6;
  }

  close(id: number, nowMs: number): void {
    const o = this.opsRoom(3);
    const at = this.opsLen;
    o[at] = Op.Close;
    o[at + 1] = id;
    o[at + 2] = nowMs;
    this.opsLen += 3;
  }

  /** The batch as the worker's message with what it moves, or null if empty; the next batch begins. */
  take(): { message: ToStorage & { kind: "batch" }; transfer: ArrayBuffer[] } | null {
    const ops = this.ops;
    if (this.opsLen === 0 || ops === null) return null;
    const lines = this.lines?.buffer ?? new ArrayBuffer(0);
    const message = { kind: "batch" as const, ops, count: this.opsLen, uuids: this.uuids, lines, bytes: this.bytes };
    // The next batches are sized by this one's need: after a burst (every connection's
    // first snapshot at start-up, 26 MB at 50k) the buffers shrink back, and a spare of
    // the burst's size is not kept for good.
    this.batchSize = Math.max(FIRST_BATCH_BYTES, 2 ** Math.ceil(Math.log2(this.bytes * 1.25 + 1)));
    this.ops = null;
    this.opsLen = 0;
    this.uuids = [];
    this.lines = null;
    this.bytes = 0;
    return { message, transfer: [ops.buffer as ArrayBuffer, lines] };
  }

  /** A batch's buffers, handed back by the worker: kept for the next batches if they fit. */
  recycle(buffer: ArrayBuffer, ops: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (this.spare.length < SPARE_BATCHES && size >= this.batchSize / 2 && size <= this.batchSize * 4) this.spare.push(buffer);
    if (this.spareOps.length < SPARE_BATCHES && ops.byteLength <= MAX_SPARE_OPS_BYTES) this.spareOps.push(new Float64Array(ops));
  }

  /**
   * Copies msg[idm, idm + n) to the lines at `this.bytes` (aligned): as words when the
   * message is aligned too (netlink's are), by a loop rather than a native call on a
   * fresh subarray, which made ~1,000 objects a cycle and a tenth of the poll thread's CPU.
   */
  private copyIn(msg: Uint8Array, idm: number, n: number, lines: Lines): void {
    if (msg !== this.from) {
      this.from = msg;
      this.from32 = (msg.byteOffset & 3) === 0 ? new Int32Array(msg.buffer, msg.byteOffset, msg.byteLength >> 2) : null;
    }
    const src32 = this.from32;
    let j = 0;
    if (src32 !== null && (idm & 3) === 0) {
      const w = lines.words;
      const f = idm >> 2;
      const t = this.bytes >> 2;
      const n32 = n >> 2;
      for (; j < n32; j++) w[t + j] = src32[f + j];
      j <<= 2;
    }
    const out = lines.bytes;
    for (const to = this.bytes; j < n; j++) out[to + j] = msg[idm + j];
  }

  /** The operations buffer, with room for `k` more numbers. */
  private opsRoom(k: number): Float64Array {
    const have = this.ops;
    if (have !== null && this.opsLen + k <= have.length) return have;
    let size = have === null ? 1024 : have.length;
    while (size < this.opsLen + k) size *= 2;
    const reuse = this.spareOps.findIndex((o) => o.length >= size);
    const ops = reuse >= 0 ? this.spareOps.splice(reuse, 1)[0] : new Float64Array(size);
    if (have !== null && this.opsLen > 0) ops.set(have.subarray(0, this.opsLen));
    this.ops = ops;
    return ops;
  }

  /** The line buffer, with room for `n` more bytes. */
  private room(n: number): Lines {
    const have = this.lines;
    if (have !== null && this.bytes + n <= have.bytes.byteLength) return have;
    while (this.batchSize < this.bytes + n) this.batchSize *= 2;
    const reuse = this.spare.findIndex((b) => b.byteLength >= this.batchSize);
    const buffer = reuse >= 0 ? this.spare.splice(reuse, 1)[0] : new ArrayBuffer(this.batchSize);
    const bytes = Buffer.from(buffer);
    if (have !== null && this.bytes > 0) bytes.set(have.bytes.subarray(0, this.bytes), 0);
    this.lines = { buffer, bytes, words: new Int32Array(buffer, 0, buffer.byteLength >> 2) };
    return this.lines;
  }
}
