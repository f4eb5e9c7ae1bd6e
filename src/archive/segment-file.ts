// One file of a connection's series on disk: created exclusively with its Metadata line
// and a first frame, then grown a frame at a time. Failures are counted and reported as
// false; nothing here throws.
import { join } from "node:path";
import { appendExisting, createExclusive, errorCode } from "./file-io.ts";
import { archivePath, datePath } from "./naming.ts";
import { encodeMetadata } from "./record.ts";
import { formatTimeMsNs } from "./time.ts";
import type { ArchiveFileInfo, WriterContext } from "./writer-context.ts";

/**
 * The file as the index sees it (ArchiveFileInfo), and what writing it needs: one object
 * per file, as an idle connection keeps one for as long as it lives. Its path is made
 * from the uuid, sequence number and date each time it is read, not kept: ~110 bytes of
 * string per connection, and a path is read once per flush, not per poll.
 */
export class Segment implements ArchiveFileInfo {
  closedAt: number | null = null;
  records = 0;
  bytes = 0;
  created = false;
  /** zstd frames written to the file so far. */
  frames = 0;

  /** `dateMs`: Unix ms whose UTC date names the file. */
  constructor(readonly uuid: string, public seq: number, readonly openedAt: number, readonly dateMs: number) {}

  /** Relative to the output folder; "" until the file exists on disk. */
  get path(): string {
    return this.created ? archivePath(this.uuid, this.seq, this.dateMs) : "";
  }
}

/** A copy of the file's fields alone (what the index and callers see, without the writer's). */
export function fileInfo(f: ArchiveFileInfo): ArchiveFileInfo {
  return { uuid: f.uuid, path: f.path, seq: f.seq, openedAt: f.openedAt, closedAt: f.closedAt, records: f.records, bytes: f.bytes };
}

/** The connection a segment belongs to, as its Metadata line names it. */
export interface SeriesIdentity {
  readonly uuid: string;
  readonly startMs: number;
  readonly startSubMs: number;
}

// Names tried per flush before giving up ("exists"): only a folder full of stale files
// from earlier runs could exhaust it.
const MAX_NAME_ATTEMPTS = 1000;

/**
 * Creates the segment's file with its Metadata line and `body` (lines with their
 * newlines) as one frame. The sequence number advances past names that exist.
 */
export function createSegmentFile(ctx: WriterContext, id: SeriesIdentity, seg: Segment, body: Uint8Array, nowMs: number): boolean {
  const dir = join(ctx.outputDir, datePath(seg.dateMs));
  try {
    ctx.dirs.ensure(dir);
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
      const seq = seg.seq;
      const rel = archivePath(id.uuid, seq, seg.dateMs);
      let inBytes = 0;
      let frameBytes = 0;
      const created = createExclusive(join(ctx.outputDir, rel), () => {
        const frame = ctx.compressor.compressView(encodeMetadata(id.uuid, seq, formatTimeMsNs(id.startMs, id.startSubMs)), body);
        inBytes = ctx.compressor.lastInputBytes;
        frameBytes = frame.byteLength;
        return frame;
      });
      if (created) {
        seg.created = true;
        seg.frames = 1;
        seg.bytes = frameBytes;
        ctx.counters.filesCreated++;
        ctx.counters.bytesWritten += frameBytes;
        ctx.counters.bytesIn += inBytes;
        return true;
      }
      seg.seq = seq + 1;
    }
    ctx.counters.error("exists", id.uuid, `no free file name among ${MAX_NAME_ATTEMPTS} sequence numbers`, nowMs);
    return false;
  } catch (e) {
    if (errorCode(e) === "ENOENT") ctx.dirs.forget(dir);
    recordError(ctx, id.uuid, e, nowMs);
    return false;
  }
}

/** Appends `body` as one more frame to the segment's existing file. */
export function appendSegmentFrame(ctx: WriterContext, uuid: string, seg: Segment, body: Uint8Array, nowMs: number): boolean {
  let inBytes = 0;
  try {
    const written = appendExisting(join(ctx.outputDir, seg.path), seg.bytes, () => {
      const frame = ctx.compressor.compressView(null, body);
      inBytes = ctx.compressor.lastInputBytes;
      return frame;
    });
    seg.bytes += written;
    seg.frames++;
    ctx.counters.bytesWritten += written;
    ctx.counters.bytesIn += inBytes;
    return true;
  } catch (e) {
    recordError(ctx, uuid, e, nowMs);
    return false;
  }
}

function recordError(ctx: WriterContext, uuid: string, e: unknown, nowMs: number): void {
  const message = e instanceof Error ? e.message : String(e);
  ctx.counters.error(errorCode(e), uuid, message, nowMs);
}
