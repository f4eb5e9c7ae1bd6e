// Incremental zstd decompression for the reader: bytes go in as they are read, output
// comes out as it is produced, across any number of concatenated (or skippable) frames.
// Input that does not start with a zstd frame is passed through unchanged (plain .jsonl).
import * as binding from "zstd-napi/binding";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const OUT_SIZE = binding.dStreamOutSize();

export class ZstdFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ZstdFormatError";
  }
}

/** True when `head` begins with a zstd frame (or a skippable frame, magic 0x184D2A5?). */
export function looksLikeZstd(head: Uint8Array): boolean {
  if (head.byteLength < 4) return false;
  if (head[0] === ZSTD_MAGIC[0] && head[1] === ZSTD_MAGIC[1] && head[2] === ZSTD_MAGIC[2] && head[3] === ZSTD_MAGIC[3]) return true;
  return (head[0] & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18;
}

export class Inflater {
  private mode: "undecided" | "zstd" | "plain" = "undecided";
  private head: Uint8Array = new Uint8Array(0);
  private readonly dctx = new binding.DCtx();
  /** True while a frame has started but not ended. */
  private inFrame = false;
  private consumed = 0;

  /** Compressed bytes consumed so far (for error messages). */
  get offset(): number {
    return this.consumed;
  }

  /** Feeds `chunk`; returns the bytes it decompresses to (possibly none). Throws ZstdFormatError. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.mode === "undecided") {
      // Decide on the first 4 bytes, which may arrive split across chunks.
      const joined = new Uint8Array(this.head.byteLength + chunk.byteLength);
      joined.set(this.head);
      joined.set(chunk, this.head.byteLength);
      if (joined.byteLength < 4) {
        this.head = joined;
        return [];
      }
      this.head = new Uint8Array(0);
      this.mode = looksLikeZstd(joined) ? "zstd" : "plain";
      chunk = joined;
    }
    if (this.mode === "plain") return chunk.byteLength > 0 ? [chunk] : [];
    return this.inflate(chunk);
  }

  /** No more input: throws if it ended inside a frame. Returns plain bytes held back, if any. */
  end(): Uint8Array[] {
    if (this.mode === "undecided") return this.head.byteLength > 0 ? [this.head] : [];
    if (this.mode === "zstd" && this.inFrame) throw new ZstdFormatError(`zstd data truncated inside a frame (after ${this.consumed} bytes)`);
    return [];
  }

  private inflate(input: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let src = input;
    for (;;) {
      const dst = Buffer.allocUnsafe(OUT_SIZE);
      let ret: number;
      let produced: number;
      let used: number;
      try {
        [ret, produced, used] = this.dctx.decompressStream(dst, src);
      } catch (e) {
        throw new ZstdFormatError(`corrupt zstd data near byte ${this.consumed}: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.consumed += used;
      src = src.subarray(used);
      if (produced > 0) out.push(dst.subarray(0, produced));
      this.inFrame = ret !== 0;
      // Input used up and output not full: nothing more to get. A full output buffer
      // means more may be waiting, so call again (with no input) to drain it.
      if (src.byteLength === 0 && produced < dst.byteLength) break;
      if (used === 0 && produced === 0) break; // no progress possible: wait for more input
    }
    return out;
  }
}

const NEWLINE = 0x0a;
/** Decompressed bytes held at once: big enough for native calls to be few, small enough to stay in cache. */
const RUN_BUFFER = 1 << 20;
let runBuffer = new Uint8Array(RUN_BUFFER);
const runDctx = new binding.DCtx();

/**
 * Hands `visit` the decompressed lines of a whole archive (zstd frames, or plain bytes)
 * as runs of whole lines, each run a view valid only during the call. The output goes
 * through one reused buffer, never a buffer the size of the file: a 100,000-snapshot
 * archive is ~78 MB of JSON, and faulting in a fresh 78 MB cost more than decompressing
 * it. Corrupt or truncated data throws ZstdFormatError after the whole lines before it.
 * Synchronous, so callers on one thread never share the buffer.
 */
export function eachLineRun(raw: Uint8Array, visit: (run: Uint8Array) => void): void {
  if (!looksLikeZstd(raw)) {
    if (raw.byteLength > 0) visit(raw);
    return;
  }
  runDctx.reset(binding.ResetDirective.sessionOnly);
  let src = raw;
  let filled = 0;
  let inFrame = false;
  for (;;) {
    // A line longer than the buffer: grow it (the bigger one is kept for later files).
    if (filled === runBuffer.byteLength) {
      const bigger = new Uint8Array(runBuffer.byteLength * 2);
      bigger.set(runBuffer);
      runBuffer = bigger;
    }
    const room = runBuffer.byteLength - filled;
    let ret: number;
    let produced: number;
    let used: number;
    try {
      [ret, produced, used] = runDctx.decompressStream(runBuffer.subarray(filled), src);
    } catch (e) {
      throw new ZstdFormatError(`corrupt zstd data near byte ${raw.byteLength - src.byteLength}: ${e instanceof Error ? e.message : String(e)}`);
    }
    src = src.subarray(used);
    filled += produced;
    inFrame = ret !== 0;
    const last = filled > 0 ? runBuffer.lastIndexOf(NEWLINE, filled - 1) : -1;
    if (last >= 0) {
      visit(runBuffer.subarray(0, last + 1));
      runBuffer.copyWithin(0, last + 1, filled);
      filled -= last + 1;
    }
    if (src.byteLength === 0 && produced < room) break;
    if (used === 0 && produced === 0) break;
  }
  if (inFrame) throw new ZstdFormatError(`zstd data truncated inside a frame (after ${raw.byteLength} bytes)`);
  if (filled > 0) visit(runBuffer.subarray(0, filled));
}
