// The only file-system calls of the archive writer. Each call opens, writes and closes, so
// no descriptor stays open between flushes (10,000 idle connections cost no fd), and a
// failed write leaves no partial zstd frame behind: a new file is removed, an appended one
// truncated back, so every archive stays a sequence of complete frames.
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";

/** The errno name of a failed fs call ("EACCES", "ENOSPC", …), or "io" when it has none. */
export function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code !== "" ? code : "io";
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
}

/**
 * Creates `path` only if it does not exist (O_CREAT|O_EXCL) and writes `build()`'s bytes
 * to it. `build` runs after the name is secured, so content that names the file (the
 * Metadata line's Sequence) is made once. Returns false, writing nothing, if `path`
 * exists. Throws the fs error otherwise; a file it created is removed again first.
 */
export function createExclusive(path: string, build: () => Uint8Array): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (e) {
    if (errorCode(e) === "EEXIST") return false;
    throw e;
  }
  try {
    writeAll(fd, build());
  } catch (e) {
    try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(path); } catch { /* best effort */ }
    throw e;
  }
  closeSync(fd);
  return true;
}

/**
 * Appends `build()`'s bytes to the existing file `path`, whose size the caller knows (it
 * wrote every byte of it). `build` runs once the file is open, so nothing is compressed
 * for a write that cannot happen. On a failed write the file is truncated back to
 * `knownSize`; the error is thrown. Returns the number of bytes appended.
 */
export function appendExisting(path: string, knownSize: number, build: () => Uint8Array): number {
  // Without O_CREAT: a file deleted behind our back fails (ENOENT) instead of being
  // recreated without its Metadata line.
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND);
  let data: Uint8Array;
  try {
    data = build();
    writeAll(fd, data);
  } catch (e) {
    try { ftruncateSync(fd, knownSize); } catch { /* best effort */ }
    try { closeSync(fd); } catch { /* already failing */ }
    throw e;
  }
  closeSync(fd);
  return data.byteLength;
}

/** Remembers which directories exist so a flush costs no mkdir call. */
export class DirCache {
  private readonly known = new Set<string>();

  ensure(dir: string): void {
    if (this.known.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.known.add(dir);
  }

  /** After ENOENT: the directory was removed behind our back; make it again next time. */
  forget(dir: string): void {
    this.known.delete(dir);
  }
}
