// Which network namespaces the collector polls (--netns): its own (`host`), every one on
// the host (`all`: found by scanning /var/run/netns and /proc every rescanMs), or the
// ones named by paths. New namespaces are added to the collector; vanished ones are
// handed to it to be polled one last time and retired (their connections end as
// netns_gone). A namespace that cannot be entered is counted, logged once, and retried
// at the next scan; the others are polled regardless.
import { statSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { NetnsIdentity } from "../model/report.ts";
import { NetnsScanner, ownNetnsInode, type FoundNetns, type NetnsScannerOptions } from "../netns/discover.ts";
import type { Collector } from "./collector.ts";
import { netlinkSource, sharedBuffers, type KernelSource } from "./kernel-source.ts";

export type NetnsMode = { kind: "host" } | { kind: "all" } | { kind: "paths"; paths: readonly string[] };

export const DEFAULT_RESCAN_MS = 2_000;

export interface NetnsWatchOptions {
  mode: NetnsMode;
  states: number;
  destroyEvents: boolean;
  dumpTimeoutMs?: number;
  perFamilyDumps?: boolean;
  rescanMs?: number;
  log: (line: string, level?: "info" | "warn" | "error") => void;
  /** Where `all` looks (tests point it elsewhere). */
  scanner?: NetnsScannerOptions;
}

/** Parses --netns: `host`, `all`, or one or more paths (comma or space separated). */
export function parseNetnsMode(text: string): NetnsMode {
  const t = text.trim();
  if (t === "" || t === "host") return { kind: "host" };
  if (t === "all") return { kind: "all" };
  const paths = t.split(/[\s,]+/).filter((p) => p !== "");
  for (const p of paths) {
    if (p === "host" || p === "all") throw new Error(`--netns: '${p}' cannot be combined with paths`);
    if (!p.startsWith("/")) throw new Error(`--netns: '${p}' is not host, all, or an absolute path (e.g. /var/run/netns/NAME or /proc/PID/ns/net)`);
  }
  return { kind: "paths", paths };
}

export class NetnsWatch {
  private readonly scanner: NetnsScanner;
  private readonly own = ownNetnsInode();
  /** Identity objects the collector polls, by inode (updated in place as names are found). */
  private readonly polled = new Map<number, NetnsIdentity>();
  /** Namespaces that could not be entered, and paths that named none: logged once each. */
  private readonly refused = new Set<number>();
  private readonly badPaths = new Set<string>();
  private readonly buffers = sharedBuffers();
  private nextScan = Number.NEGATIVE_INFINITY;
  private unreadable = 0;

  constructor(private readonly opts: NetnsWatchOptions, private readonly collector: Collector) {
    this.scanner = new NetnsScanner(opts.scanner);
  }

  /** Rescans when due (call before each poll); returns whether it scanned. */
  refresh(nowMs = performance.now()): boolean {
    if (this.opts.mode.kind === "host" || nowMs < this.nextScan) return false;
    this.nextScan = nowMs + (this.opts.rescanMs ?? DEFAULT_RESCAN_MS);
    const t0 = performance.now();
    const found = this.opts.mode.kind === "all" ? this.scanAll() : this.statPaths(this.opts.mode.paths);
    for (const [inode, f] of found) {
      const known = this.polled.get(inode);
      if (known !== undefined) {
        // Names found later (a container's first process) complete the identity.
        if (f.identity.name !== undefined) known.name = f.identity.name;
        if (f.identity.container !== undefined) known.container = f.identity.container;
        if (f.identity.pod !== undefined) known.pod = f.identity.pod;
      } else this.add(f);
    }
    for (const inode of [...this.polled.keys()]) {
      if (found.has(inode)) continue;
      this.polled.delete(inode);
      this.collector.removeNamespace(inode);
      this.opts.log(`netns ${describe(inode, null)} is gone: polled once more, its connections end as netns_gone`);
    }
    for (const inode of this.refused) if (!found.has(inode)) this.refused.delete(inode);
    this.collector.stats.netnsScanSeconds += (performance.now() - t0) / 1000;
    return true;
  }

  /** Namespaces polled now. */
  get count(): number {
    return this.polled.size;
  }

  private scanAll(): Map<number, FoundNetns> {
    const scan = this.scanner.scan();
    // Entries the scan could not read (EACCES on a process in another user namespace, say)
    // stay unreadable scan after scan: said when their number changes, not counted per scan.
    if (scan.errors !== this.unreadable) {
      this.opts.log(`netns scan: ${scan.errors} /proc or ${this.scanner.netnsDir} entries could not be read (namespaces only they show are not polled)`, scan.errors > 0 ? "warn" : "info");
      this.unreadable = scan.errors;
    }
    return scan.found;
  }

  /** Each path's namespace now; a path that no longer names one is left out (its namespace is gone). */
  private statPaths(paths: readonly string[]): Map<number, FoundNetns> {
    return namespacesAt(paths, (path, e) => {
      if (!this.badPaths.has(path)) this.opts.log(`netns ${path}: ${e.message}; polling the others`, "warn");
      this.badPaths.add(path);
    }, (path) => this.badPaths.delete(path));
  }

  private add(f: FoundNetns): void {
    const inode = f.identity.inode;
    let source: KernelSource;
    try {
      source = netlinkSource(this.opts.states, this.opts.destroyEvents, this.opts.dumpTimeoutMs, {
        // Our own namespace needs no setns.
        netns: inode === this.own ? null : { path: f.path, inode },
        ...this.buffers,
        mode: { perFamily: this.opts.perFamilyDumps },
      });
    } catch (e) {
      this.collector.stats.error("netns_enter");
      if (!this.refused.has(inode)) {
        this.refused.add(inode);
        this.opts.log(`netns ${describe(inode, f.identity)} (${f.path}) cannot be polled: ${(e as Error).message}; polling the others, retrying at each scan`, "warn");
      }
      return;
    }
    const identity = { ...f.identity };
    this.polled.set(inode, identity);
    this.refused.delete(inode);
    this.collector.addNamespace(identity, source);
  }
}

/** The namespaces `paths` name now, by inode; `failed` hears of each path that names none. */
export function namespacesAt(paths: readonly string[], failed: (path: string, e: Error) => void, ok?: (path: string) => void): Map<number, FoundNetns> {
  const found = new Map<number, FoundNetns>();
  for (const path of paths) {
    try {
      const inode = statSync(path).ino;
      const identity: NetnsIdentity = { inode };
      if (dirname(path) === "/var/run/netns" || dirname(path) === "/run/netns") identity.name = basename(path);
      found.set(inode, { identity, path });
      ok?.(path);
    } catch (e) {
      failed(path, e as Error);
    }
  }
  return found;
}

function describe(inode: number, id: NetnsIdentity | null): string {
  const parts = [String(inode)];
  if (id?.name) parts.push(`name=${id.name}`);
  if (id?.container) parts.push(`container=${id.container.slice(0, 12)}`);
  if (id?.pod) parts.push(`pod=${id.pod}`);
  return parts.join(" ");
}
