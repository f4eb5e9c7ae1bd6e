// A unix socket's file for a server: a stale one from an earlier run removed (never a live
// one, never a file that is not a socket), and a new one reachable only with its mode.
import { chmodSync, linkSync, lstatSync, mkdtempSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Removes a socket file left by a previous run. Refuses a path that is not a socket, and
 * one that a live server still accepts connections on.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (!st.isSocket()) throw new Error(`refusing to remove ${path}: it exists and is not a socket`);
  let live = false;
  try {
    const probe = await Bun.connect({ unix: path, socket: { data() {} } });
    live = true;
    probe.end();
  } catch {
    // ECONNREFUSED: nobody listens, the file is stale.
  }
  if (live) throw new Error(`refusing to remove ${path}: another process is serving on it`);
  unlinkSync(path);
}

/**
 * Listens on a unix socket at `path` whose file has `mode` from the moment others can
 * reach it. bind() applies the umask and Bun.listen binds and listens at once, so a chmod
 * afterwards leaves a window in which anyone may connect (and stay); the umask is
 * process-wide (the storage worker creates files meanwhile). So: bind inside a fresh 0700
 * directory beside `path`, chmod, then hard-link into place (link, unlike rename, fails
 * rather than replace a file that appeared meanwhile). The private name is short, since
 * sun_path holds 108 bytes.
 */
export function listenPrivately<T>(path: string, mode: number, listen: (at: string) => T, stopListener: (l: T) => void): T {
  const dir = mkdtempSync(join(dirname(path), ".es-"));
  const at = join(dir, "s");
  let listener: T | null = null;
  try {
    listener = listen(at);
    chmodSync(at, mode);
    try {
      linkSync(at, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new Error(`${path} appeared while the eventsocket was starting`);
      throw e;
    }
    return listener;
  } catch (e) {
    if (listener !== null) stopListener(listener);
    throw e;
  } finally {
    try {
      unlinkSync(at);
    } catch {
      // Never bound.
    }
    rmdirSync(dir);
  }
}
