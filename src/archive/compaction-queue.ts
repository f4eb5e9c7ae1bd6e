// Finished archive files of several frames, rewritten as one frame each when the set has
// time left after its due flushes (compact.ts does one file). Oldest first.
import { join } from "node:path";
import { compactFile } from "./compact.ts";
import type { ArchiveCounters } from "./counters.ts";
import { FrameCompressor, type FrameCompressorOptions } from "./frame-compressor.ts";
import type { ArchiveFileInfo } from "./writer-context.ts";

/** Compaction keeps its compressor (and scratch space about 3x this) only after files of at most this many bytes of lines. */
const COMPACTOR_KEEP_BYTES = 1 << 20;

export class CompactionQueue {
  private files: ArchiveFileInfo[] = [];
  private head = 0;
  // Compaction's own compressor. Its scratch space grows to hold a whole file's lines (up
  // to tens of MiB for a 1 MiB file), so after a file that large it is dropped, for the
  // garbage collector to take back, instead of staying in the writers' shared compressor
  // for the life of the process.
  private compressor: FrameCompressor | null = null;

  constructor(
    private readonly outputDir: string,
    private readonly counters: ArchiveCounters,
    private readonly compressorOptions: FrameCompressorOptions,
  ) {}

  add(info: ArchiveFileInfo): void {
    this.files.push(info);
  }

  /** Files waiting. */
  get backlog(): number {
    return this.files.length - this.head;
  }

  /** Rewrites files while time remains before `deadline` (performance.now()); `changed` hears of each file rewritten. */
  runUntil(deadline: number, nowMs: number, changed: (info: ArchiveFileInfo) => void): void {
    while (this.head < this.files.length && performance.now() < deadline) {
      const info = this.files[this.head++];
      if (this.head === this.files.length) {
        this.files = [];
        this.head = 0;
      }
      const compressor = (this.compressor ??= new FrameCompressor(this.compressorOptions));
      try {
        const r = compactFile(join(this.outputDir, info.path), info.bytes, compressor);
        if (r !== null) {
          info.bytes = r.after;
          this.counters.compactedFiles++;
          this.counters.compactedBytesSaved += r.before - r.after;
          changed(info);
        }
      } catch (e) {
        this.counters.error("compact", info.uuid, `${info.path}: ${e instanceof Error ? e.message : String(e)}`, nowMs);
      }
      if (compressor.lastInputBytes > COMPACTOR_KEEP_BYTES) this.compressor = null;
    }
  }
}
