// Small tmpfs mounts for tests that need a disk that fills up (needs root). Every mount
// made here is listed, so a test's afterEach can unmount them all even after a failure.
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tmpfs {
  dir: string;
  /** Bytes free for an unprivileged writer. */
  free(): number;
  /**
   * Writes a file of zeros that leaves about `leaveBytes` free (tmpfs allocates written
   * zeros) and returns its path.
   */
  fill(leaveBytes: number, name?: string): string;
}

const mounted = new Set<string>();

export function mountTmpfs(sizeBytes: number, prefix = "tcpinfo-tmpfs-"): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${sizeBytes},mode=0755`, "tmpfs", dir]);
  if (r.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mount tmpfs on ${dir} failed (root needed): ${r.stderr.toString()}`);
  }
  mounted.add(dir);
  const free = () => {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  };
  return {
    dir,
    free,
    fill(leaveBytes, name = "filler") {
      const path = join(dir, name);
      writeFileSync(path, Buffer.alloc(Math.max(0, free() - leaveBytes)));
      return path;
    },
  };
}

/** Unmounts (lazily if it is busy) and removes every mount point made by mountTmpfs. */
export function unmountAll(): void {
  const errors: string[] = [];
  for (const dir of mounted) {
    let r = Bun.spawnSync(["umount", dir]);
    if (r.exitCode !== 0) r = Bun.spawnSync(["umount", "-l", dir]);
    if (r.exitCode !== 0) {
      errors.push(`umount ${dir}: ${r.stderr.toString()}`);
      continue;
    }
    mounted.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  if (errors.length > 0) throw new Error(errors.join("\n"));
}
