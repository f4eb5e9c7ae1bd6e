// --netns all against real network namespaces: connections in each are archived once
// with their namespace, a namespace made mid-run is picked up, one deleted under live
// sockets ends them as netns_gone, cookies stay unique across namespaces, and the API
// filters by namespace. Without CAP_SYS_ADMIN the collector keeps polling its own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ssSockets } from "../helpers/ss.ts";
import { ROOT } from "../helpers/run-cli.ts";
import { startHolder, type Holder } from "../helpers/netns-holder.ts";
import { startCollector, waitUntil, describeRun, metricsText, metricSum, killIfRunning, stopWith, type RunningCollector } from "../helpers/collector-run.ts";

const tag = `tibn${process.pid % 100000}`;
const ns = { a: `${tag}-a`, b: `${tag}-b`, c: `${tag}-c` };
const made: string[] = [];
const holders: Holder[] = [];
let out = "";
let collector: RunningCollector | undefined;

function sh(...cmd: string[]): void {
  const r = Bun.spawnSync(cmd);
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

function addNetns(name: string): number {
  sh("ip", "netns", "add", name);
  made.push(name);
  sh("ip", "-n", name, "link", "set", "lo", "up");
  return statSync(`/var/run/netns/${name}`).ino;
}

/** Holds `count` loopback connections in `name` on `port`; resolves when they are up. */
function hold(name: string, count: number, port: number, leave = false): Promise<Holder> {
  return startHolder([`/var/run/netns/${name}`], count, port, { leave, track: (h) => holders.push(h) });
}

interface Row {
  uuid: string;
  cookie: string;
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
  netns?: { inode: number; name?: string };
  state: string;
  endReason: string | null;
}

async function rows(query: string): Promise<Row[]> {
  const r = await fetch(`${collector!.api}/connections?limit=1000&${query}`);
  if (r.status !== 200) throw new Error(`GET /connections?${query}: ${r.status} ${await r.text()}; ${describeRun(collector!.run)}`);
  return ((await r.json()) as { connections: Row[] }).connections;
}

/** Waits until the listing has exactly `n` rows (and `check` holds for them). */
function waitRows(query: string, n: number, check: (rs: Row[]) => boolean = () => true, timeoutMs = 15_000): Promise<Row[]> {
  return waitUntil(`${n} rows for ${query}`, async () => {
    const rs = await rows(query);
    return rs.length === n && check(rs) ? rs : undefined;
  }, timeoutMs, 50);
}

const cookieSet = (rs: Row[]) => new Set(rs.map((r) => BigInt(`0x${r.cookie}`)));

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "tib-netns-"));
});

afterAll(async () => {
  await killIfRunning(collector?.run);
  for (const h of holders) h.kill("SIGKILL");
  for (const name of made) Bun.spawnSync(["ip", "netns", "del", name]);
  rmSync(out, { recursive: true, force: true });
});

test("--netns all: every namespace's connections, each once and with its namespace; new namespaces picked up, deleted ones end as netns_gone", async () => {
  const inodeA = addNetns(ns.a);
  const inodeB = addNetns(ns.b);
  const holderA = await hold(ns.a, 3, 5101);
  // B's holder leaves B once its sockets are up: no process shows B in /proc, so deleting
  // B's name leaves a namespace that only its sockets (and the collector's) keep alive.
  await hold(ns.b, 2, 5102, true);
  collector = await startCollector(["--netns", "all", "--include-local", "--output", out]);

  // A listener and both ends of each connection, in each namespace.
  const a = await waitRows(`netns=${ns.a}`, 7);
  const b = await waitRows(`netns=${ns.b}`, 5);
  for (const r of a) expect(r.netns).toEqual({ inode: inodeA, name: ns.a });
  for (const r of b) expect(r.netns).toEqual({ inode: inodeB, name: ns.b });
  // The same sockets ss sees inside each namespace: cookies equal, nothing missing or extra.
  expect(cookieSet(a)).toEqual(new Set(ssSockets([], ns.a).map((s) => s.cookie)));
  expect(cookieSet(b)).toEqual(new Set(ssSockets([], ns.b).map((s) => s.cookie)));
  expect(new Set(a.map((r) => r.src.port === 5101 || r.dst.port === 5101))).toEqual(new Set([true]));
  // The inode filter finds the same rows as the name.
  expect(cookieSet(await rows(`netns=${inodeA}`))).toEqual(cookieSet(a));
  // `snapshot --netns PATH` dumps that namespace, each socket carrying its namespace.
  const snap = Bun.spawnSync([process.execPath, join(ROOT, "src", "index.ts"), "snapshot", "--netns", `/var/run/netns/${ns.a}`, "--include-local"]);
  expect(snap.exitCode).toBe(0);
  const snaps = snap.stdout.toString().trim().split("\n").map((l) => JSON.parse(l) as { cookie: string; netns: { inode: number; name: string } });
  expect(new Set(snaps.map((s) => BigInt(`0x${s.cookie}`)))).toEqual(cookieSet(a));
  for (const s of snaps) expect(s.netns).toEqual({ inode: inodeA, name: ns.a });

  const polledBefore = metricSum(await metricsText(collector.api), "tcpinfo_netns_polled");
  expect(polledBefore).toBeGreaterThanOrEqual(3); // host, A, B

  // A namespace made mid-run is polled within a rescan.
  const inodeC = addNetns(ns.c);
  await hold(ns.c, 2, 5103);
  const c = await waitRows(`netns=${ns.c}`, 5);
  for (const r of c) expect(r.netns).toEqual({ inode: inodeC, name: ns.c });
  expect(metricSum(await metricsText(collector.api), "tcpinfo_netns_polled")).toBe(polledBefore + 1);

  // Cookies are unique on the host across namespaces: one row per cookie over everything.
  const all = await rows("");
  expect(cookieSet(all).size).toBe(all.length);
  for (const r of [...a, ...b, ...c]) expect(all.filter((x) => x.uuid === r.uuid).length).toBe(1);

  // B is deleted while its sockets live: polled once more, its connections end as netns_gone.
  sh("ip", "netns", "del", ns.b);
  made.splice(made.indexOf(ns.b), 1);
  const gone = await waitRows(`netns=${ns.b}`, 5, (rs) => rs.every((r) => r.state === "closed"));
  for (const r of gone) expect(r.endReason).toBe("netns_gone");
  expect(metricSum(await metricsText(collector.api), "tcpinfo_netns_polled")).toBe(polledBefore);

  // A's connections closed by their owner end by destroy events, in A.
  holderA.stdin.write("close\n");
  holderA.stdin.flush();
  const closedA = await waitRows(`netns=${ns.a}`, 7, (rs) => rs.filter((r) => r.dst.port !== 0).every((r) => r.state === "closed"));
  const conns = closedA.filter((r) => r.dst.port !== 0);
  expect(conns.length).toBe(6);
  for (const r of conns) expect(r.endReason).toBe("destroy");
  // Nothing of A, B or C reached another namespace's listing.
  expect((await rows(`netns=${ns.c}`)).length).toBe(5);

  const stopped = await stopWith(collector.run);
  expect(stopped.code).toBe(0);
}, 90_000);

test("--netns all without CAP_SYS_ADMIN: setns is refused, counted and logged once per namespace; the collector's own namespace is still polled", async () => {
  const out2 = mkdtempSync(join(tmpdir(), "tib-netns-eperm-"));
  let run: RunningCollector | undefined;
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    const inodeA = made.includes(ns.a) ? statSync(`/var/run/netns/${ns.a}`).ino : addNetns(ns.a);
    const noSysAdmin = ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", "--"];
    run = await startCollector(["--netns", "all", "--include-local", "--output", out2], {}, noSysAdmin);
    const c = run;
    const refused = (l: string) => l.includes(`netns ${inodeA} name=${ns.a}`) && l.includes("cannot be polled") && l.includes("EPERM");
    await run.run.waitForStderr(/without CAP_SYS_ADMIN/);
    await run.run.waitForStderr(new RegExp(`netns ${inodeA} name=${ns.a}.*cannot be polled`));
    // Retried at each rescan (counted each time), logged once.
    const first = metricSum(await metricsText(c.api), "tcpinfo_error_total", { type: "netns_enter" });
    expect(first).toBeGreaterThanOrEqual(1);
    await waitUntil("a rescan", async () => (metricSum(await metricsText(c.api), "tcpinfo_error_total", { type: "netns_enter" }) >= 2 * first ? true : undefined), 15_000, 100);
    expect(run.run.stderrLines.filter(refused).length).toBe(1);
    // The collector's own namespace is still polled, under its own inode.
    const own = statSync("/proc/self/ns/net").ino;
    const mine = await waitUntil("the test's listener in the listing", async () => {
      const r = await fetch(`${c.api}/connections?port=${server.port}`);
      const body = (await r.json()) as { connections: Row[] };
      return body.connections.length === 1 ? body.connections[0] : undefined;
    });
    expect(mine.netns?.inode).toBe(own);
    expect(metricSum(await metricsText(c.api), "tcpinfo_netns_polled")).toBe(1);
    expect((await stopWith(run.run)).code).toBe(0);
  } finally {
    server.stop(true);
    await killIfRunning(run?.run);
    rmSync(out2, { recursive: true, force: true });
  }
}, 60_000);

test("hundreds of empty namespaces beside one with a thousand sockets: every socket tracked under its namespace, no error", async () => {
  const out3 = mkdtempSync(join(tmpdir(), "tib-netns-many-"));
  const empty = Array.from({ length: 200 }, (_, i) => `${tag}-e${i}`);
  let run: RunningCollector | undefined;
  try {
    for (const n of empty) addNetns(n);
    const busy = `${tag}-busy`;
    const inodeBusy = addNetns(busy);
    await hold(busy, 500, 5104);
    run = await startCollector(["--netns", "all", "--include-local", "--output", out3]);
    const c = run;
    const all = await waitUntil("the busy namespace's 1,001 sockets", async () => {
      const r = await fetch(`${c.api}/connections?netns=${busy}&limit=1000`);
      const body = (await r.json()) as { connections: Row[]; next: string | null };
      return body.connections.length === 1000 && body.next !== null ? body : undefined;
    }, 60_000, 200);
    const rest = (await (await fetch(`${c.api}/connections?netns=${busy}&limit=1000&cursor=${encodeURIComponent(all.next!)}`)).json()) as { connections: Row[] };
    const rows = [...all.connections, ...rest.connections];
    expect(rows.length).toBe(1001);
    expect(cookieSet(rows)).toEqual(new Set(ssSockets([], busy).map((s) => s.cookie)));
    for (const r of rows) expect(r.netns?.inode).toBe(inodeBusy);
    const text = await metricsText(c.api);
    expect(metricSum(text, "tcpinfo_netns_polled")).toBeGreaterThanOrEqual(empty.length + 2);
    expect(metricSum(text, "tcpinfo_error_total", { type: "netns_enter" })).toBe(0);
    expect(metricSum(text, "tcpinfo_error_total", { type: "dump_failed" }) + metricSum(text, "tcpinfo_error_total", { type: "dump_timeout" })).toBe(0);
    expect((await stopWith(run.run)).code).toBe(0);
  } finally {
    await killIfRunning(run?.run);
    for (const h of holders.splice(0)) h.kill("SIGKILL");
    for (const n of [...made]) if (n.startsWith(`${tag}-e`) || n === `${tag}-busy`) {
      Bun.spawnSync(["ip", "netns", "del", n]);
      made.splice(made.indexOf(n), 1);
    }
    rmSync(out3, { recursive: true, force: true });
  }
}, 120_000);

