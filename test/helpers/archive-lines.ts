// Counts what is really in a collector's archive folder with the zstd command line tool,
// independent of the project's own reader: every *.jsonl.zst must be a valid zstd stream
// whose first line, and only that one, is a Metadata line.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { listFiles } from "./archives.ts";

export interface ArchiveLineCount {
  files: string[];
  /** Snapshot lines (Metadata lines not counted) in all valid files. */
  lines: number;
  /** Snapshot lines per file (relative path). */
  byFile: Map<string, number>;
  /** Files `zstd -dc` rejects, with its message. */
  invalid: string[];
  /** Files whose first line is not a Metadata line, or with a Metadata line after the first. */
  badMetadata: string[];
}

const METADATA_PREFIX = '{"Timestamp":"0001-01-01T00:00:00Z","Metadata":';

export function countArchiveLines(dir: string): ArchiveLineCount {
  const files = listFiles(dir);
  const byFile = new Map<string, number>();
  const invalid: string[] = [];
  const badMetadata: string[] = [];
  let lines = 0;
  for (const rel of files) {
    const r = Bun.spawnSync(["zstd", "-dc", "-q", join(dir, rel)]);
    if (r.exitCode !== 0) {
      invalid.push(`${rel}: ${r.stderr.toString().trim()}`);
      continue;
    }
    const text = r.stdout.toString();
    const all = text.split("\n");
    if (all[all.length - 1] === "") all.pop();
    if (all.length === 0 || !all[0].startsWith(METADATA_PREFIX) || all.slice(1).some((l) => l.includes('"Metadata":'))) {
      badMetadata.push(rel);
      continue;
    }
    byFile.set(rel, all.length - 1);
    lines += all.length - 1;
  }
  return { files, lines, byFile, invalid, badMetadata };
}

/**
 * Files under `dir` that are neither archives nor matched by `allowed` (the index, a
 * filler file): a failed write or compaction must leave no temporary or partial file.
 */
export function strayFiles(dir: string, allowed: RegExp = /^(index\.sqlite(-wal|-shm)?|filler)$/): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!name.endsWith(".jsonl.zst") && !allowed.test(relative(dir, p))) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
