// Captured sock_diag dumps, replayed through the collector's own dump callback. Lets the
// archive path (diff, encode, append, zstd, write) run at its own speed, without the
// kernel's dump cost and without depending on how fast load.c can make sockets change.
import { readFileSync, writeFileSync } from "node:fs";
import { RECEIVE_BUFFER_SIZE, SockDiagDumper, type DumpResult } from "../../src/collector/dumper.ts";
import type { DumpSource, KernelSource } from "../../src/collector/kernel-source.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { AF_INET, AF_INET6, AF_UNSPEC, Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../../src/diag/layouts.ts";
import { newSplitState, splitMessages, type MessageVisitor } from "../../src/diag/netlink-messages.ts";

/** Like the kernel's dump chunks (it fills skbs of up to ~32 KiB). */
const CHUNK_BYTES = 32 * 1024;
const NLMSG_DONE = 3;

/** tcp_info fields an active, sending connection changes every poll (offsets in tcp_info). */
const BYTES_ACKED = 120;
const SEGS_OUT = 136;
const DATA_SEGS_OUT = 156;
const DELIVERED = 192;
const BYTES_SENT = 200;
const MIN_INFO_LEN = BYTES_SENT + 8;

export class CapturedDump {
  readonly chunks: { bytes: Uint8Array; length: number }[] = [];
  /** Per message: chunk index and offset of its tcp_info payload in that chunk. */
  private readonly infos: { chunk: number; off: number }[] = [];
  messages = 0;
  bytes = 0;

  /** Takes one real dump now (each message copied whole, header included). */
  static capture(states: number): CapturedDump {
    const d = new CapturedDump();
    const dumper = new SockDiagDumper(undefined, states);
    const attrs = new AttributeIndex();
    try {
      dumper.dump((buf, off, len) => d.add(buf, off, len, attrs));
    } finally {
      dumper.close();
    }
    d.finish();
    return d;
  }

  /**
   * Saves the messages (the chunks back to back, NLMSG_DONE last) so a later process can
   * replay them: the capture needs the load running, the replay wants a quiet machine.
   */
  save(path: string): void {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let pos = 0;
    for (const c of this.chunks) {
      out.set(c.bytes.subarray(0, c.length), pos);
      pos += c.length;
    }
    writeFileSync(path, out);
  }

  static load(path: string): CapturedDump {
    const d = new CapturedDump();
    const file = new Uint8Array(readFileSync(path));
    const attrs = new AttributeIndex();
    splitMessages(file, file.byteLength, (buf, off, len) => d.add(buf, off, len, attrs), newSplitState());
    d.finish();
    return d;
  }

  private add(buf: Uint8Array, off: number, len: number, attrs: AttributeIndex): void {
    const aligned = (len + 3) & ~3;
    let last = this.chunks[this.chunks.length - 1];
    if (last === undefined || last.length + aligned > CHUNK_BYTES) {
      last = { bytes: new Uint8Array(CHUNK_BYTES + 64), length: 0 };
      this.chunks.push(last);
    }
    last.bytes.set(buf.subarray(off, off + len), last.length);
    const idm = NLMSG_HDRLEN;
    const msg = last.bytes.subarray(last.length, last.length + len);
    if (len >= idm + INET_DIAG_MSG_SIZE && attrs.index(msg, idm + INET_DIAG_MSG_SIZE, len)) {
      const info = attrs.offset[Attr.INFO];
      if (info >= 0 && attrs.length[Attr.INFO] >= MIN_INFO_LEN) this.infos.push({ chunk: this.chunks.length - 1, off: last.length + info });
    }
    last.length += aligned;
    this.messages++;
    this.bytes += len;
  }

  /** Ends the last chunk with NLMSG_DONE, as the kernel does. */
  private finish(): void {
    let last = this.chunks[this.chunks.length - 1];
    if (last === undefined) {
      last = { bytes: new Uint8Array(64), length: 0 };
      this.chunks.push(last);
    }
    const dv = new DataView(last.bytes.buffer, last.bytes.byteOffset);
    dv.setUint32(last.length, NLMSG_HDRLEN + 4, true);
    dv.setUint16(last.length + 4, NLMSG_DONE, true);
    last.length += NLMSG_HDRLEN + 4;
  }

  /** Sockets whose tcp_info `advance` can change (so they are archived every cycle). */
  get mutable(): number {
    return this.infos.length;
  }

  /**
   * Moves every socket's counters on as if it had sent `bytes` more in one segment, so
   * M-Lab's change rule sees a change (the counters lie in the compared range) and the
   * lines differ the way real consecutive snapshots do.
   */
  advance(bytes: number): void {
    const views = this.chunks.map((c) => new DataView(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength));
    for (const { chunk, off } of this.infos) {
      const dv = views[chunk];
      if (dv === undefined) continue;
      dv.setUint32(off + BYTES_ACKED, (dv.getUint32(off + BYTES_ACKED, true) + bytes) >>> 0, true);
      dv.setUint32(off + BYTES_SENT, (dv.getUint32(off + BYTES_SENT, true) + bytes) >>> 0, true);
      dv.setUint32(off + SEGS_OUT, (dv.getUint32(off + SEGS_OUT, true) + 1) >>> 0, true);
      dv.setUint32(off + DATA_SEGS_OUT, (dv.getUint32(off + DATA_SEGS_OUT, true) + 1) >>> 0, true);
      dv.setUint32(off + DELIVERED, (dv.getUint32(off + DELIVERED, true) + 1) >>> 0, true);
    }
  }
}

/**
 * A KernelSource that copies the captured chunks, one at a time, into its buffer and
 * splits them with the collector's splitter: the dump a Collector built with it sees is
 * the captured one, replayed (no destroy events).
 */
export function capturedSource(dump: CapturedDump): KernelSource {
  const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
  const state = newSplitState();
  const dumper: DumpSource = {
    buffer,
    families: [AF_INET6, AF_INET],
    lastMessages: [0, 0],
    walks: [AF_UNSPEC],
    lastSeconds: [0],
    fallback: null,
    dump(visit: MessageVisitor): DumpResult {
      let messages = 0;
      let bytes = 0;
      for (const c of dump.chunks) {
        buffer.set(c.bytes.subarray(0, c.length));
        splitMessages(buffer, c.length, visit, state);
        messages += state.messages;
        bytes += c.length;
      }
      return { messages, bytes, chunks: dump.chunks.length, malformed: 0 };
    },
    reset(): void {},
    close(): void {},
  };
  return { dumper, destroy: null };
}
