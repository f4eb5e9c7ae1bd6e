// Discovery of network namespaces on the real host (two created with `ip netns add`, one
// holding a process) and on injected /proc and /var/run/netns trees (races, junk, caching).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerOf } from "../../src/netns/cgroup-names.ts";
import { NetnsScanner, ownNetnsInode, parseNetLink } from "../../src/netns/discover.ts";

const tag = `tib-d-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
const nsA = `${tag}-a`; // holds the sleep process
const nsB = `${tag}-b`; // empty; deleted mid-test
let sleeper: Subprocess | null = null;
let sleepPid = 0;
const tmps: string[] = [];

function ip(...args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString()}`);
}

function linkInode(path: string): number {
  const ino = parseNetLink(readlinkSync(path));
  if (ino === null) throw new Error(`not a net link: ${path}`);
  return ino;
}

/**
 * Pids whose net link cannot be read for a reason other than exiting (EACCES: a process
 * of the sandbox or a non-dumpable one): what the scanner must count as errors on this host.
 */
function unreadablePids(): number {
  let n = 0;
  for (const e of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      readlinkSync(`/proc/${e}/ns/net`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ESRCH") n++;
    }
  }
  return n;
}

/** Idempotent: runs from afterAll, from a failed beforeAll and at exit. */
function cleanup(): void {
  if (sleeper !== null && sleeper.exitCode === null) sleeper.kill("SIGKILL");
  for (const ns of [nsA, nsB]) Bun.spawnSync(["ip", "netns", "del", ns], { stderr: "ignore" });
  for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true });
}
process.on("exit", cleanup);

beforeAll(async () => {
  try {
    ip("netns", "add", nsA);
    ip("netns", "add", nsB);
    // `ip netns exec` enters the namespace and execs the command: the child pid is the sleep.
    sleeper = Bun.spawn(["ip", "netns", "exec", nsA, "sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    sleepPid = sleeper.pid;
    const want = statSync(`/var/run/netns/${nsA}`).ino;
    const deadline = Date.now() + 5000;
    while (true) {
      try {
        if (linkInode(`/proc/${sleepPid}/ns/net`) === want) break;
      } catch {
        // not there yet
      }
      if (Date.now() > deadline) throw new Error("the sleep never entered its namespace");
      await Bun.sleep(10);
    }
  } catch (e) {
    cleanup();
    throw e;
  }
});
afterAll(cleanup);

describe("real namespaces", () => {
  test("both named namespaces are found with their names and inodes; the one holding a process once", () => {
    const inoA = statSync(`/var/run/netns/${nsA}`).ino;
    const inoB = statSync(`/var/run/netns/${nsB}`).ino;
    expect(linkInode(`/proc/${sleepPid}/ns/net`)).toBe(inoA);
    expect(inoA).not.toBe(inoB);
    expect(new Set([inoA, inoB, ownNetnsInode()]).size).toBe(3);

    const unreadable = unreadablePids();
    const scan = new NetnsScanner().scan();
    expect(scan.errors).toBe(unreadable);
    expect(scan.seconds).toBeGreaterThan(0);
    for (const [k, f] of scan.found) expect(f.identity.inode).toBe(k);

    const a = scan.found.get(inoA);
    expect(a).toBeDefined();
    expect(a!.identity.name).toBe(nsA);
    expect(a!.path).toBe(`/var/run/netns/${nsA}`);
    expect(a!.pid).toBe(sleepPid); // the sleep is the only process in it
    // named AND found through /proc: one entry, whatever names the sleep's cgroup gives
    const ofA = [...scan.found.values()].filter((f) => f.identity.name === nsA || f.identity.inode === inoA);
    expect(ofA.length).toBe(1);
    expect([...scan.found.values()].some((f) => f.path === `/proc/${sleepPid}/ns/net`)).toBe(false);
    const cg = containerOf(readFileSync(`/proc/${sleepPid}/cgroup`, "utf8"));
    expect(a!.identity.container).toBe(cg.container);
    expect(a!.identity.pod).toBe(cg.pod);

    const b = scan.found.get(inoB);
    expect(b).toBeDefined();
    expect(b!.identity.name).toBe(nsB);
    expect(b!.path).toBe(`/var/run/netns/${nsB}`);
    expect(b!.pid).toBeUndefined();
  });

  test("the host namespace is found through /proc, with the lowest pid in it", () => {
    const host = ownNetnsInode();
    expect(host).toBe(linkInode("/proc/self/ns/net"));
    const f = new NetnsScanner().scan().found.get(host);
    expect(f).toBeDefined();
    expect(f!.pid).toBeDefined();
    expect(f!.pid!).toBeLessThanOrEqual(process.pid);
    if (f!.identity.name === undefined) expect(f!.path).toBe(`/proc/${f!.pid}/ns/net`);
    expect(statSync(f!.path).ino).toBe(host); // opening the path gives that namespace
    expect(linkInode(`/proc/${f!.pid}/ns/net`)).toBe(host);
  });

  test("a namespace deleted after a scan is gone from the next, and forgotten", () => {
    const scanner = new NetnsScanner();
    const inoB = statSync(`/var/run/netns/${nsB}`).ino;
    const first = scanner.scan();
    expect(first.found.has(inoB)).toBe(true);
    expect(scanner.cachedInodes).toBe(first.found.size);
    ip("netns", "del", nsB);
    const next = scanner.scan();
    expect(next.found.has(inoB)).toBe(false);
    expect([...next.found.values()].some((f) => f.identity.name === nsB)).toBe(false);
    expect(next.found.has(statSync(`/var/run/netns/${nsA}`).ino)).toBe(true);
    expect(scanner.cachedInodes).toBe(next.found.size);
  });
});

describe("injected roots", () => {
  function tmp(): string {
    const d = mkdtempSync(join(tmpdir(), "tib-netns-"));
    tmps.push(d);
    return d;
  }

  test("a netns dir with a plain file, a directory and a dangling link: skipped; a link to a namespace: named", () => {
    const dir = tmp();
    writeFileSync(join(dir, "plain"), "");
    mkdirSync(join(dir, "subdir"));
    symlinkSync(join(dir, "nowhere"), join(dir, "dangling"));
    symlinkSync(`/proc/${process.pid}/ns/net`, join(dir, "alias"));
    // an empty /proc: only the netns dir is looked at
    const scan = new NetnsScanner({ procRoot: tmp(), netnsDir: dir }).scan();
    expect(scan.errors).toBe(0);
    const named = [...scan.found.values()];
    expect(named.map((f) => f.identity.name)).toEqual(["alias"]);
    expect(named[0].pid).toBeUndefined();
    expect(named[0].identity.inode).toBe(ownNetnsInode());
    expect(named[0].path).toBe(join(dir, "alias"));
  });

  test("a missing /proc and netns dir: nothing found, one error, no throw", () => {
    const dir = tmp();
    const scan = new NetnsScanner({ procRoot: join(dir, "noproc"), netnsDir: join(dir, "nonetns") }).scan();
    expect(scan.found.size).toBe(0);
    expect(scan.errors).toBe(1);
  });

  const ID = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d";
  const ID2 = "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970";
  const UID = "34152897-dbaf-11ea-8cb9-0653660051c3";

  test("fake /proc: races and junk; lowest pid; cgroup read once per inode, again after it was forgotten", () => {
    const root = tmp();
    const proc = join(root, "proc");
    const netnsDir = join(root, "netns"); // absent: no named namespaces, not an error
    const pid = (n: string, link: string | null, cgroup: string | null): void => {
      mkdirSync(join(proc, n, "ns"), { recursive: true });
      if (link !== null) symlinkSync(link, join(proc, n, "ns", "net"));
      if (cgroup !== null) writeFileSync(join(proc, n, "cgroup"), cgroup);
    };
    pid("100", "net:[900001]", `0::/docker/${ID}\n`);
    pid("50", "net:[900001]", `0::/kubepods/pod${UID}/${ID2}\n`); // the lowest pid is read
    pid("200", "net:[900002]", null); // cgroup gone: a race, retried next scan
    pid("300", null, null); // exited between readdir and readlink: a race
    pid("self", "net:[900099]", null); // not a pid
    mkdirSync(join(proc, "400", "ns"), { recursive: true });
    writeFileSync(join(proc, "400", "ns", "net"), ""); // not a link: unexpected
    pid("500", "mnt:[4026531841]", null); // not a net link: unexpected

    const scanner = new NetnsScanner({ procRoot: proc, netnsDir });
    const s1 = scanner.scan();
    expect(s1.errors).toBe(2);
    expect([...s1.found.keys()].sort()).toEqual([900001, 900002]);
    expect(s1.found.get(900001)).toEqual({
      identity: { inode: 900001, container: ID2, pod: UID },
      path: join(proc, "50", "ns", "net"),
      pid: 50,
    });
    expect(s1.found.get(900002)).toEqual({ identity: { inode: 900002 }, path: join(proc, "200", "ns", "net"), pid: 200 });

    // cached: a changed cgroup of a known inode is not reread; a first successful read is
    writeFileSync(join(proc, "50", "cgroup"), `0::/docker/${ID}\n`);
    writeFileSync(join(proc, "200", "cgroup"), `0::/system.slice/crio-${ID}.scope\n`);
    const s2 = scanner.scan();
    expect(s2.found.get(900001)!.identity).toEqual({ inode: 900001, container: ID2, pod: UID });
    expect(s2.found.get(900002)!.identity).toEqual({ inode: 900002, container: ID });

    // both processes of 900001 exit: gone and forgotten; when it is back it is read again
    rmSync(join(proc, "50"), { recursive: true });
    rmSync(join(proc, "100"), { recursive: true });
    const s3 = scanner.scan();
    expect([...s3.found.keys()]).toEqual([900002]);
    expect(scanner.cachedInodes).toBe(1);
    pid("100", "net:[900001]", `0::/docker/${ID}\n`);
    const s4 = scanner.scan();
    expect(s4.found.get(900001)!.identity).toEqual({ inode: 900001, container: ID });
    expect(s4.found.get(900001)!.pid).toBe(100);
  });
});
