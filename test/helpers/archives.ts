// Reads what a collector run wrote: every archive file under a folder, decoded.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { readArchiveAll } from "../../src/archive/reader.ts";
import { decodeEntry } from "../../src/archive/decode-entry.ts";
import type { MetadataEntry } from "../../src/archive/parse-line.ts";
import type { Snapshot } from "../../src/diag/snapshot.ts";

/** Archive files (*.jsonl.zst) under `dir`, relative to it, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".jsonl.zst")) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export interface DecodedArchive {
  path: string;
  metadata: MetadataEntry["metadata"];
  snapshots: Snapshot[];
}

export async function readDecoded(dir: string, rel: string): Promise<DecodedArchive> {
  const { entries, malformed } = await readArchiveAll(join(dir, rel));
  if (malformed.length > 0) throw new Error(`${rel}: malformed lines ${JSON.stringify(malformed)}`);
  const first = entries[0];
  if (first?.kind !== "metadata") throw new Error(`${rel}: first line is not Metadata`);
  const snapshots: Snapshot[] = [];
  for (const e of entries.slice(1)) {
    if (e.kind !== "snapshot") throw new Error(`${rel}: Metadata line after the first`);
    snapshots.push(decodeEntry(e, first.metadata.uuid)!);
  }
  return { path: rel, metadata: first.metadata, snapshots };
}

/** `zstd -t` on a file: true when it is a complete, valid zstd stream. */
export function zstdValid(path: string): boolean {
  return Bun.spawnSync(["zstd", "-t", "-q", path]).exitCode === 0;
}
