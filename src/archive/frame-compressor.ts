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
   * One frame holding `head` (if not null) and each of `lines`, every one followed by
   * "\n", as UTF-8. The lines are copied straight into scratch space: joining them into
   * one string first would cost a second copy. The result is a view of scratch space,
   * valid until the next call: write it out before compressing again.
   */
  compressLines(head: string | null, lines: readonly string[]): Uint8Array {
    let chars = head === null ? 0 : head.length + 1;
    for (let i = 0; i < lines.length; i++) chars += lines[i].length + 1;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; archive lines are ASCII in practice.
    if (this.input.byteLength < chars * 3) this.input = Buffer.allocUnsafe(grow(chars * 3));
    const input = this.input;
    let n = 0;
    if (head !== null) {
      n += input.write(head, n, "utf8");
      input[n++] = NEWLINE;
    }
    for (let i = 0; i < lines.length; i++) {
      n += input.write(lines[i], n, "utf8");
      input[n++] = NEWLINE;
    }
    return this.compressInput(n);
  }

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
    return this.compressInput(n + body.byteLength);
  }

  /** One frame of `bytes` (a view of scratch space, valid until the next call). */
  compressBytes(bytes: Uint8Array): Uint8Array {
    if (this.input.byteLength < bytes.byteLength) this.input = Buffer.allocUnsafe(grow(bytes.byteLength));
    this.input.set(bytes, 0);
    return this.compressInput(bytes.byteLength);
  }

  private compressInput(n: number): Uint8Array {
    return this.compressFrom(this.input.subarray(0, n));
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
