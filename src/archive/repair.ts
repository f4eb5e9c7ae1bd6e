// Start-up repair of an archive file that a killed collector may have left torn: a file
// is a sequence of zstd frames written whole, so a kill (or a crash of the machine) can
// only leave an empty file or a partial last frame. The file is cut back to its last
// complete, decodable frame, or removed when none is left, and what it holds is counted.
import { closeSync, ftruncateSync, openSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { Inflater } from "./inflate.ts";
import { parseLine, type ArchiveMetadata, type SnapshotEntry } from "./parse-line.ts";

export interface RepairResult {
  /** intact: left as it was; truncated: cut to its last complete frame; removed: nothing usable was left. */
  action: "intact" | "truncated" | "removed";
  /** Size after repair (0 when removed). */
  bytes: number;
  /** Bytes cut off or removed. */
  droppedBytes: number;
  /** Snapshot lines kept (the Metadata line not counted). */
  records: number;
  metadata: ArchiveMetadata | null;
  /** The first and last snapshots kept, for a file the index does not know. */
  first: SnapshotEntry | null;
  last: SnapshotEntry | null;
  /** Last modification (Unix ms): when the collector last wrote it. */
  mtimeMs: number;
}

const FRAME_MAGIC = 0xfd2fb528;
const FCS_SIZES = [0, 2, 4, 8];
const DICT_SIZES = [0, 1, 2, 4];

/**
 * The end offset of the zstd frame (or skippable frame) at `at`, walking its block
 * headers without decompressing; -1 when it runs past the data or is not a frame.
 */
export function frameEnd(data: Uint8Array, at: number): number {
  if (at + 4 > data.byteLength) return -1;
  const magic = (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)) >>> 0;
  if ((magic & 0xfffffff0) === 0x184d2a50) {
    if (at + 8 > data.byteLength) return -1;
    const size = (data[at + 4] | (data[at + 5] << 8) | (data[at + 6] << 16) | (data[at + 7] << 24)) >>> 0;
    return at + 8 + size <= data.byteLength ? at + 8 + size : -1;
  }
  if (magic !== FRAME_MAGIC || at + 5 > data.byteLength) return -1;
  const fhd = data[at + 4];
  const singleSegment = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const fcs = fcsFlag === 0 ? singleSegment : FCS_SIZES[fcsFlag];
  let p = at + 5 + (singleSegment ? 0 : 1) + DICT_SIZES[fhd & 3] + fcs;
  for (;;) {
    if (p + 3 > data.byteLength) return -1;
    const h = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16);
    const last = h & 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    if (type === 3) return -1;
    p += 3 + (type === 1 ? 1 : size);
    if (last) break;
  }
  if ((fhd >> 2) & 1) p += 4;
  return p <= data.byteLength ? p : -1;
}

/** Decompresses one frame; null if it does not decode (checksum, corrupt blocks). */
function inflateFrame(frame: Uint8Array): Uint8Array | null {
  try {
    const inf = new Inflater();
    const parts = [...inf.push(frame), ...inf.end()];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  } catch {
    return null;
  }
}

/** The Metadata line of the archive at `path` (its first frame only); null if unreadable. */
export function readMetadata(path: string): ArchiveMetadata | null {
  try {
    const data = readFileSync(path);
    const end = frameEnd(data, 0);
    const plain = end < 0 ? null : inflateFrame(data.subarray(0, end));
    if (plain === null) return null;
    const text = new TextDecoder().decode(plain);
    const nl = text.indexOf("\n");
    const head = parseLine(nl < 0 ? text : text.slice(0, nl), 1)[0];
    return head?.kind === "metadata" ? head.metadata : null;
  } catch {
    return null;
  }
}

/** Checks, and if needed repairs, the archive at `path`. Throws only on I/O errors. */
export function repairArchive(path: string): RepairResult {
  const data = readFileSync(path);
  const mtimeMs = statSync(path).mtimeMs;
  const decoder = new TextDecoder();
  let kept = 0;
  let text = "";
  for (;;) {
    const end = frameEnd(data, kept);
    if (end < 0) break;
    const plain = inflateFrame(data.subarray(kept, end));
    if (plain === null) break;
    text += decoder.decode(plain);
    kept = end;
  }
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const parse = (i: number) => {
    try {
      return i < lines.length ? parseLine(lines[i], i + 1) : [];
    } catch {
      return []; // a line that does not parse is still a line the file holds; readers report it
    }
  };
  const head = parse(0)[0];
  const metadata = head?.kind === "metadata" ? head.metadata : null;
  const snapshot = (i: number) => parse(i).find((e): e is SnapshotEntry => e.kind === "snapshot") ?? null;
  const first = snapshot(1);
  const last = lines.length > 2 ? snapshot(lines.length - 1) : first;
  const records = Math.max(0, lines.length - 1);
  if (kept === 0 || metadata === null) {
    unlinkSync(path);
    return { action: "removed", bytes: 0, droppedBytes: data.byteLength, records: 0, metadata: null, first: null, last: null, mtimeMs };
  }
  if (kept < data.byteLength) {
    const fd = openSync(path, "r+");
    try {
      ftruncateSync(fd, kept);
    } finally {
      closeSync(fd);
    }
  }
  return {
    action: kept < data.byteLength ? "truncated" : "intact",
    bytes: kept,
    droppedBytes: data.byteLength - kept,
    records,
    metadata,
    first,
    last,
    mtimeMs,
  };
}
