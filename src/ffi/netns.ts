// Entering a network namespace for as long as it takes to create a socket. A netlink
// socket stays bound to the namespace it was created in, so the poll thread enters a
// namespace only to open its sockets and returns at once; every later dump and drain
// runs from the collector's own namespace. setns(CLONE_NEWNET) affects only the calling
// thread, so the storage and API workers never leave theirs.
import { fstatSync } from "node:fs";
import { libc, errno } from "./libc.ts";
import { SyscallError } from "./errno.ts";

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;

/** The thread's namespace when it first entered another: where it always returns. */
let homeFd = -1;

function openPath(path: string): number {
  const fd = libc.open(Buffer.from(`${path}\0`), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new SyscallError(`open(${path})`, errno());
  return fd;
}

function home(): number {
  if (homeFd < 0) homeFd = openPath("/proc/thread-self/ns/net");
  return homeFd;
}

/** Returning home failed: the thread would poll the wrong namespace from now on. */
export class NetnsReturnError extends Error {
  constructor(cause: SyscallError) {
    super(`cannot return to the collector's own network namespace: ${cause.message}`);
    this.name = "NetnsReturnError";
  }
}

/**
 * Runs `make` inside the network namespace that `path` (a /proc/PID/ns/net link or a
 * /var/run/netns file) names, then returns to the thread's own namespace. With
 * `expectInode`, refuses (throws) when the path now names another namespace: a /proc
 * entry whose pid was reused since the scan that found it.
 */
export function inNetns<T>(path: string, expectInode: number | null, make: () => T): T {
  const back = home();
  const fd = openPath(path);
  try {
    if (expectInode !== null) {
      const ino = fstatSync(fd).ino;
      if (ino !== expectInode) throw new Error(`${path} names namespace ${ino} now, not ${expectInode}`);
    }
    if (libc.setns(fd, CLONE_NEWNET) < 0) throw new SyscallError(`setns(${path})`, errno());
    try {
      return make();
    } finally {
      if (libc.setns(back, CLONE_NEWNET) < 0) {
        // Not recoverable in-thread: every later socket would be made in the wrong place.
        // eslint-disable-next-line no-unsafe-finally
        throw new NetnsReturnError(new SyscallError("setns(home)", errno()));
      }
    }
  } finally {
    libc.close(fd);
  }
}
