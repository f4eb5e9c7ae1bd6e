// A batch's Parquet files appear all together or not at all. A rename that fails halfway
// through a commit (here: one partition's folder made immutable, so nothing can be renamed
// in it) must not leave the files renamed before it visible, nor their temporary files
// behind where they can be removed.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builders, sliceOf } from "../../src/export/table-slice.ts";
import { PendingFiles } from "../../src/export/parquet-file.ts";

let dir: string;
const immutable: string[] = [];

function chattr(flag: "+i" | "-i", path: string): void {
  const r = Bun.spawnSync(["chattr", flag, path], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`chattr ${flag} ${path}: ${r.stderr.toString()}`);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-pending-"));
});
afterEach(() => {
  for (const p of immutable.splice(0)) chattr("-i", p);
  rmSync(dir, { recursive: true, force: true });
});

function table(n: number) {
  const [col] = builders([{ name: "x", type: "u32", required: true, doc: "" }]);
  for (let i = 0; i < n; i++) col.push(i);
  return sliceOf([col]);
}

const tree = (root: string) => (readdirSync(root, { recursive: true }) as string[]).filter((p) => p.includes(".parquet")).sort();

/** Two pending files of a batch, in two partitions' folders: their final paths. */
async function twoFiles(files: PendingFiles): Promise<[string, string]> {
  const a = join(dir, "date=2025-12-01", "part-0.parquet");
  const b = join(dir, "date=2025-12-02", "part-1.parquet");
  await files.open(a).write(table(10));
  await files.open(b).write(table(20));
  return [a, b];
}

test("a commit whose second rename fails leaves no final file, and abort removes every temporary one it can", async () => {
  const files = new PendingFiles();
  await twoFiles(files);
  chattr("+i", join(dir, "date=2025-12-02"));
  immutable.push(join(dir, "date=2025-12-02"));
  await expect(files.commit()).rejects.toThrow(/EPERM|operation not permitted/i);
  // The first file was renamed, then put back under its temporary name.
  expect(tree(dir)).toEqual(["date=2025-12-01/.part-0.parquet.tmp", "date=2025-12-02/.part-1.parquet.tmp"]);
  files.abort(); // the immutable folder's file cannot go yet: no throw, the rest removed
  expect(tree(dir)).toEqual(["date=2025-12-02/.part-1.parquet.tmp"]);
  expect(files.bytes).toBe(0);
});

test("a commit that succeeds renames every file and leaves nothing pending", async () => {
  const files = new PendingFiles();
  const [a, b] = await twoFiles(files);
  const done = await files.commit();
  expect(done.paths).toEqual([a, b]);
  expect(done.bytes).toBeGreaterThan(0);
  expect(tree(dir)).toEqual(["date=2025-12-01/part-0.parquet", "date=2025-12-02/part-1.parquet"]);
  files.abort(); // nothing left to remove
  expect(tree(dir)).toEqual(["date=2025-12-01/part-0.parquet", "date=2025-12-02/part-1.parquet"]);
});
