// Scratch folders for archives written during the benchmark, removed at exit (normal,
// error, SIGINT/SIGTERM: run.ts turns signals into process.exit, which runs this).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created = new Set<string>();
let installed = false;
let root = tmpdir();

/** Where scratch folders go (default os.tmpdir()); `--tmp DIR` of run.ts sets it. */
export function setTmpRoot(dir: string): void {
  root = dir;
}

export function tmpRoot(): string {
  return root;
}

export function makeTmpDir(tag: string): string {
  if (!installed) {
    installed = true;
    process.on("exit", removeAllTmp);
  }
  const dir = mkdtempSync(join(root, `tcpinfo-bench-${tag}-`));
  created.add(dir);
  return dir;
}

export function removeTmp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  created.delete(dir);
}

export function removeAllTmp(): void {
  for (const d of [...created]) removeTmp(d);
}
