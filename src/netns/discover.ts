// Finds every network namespace on the host, for `--netns all`: the named ones under
// /var/run/netns (what `ip netns add` creates: nsfs bind mounts) and the ones processes
// live in (/proc/PID/ns/net), deduplicated by the namespace inode, and names them (the
// /var/run/netns name, the container/pod of a process in it). Pure node:fs: entering the
// namespaces (setns) is done elsewhere, with the path found here.
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import type { NetnsIdentity } from "../model/report.ts";
import { containerOf } from "./cgroup-names.ts";

export interface FoundNetns {
  identity: NetnsIdentity;
  /**
   * A path that opening gives this namespace: the /var/run/netns/NAME file if named, else
   * /proc/PID/ns/net. The latter is racy (the pid may exit and be reused): whoever opens
   * it must check the opened namespace's inode against `identity.inode`.
   */
  path: string;
  /** The lowest pid found in it this scan, if any. */
  pid?: number;
}

export interface NetnsScan {
  /** By namespace inode. */
  found: Map<number, FoundNetns>;
  /** Unexpected failures (EACCES, EIO, ...); a pid exiting mid-scan is not one. */
  errors: number;
  /** Wall time the scan took. */
  seconds: number;
}

export interface NetnsScannerOptions {
  procRoot?: string;
  netnsDir?: string;
}

/** What a cgroup read told about a namespace, kept across scans while the inode lives. */
interface CachedNames {
  container?: string;
  pod?: string;
  /** Set once a process's cgroup file has been read (successfully or with a hard error). */
  resolved: boolean;
}

interface Seen {
  name?: string;
  namedPath?: string;
  pid?: number;
}

function errCode(e: unknown): string | undefined {
  return e !== null && typeof e === "object" && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

/** A process gone between readdir and the read: normal on a busy host, not an error. */
function isRace(e: unknown): boolean {
  const code = errCode(e);
  return code === "ENOENT" || code === "ESRCH";
}

/** The inode in a "net:[4026531840]" link, or null if the text is not that. */
export function parseNetLink(link: string): number | null {
  if (!link.startsWith("net:[") || !link.endsWith("]")) return null;
  const n = Number(link.slice(5, -1));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * The inode of the calling thread's network namespace (thread-self: a thread that entered
 * another namespace sees that one), i.e. the "host" namespace as the collector sees it.
 * Throws if /proc cannot tell (no /proc: nothing else would work either).
 */
export function ownNetnsInode(procRoot = "/proc"): number {
  let last: unknown = null;
  for (const p of [`${procRoot}/thread-self/ns/net`, `${procRoot}/self/ns/net`]) {
    try {
      const ino = parseNetLink(readlinkSync(p));
      if (ino !== null) return ino;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`cannot read the own network namespace under ${procRoot}: ${String(last)}`);
}

/** Only all-digit /proc entries are processes; checked without a regex (thousands per scan). */
function isPidName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export class NetnsScanner {
  readonly procRoot: string;
  readonly netnsDir: string;
  private readonly cache = new Map<number, CachedNames>();
  /** st_dev of the nsfs pseudo-filesystem; null until known. */
  private nsfsDev: number | null = null;

  constructor(options: NetnsScannerOptions = {}) {
    this.procRoot = options.procRoot ?? "/proc";
    this.netnsDir = options.netnsDir ?? "/var/run/netns";
  }

  /** How many inodes the name cache holds (forgotten when a scan no longer finds them). */
  get cachedInodes(): number {
    return this.cache.size;
  }

  /** Never throws: what cannot be read is skipped, and counted if unexpected. */
  scan(): NetnsScan {
    const t0 = performance.now();
    const seen = new Map<number, Seen>();
    let errors = this.scanNamed(seen);
    errors += this.scanProcs(seen);

    const found = new Map<number, FoundNetns>();
    for (const [inode, s] of seen) {
      let names = this.cache.get(inode);
      if (names === undefined) {
        names = { resolved: false };
        this.cache.set(inode, names);
      }
      // Once per inode: the first scan that has a pid in it (a named namespace may get
      // its first process later). A pid gone before the read leaves it for the next scan.
      if (!names.resolved && s.pid !== undefined) errors += this.resolve(names, s.pid);
      const identity: NetnsIdentity = { inode };
      if (s.name !== undefined) identity.name = s.name;
      if (names.container !== undefined) identity.container = names.container;
      if (names.pod !== undefined) identity.pod = names.pod;
      const path = s.namedPath ?? `${this.procRoot}/${s.pid}/ns/net`;
      const f: FoundNetns = { identity, path };
      if (s.pid !== undefined) f.pid = s.pid;
      found.set(inode, f);
    }
    for (const inode of this.cache.keys()) if (!seen.has(inode)) this.cache.delete(inode);
    return { found, errors, seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * Named namespaces. Rule for "is this file a namespace": its stat (following a symlink,
   * as some tools link /proc/PID/ns/net here) must be on the nsfs pseudo-filesystem, i.e.
   * have the st_dev of our own /proc/self/ns/net: all namespaces share that one superblock,
   * and its inode numbers are the namespace inodes. A leftover plain file (a failed or
   * undone `ip netns add`, an unmounted bind mount) is on the tmpfs: skipped, not an error.
   */
  private scanNamed(seen: Map<number, Seen>): number {
    let names: string[];
    try {
      names = readdirSync(this.netnsDir);
    } catch (e) {
      return isRace(e) ? 0 : 1; // no /var/run/netns: no named namespaces
    }
    if (names.length === 0) return 0;
    const nsfsDev = this.nsfs();
    if (nsfsDev === null) return 1;
    let errors = 0;
    names.sort(); // the same name wins each scan when two names mount one namespace
    for (const name of names) {
      const p = `${this.netnsDir}/${name}`;
      try {
        const st = statSync(p);
        if (st.dev !== nsfsDev) continue;
        if (!seen.has(st.ino)) seen.set(st.ino, { name, namedPath: p });
      } catch (e) {
        if (!isRace(e)) errors++;
      }
    }
    return errors;
  }

  /** Namespaces of processes: one readlink per pid, the lowest pid kept per inode. */
  private scanProcs(seen: Map<number, Seen>): number {
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch {
      return 1;
    }
    let errors = 0;
    for (const ent of entries) {
      if (!isPidName(ent)) continue;
      let link: string;
      try {
        link = readlinkSync(`${this.procRoot}/${ent}/ns/net`);
      } catch (e) {
        if (!isRace(e)) errors++;
        continue;
      }
      const inode = parseNetLink(link);
      if (inode === null) {
        errors++;
        continue;
      }
      const pid = Number(ent);
      const s = seen.get(inode);
      if (s === undefined) seen.set(inode, { pid });
      else if (s.pid === undefined || pid < s.pid) s.pid = pid;
    }
    return errors;
  }

  /** Reads one process's cgroup into `names`; returns the errors to count (0 or 1). */
  private resolve(names: CachedNames, pid: number): number {
    let text: string;
    try {
      text = readFileSync(`${this.procRoot}/${pid}/cgroup`, "utf8");
    } catch (e) {
      if (isRace(e)) return 0;
      names.resolved = true; // a hard error would repeat every scan: count it once
      return 1;
    }
    const c = containerOf(text);
    if (c.container !== undefined) names.container = c.container;
    if (c.pod !== undefined) names.pod = c.pod;
    names.resolved = true;
    return 0;
  }

  /** nsfs's st_dev, from the real /proc (a kernel constant, whatever procRoot a test injects). */
  private nsfs(): number | null {
    if (this.nsfsDev !== null) return this.nsfsDev;
    for (const p of ["/proc/thread-self/ns/net", "/proc/self/ns/net"]) {
      try {
        this.nsfsDev = statSync(p).dev;
        return this.nsfsDev;
      } catch {
        // try the next
      }
    }
    return null;
  }
}
