// Turns a batch of JSON lines into one complete zstd frame. Frames are independent, and
// concatenated frames are a valid zstd file (`zstd -t`, `zstd -d`, Go's readers), so each
// flush can append a frame to a file that is never held open.
// One compression context and two scratch buffers serve every connection: a flush
// allocates nothing but, when needed, larger scratch space.
import * as binding from "zstd-napi/binding";

export interface FrameCompressorOptions {
  /** zstd level (1 = fastest; negative levels are faster still). Default DEFAULT_LEVEL. */
  level?: number;
  /**
   * Adds a 4-byte XXH64 content checksum per frame, as the zstd CLI (and so M-Lab's
   * files) does, so `zstd -t` detects corrupted data, not only broken framing. Default true.
   */
  checksum?: boolean;
}

/** Level 1: as small as level 3 on archive lines, and faster (test/archive/writer.bench.ts; README.md). */
export const DEFAULT_LEVEL = 1;

export class FrameCompressor {
  readonly level: number;
  private readonly cctx = new binding.CCtx();
  private input: Buffer = Buffer.allocUnsafe(64 * 1024);
  private output: Buffer = Buffer.allocUnsafe(binding.compressBound(64 * 1024));

  constructor(opts: FrameCompressorOptions = {}) {
    this.level = opts.level ?? DEFAULT_LEVEL;
    this.cctx.setParameter(binding.CParameter.compressionLevel, this.level);
    this.cctx.setParameter(binding.CParameter.checksumFlag, opts.checksum === false ? 0 : 1);
  }

  /** Bytes of input the last compress call took (UTF-8). */
  lastInputBytes = 0;

  /**
   * One frame of `head` (if not null, with a newline after it) and then `body`, lines
   * already ending in newlines. Without a head the body is compressed where it lies.
   */
  compressView(head: string | null, body: Uint8Array): Uint8Array {
    if (head === null) return this.compressFrom(body);
    const need = head.length * 3 + 1 + body.byteLength;
    if (this.input.byteLength < need) this.input = Buffer.allocUnsafe(grow(need));
    let n = this.input.write(head, 0, "utf8");
    this.input[n++] = NEWLINE;
    this.input.set(body, n);
    return this.compressFrom(this.input.subarray(0, n + body.byteLength));
  }

  private compressFrom(input: Uint8Array): Uint8Array {
    const n = input.byteLength;
    this.lastInputBytes = n;
    const bound = binding.compressBound(n);
    if (this.output.byteLength < bound) this.output = Buffer.allocUnsafe(grow(bound));
    const len = this.cctx.compress2(this.output, input);
    return this.output.subarray(0, len);
  }
}

const NEWLINE = 0x0a;
const grow = (n: number): number => Math.ceil(Math.max(n, 64 * 1024) * 1.5);
