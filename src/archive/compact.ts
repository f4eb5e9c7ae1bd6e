// Rewrites a finished archive file as one zstd frame. A connection's lines are written a
// frame per flush so that nothing waits in memory; for a slow connection that is one small
// frame a second, which compresses about 3:1 where one frame compresses 10-30:1 (and one
// frame is what M-Lab's own files hold). The new file replaces the old one by rename, so a
// reader sees the old file or the new one, never a mix; on any failure the old one stays.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import type { FrameCompressor } from "./frame-compressor.ts";
import { Inflater } from "./inflate.ts";

export interface CompactResult {
  before: number;
  after: number;
}

/**
 * Compacts `path` if it still holds exactly `expectedBytes` (nothing else has touched
 * it) and one frame comes out smaller. Returns the sizes, or null when it was left as it
 * is. Throws on I/O or format errors (the original is then untouched).
 */
export function compactFile(path: string, expectedBytes: number, compressor: FrameCompressor): CompactResult | null {
  const data = readFileSync(path);
  if (data.byteLength !== expectedBytes) return null;
  const inflater = new Inflater();
  const parts = [...inflater.push(data), ...inflater.end()];
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const plain = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    plain.set(p, at);
    at += p.byteLength;
  }
  const frame = compressor.compressView(null, plain);
  if (frame.byteLength >= data.byteLength) return null;
  const tmp = `${path}.compact`;
  try {
    writeFileSync(tmp, frame, { flag: "wx" });
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* not created */ }
    throw e;
  }
  return { before: data.byteLength, after: frame.byteLength };
}
