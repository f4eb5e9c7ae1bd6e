// Facts about this machine that explain some figures: creating a file on the scratch
// file system is part of archiving every new connection, and on some virtual disks it
// costs far more than the rest of the work.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Mean µs to create (O_EXCL), write 300 bytes to and close one file in `root`. */
export function fileCreateUs(root: string, files = 300): number {
  const dir = mkdtempSync(join(root, "tcpinfo-bench-probe-"));
  try {
    const data = new Uint8Array(300);
    const t = performance.now();
    for (let i = 0; i < files; i++) {
      const fd = openSync(join(dir, `f${i}.jsonl.zst`), "wx", 0o644);
      writeSync(fd, data);
      closeSync(fd);
    }
    return ((performance.now() - t) * 1000) / files;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
