// End to end: the real `collector` command against real loopback connections, reading
// the files it writes with our reader and checking them with the zstd CLI.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { takeSnapshots } from "../../src/cli/snapshot.ts";
import { loopbackPair } from "../helpers/loopback.ts";
import { startCli } from "../helpers/run-cli.ts";
import { listFiles, readDecoded, zstdValid } from "../helpers/archives.ts";

let dir: string;
let prefixFile: string;
const PREFIX = "testhost_1700000000_unsafe";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-collector-"));
  prefixFile = join(dir, "prefix");
  writeFileSync(prefixFile, PREFIX + "\n");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function utcDatePath(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${String(d.getUTCDate()).padStart(2, "0")}`;
}

async function startCollector(extra: string[]) {
  const out = join(dir, "out");
  const run = startCli(["collector", "--output", out, "--uuid-prefix-file", prefixFile, "--status-seconds", "0", "--listen", "127.0.0.1:0", ...extra]);
  await run.waitForStderr(/^collector: writing/);
  // Let the first poll run before the test's connections appear.
  await Bun.sleep(150);
  return { run, out };
}

async function stop(run: ReturnType<typeof startCli>): Promise<number> {
  run.proc.kill("SIGTERM");
  return run.exited;
}

test("a connection moving data gets one archive with growing bytesAcked and its final state", async () => {
  const { run, out } = await startCollector(["--include-local", "--interval", "10"]);
  const pair = await loopbackPair("127.0.0.1");
  const client = pair.clients[0];
  const cookie = takeSnapshots({ port: client.localPort!, includeLocal: true, uuidPrefix: PREFIX }).find((s) => s.src.port === client.localPort && s.state === "ESTABLISHED")!.cookie; // not an old TIME_WAIT on the same port
  for (let i = 0; i < 10; i++) {
    await pair.send(client, 20_000);
    await Bun.sleep(30);
  }
  const start = Date.now();
  await pair.close();
  await Bun.sleep(400);
  expect(await stop(run)).toBe(0);

  const rel = `${utcDatePath(start)}/${PREFIX}_${cookie}.00000.jsonl.zst`;
  const files = listFiles(out);
  expect(files).toContain(rel);
  for (const f of files) expect(zstdValid(join(out, f))).toBe(true);
  const a = await readDecoded(out, rel);
  expect(a.metadata.uuid).toBe(`${PREFIX}_${cookie}`);
  expect(a.metadata.sequence).toBe(0);
  const acked = a.snapshots.map((s) => s.tcpInfo?.bytesAcked).filter((v): v is bigint => typeof v === "bigint");
  expect(acked.length).toBeGreaterThan(5);
  for (let i = 1; i < acked.length; i++) expect(acked[i]).toBeGreaterThanOrEqual(acked[i - 1]);
  // 200 kB sent; bytes_acked also counts the sequence numbers of the SYN and the FIN,
  // which the peer acknowledged before the socket was destroyed.
  expect(acked).toContain(200_001n);
  expect(acked[acked.length - 1]).toBe(200_002n);
  const last = a.snapshots[a.snapshots.length - 1];
  // The kernel's destroy event is the last record: the socket's final state.
  expect(last.state).toBe("CLOSE");
  expect(last.tcpInfo!.bytesSent).toBe(200_000n);
  expect(a.snapshots.every((s) => s.cookie === cookie)).toBe(true);
});

test("a connection opened and closed between two polls still gets a file with its final snapshot", async () => {
  const { run, out } = await startCollector(["--include-local", "--interval", "2000"]);
  const pair = await loopbackPair("::1");
  const client = pair.clients[0];
  const port = client.localPort!;
  await pair.send(client, 5000);
  await pair.close();
  await Bun.sleep(300);
  expect(await stop(run)).toBe(0);
  const files = listFiles(out);
  const decoded = await Promise.all(files.map((f) => readDecoded(out, f)));
  const mine = decoded.filter((a) => a.snapshots.some((s) => s.src.port === port));
  expect(mine.length).toBe(1);
  expect(mine[0].snapshots.length).toBe(1);
  const only = mine[0].snapshots[0];
  expect(only.state).toBe("CLOSE");
  expect(only.family).toBe(6);
  expect(only.tcpInfo!.bytesAcked).toBe(5002n); // data + SYN + FIN
});

test("with destroy events off, the same short connection is missed: polling alone cannot see it", async () => {
  const { run, out } = await startCollector(["--include-local", "--interval", "2000", "--no-destroy-events"]);
  const pair = await loopbackPair("::1");
  const port = pair.clients[0].localPort!;
  await pair.send(pair.clients[0], 5000);
  await pair.close();
  await Bun.sleep(300);
  expect(await stop(run)).toBe(0);
  const decoded = await Promise.all(listFiles(out).map((f) => readDecoded(out, f)));
  expect(decoded.filter((a) => a.snapshots.some((s) => s.src.port === port)).length).toBe(0);
});

test("SIGTERM mid-run leaves only complete zstd files, and exits 0", async () => {
  const { run, out } = await startCollector(["--include-local", "--interval", "5"]);
  const pair = await loopbackPair("127.0.0.1", 20);
  const sending = (async () => {
    for (let i = 0; i < 20; i++) await Promise.all(pair.clients.map((c) => pair.send(c, 2000)));
  })();
  await Bun.sleep(100);
  expect(await stop(run)).toBe(0);
  await sending;
  await pair.close();
  const files = listFiles(out);
  expect(files.length).toBeGreaterThanOrEqual(40);
  for (const f of files) {
    expect(f).toMatch(/^\d{4}\/\d{2}\/\d{2}\/testhost_1700000000_unsafe_[0-9A-F]{16}\.00000\.jsonl\.zst$/);
    expect(zstdValid(join(out, f))).toBe(true);
  }
  const decoded = await Promise.all(files.map((f) => readDecoded(out, f)));
  for (const a of decoded) expect(a.snapshots.length).toBeGreaterThan(0);
  expect(run.stderrLines.some((l) => l.startsWith("collector: stopped"))).toBe(true);
});

test("--anonymize-ip netblock zeroes the host part of addresses in what is written", async () => {
  const { run, out } = await startCollector(["--include-local", "--anonymize-ip", "netblock"]);
  const pair4 = await loopbackPair("127.0.0.1");
  const pair6 = await loopbackPair("::1");
  await pair4.send(pair4.clients[0], 1000);
  await pair6.send(pair6.clients[0], 1000);
  await Bun.sleep(100);
  expect(await stop(run)).toBe(0);
  const decoded = await Promise.all(listFiles(out).map((f) => readDecoded(out, f)));
  const ports = new Set([pair4.port, pair6.port]);
  const mine = decoded.flatMap((a) => a.snapshots).filter((s) => s.state !== "LISTEN" && (ports.has(s.src.port) || ports.has(s.dst.port)));
  await pair4.close();
  await pair6.close();
  expect(mine.some((s) => s.family === 4)).toBe(true);
  expect(mine.some((s) => s.family === 6)).toBe(true);
  for (const s of mine) {
    // 127.0.0.1 keeps its /24; ::1 keeps its /64, which is all zeros.
    if (s.family === 4) expect([s.src.ip, s.dst.ip]).toEqual(["127.0.0.0", "127.0.0.0"]);
    else expect([s.src.ip, s.dst.ip]).toEqual(["::", "::"]);
  }
});

test("--exclude-srcport and --exclude-dstip leave out exactly the matching connections", async () => {
  const pair4 = await loopbackPair("127.0.0.1");
  const pair6 = await loopbackPair("::1");
  const { run, out } = await startCollector(["--include-local", "--exclude-srcport", String(pair6.port), "--exclude-dstip", "127.0.0.1"]);
  await pair4.send(pair4.clients[0], 1000);
  await pair6.send(pair6.clients[0], 1000);
  await Bun.sleep(100);
  expect(await stop(run)).toBe(0);
  const snaps = (await Promise.all(listFiles(out).map((f) => readDecoded(out, f)))).flatMap((a) => a.snapshots);
  const involving = (port: number) => snaps.filter((s) => s.src.port === port || s.dst.port === port);
  // IPv4 to 127.0.0.1: every socket (listener aside, which is local anyway) goes to 127.0.0.1.
  expect(involving(pair4.port).filter((s) => s.dst.ip === "127.0.0.1").length).toBe(0);
  // IPv6: the server side (source port = the excluded port) is gone, the client side is kept.
  const six = involving(pair6.port);
  expect(six.filter((s) => s.src.port === pair6.port).length).toBe(0);
  expect(six.filter((s) => s.dst.port === pair6.port).length).toBeGreaterThan(0);
  await pair4.close();
  await pair6.close();
});

test("bad flags are rejected with a clear message and exit status 2", async () => {
  for (const [args, msg] of [
    [["--interval", "abc"], /--interval must be a whole number/],
    [["--interval", "0"], /--interval must be from 1/],
    [["--anonymize-ip", "full"], /--anonymize-ip must be one of none, netblock/],
    [["--exclude-dstip", "300.1.1.1"], /--exclude-dstip must be an IPv4 or IPv6 address/],
    [["--exclude-srcport", "70000"], /--exclude-srcport must be from 0 to 65535/],
    [["--index-retention-hours", "-1"], /--index-retention-hours must be from 0/],
    [["--listen", "nowhere"], /--listen must be HOST:PORT/],
    [["--frobnicate"], /unknown option '--frobnicate'/],
  ] as const) {
    const run = startCli(["collector", "--output", join(dir, "x"), ...args]);
    expect(await run.exited).toBe(2);
    expect(run.stderrLines.join("\n")).toMatch(msg);
  }
});

test("flags can come from environment variables", async () => {
  const out = join(dir, "env-out");
  const run = startCli(["collector"], { TCPINFO_LISTEN: "off", TCPINFO_OUTPUT: out, TCPINFO_REPS: "3", TCPINFO_INTERVAL: "5", TCPINFO_UUID_PREFIX_FILE: prefixFile, TCPINFO_INCLUDE_LOCAL: "1" });
  expect(await run.exited).toBe(0);
  const start = run.stderrLines.find((l) => l.startsWith("collector: writing"))!;
  expect(start).toContain(out);
  expect(start).toContain("every 5 ms");
  expect(start).toContain(PREFIX);
  expect(start).toContain("3 reps");
  const bad = startCli(["collector"], { TCPINFO_OUTPUT: out, TCPINFO_INTERVAL: "fast" });
  expect(await bad.exited).toBe(2);
  expect(bad.stderrLines.join("\n")).toMatch(/TCPINFO_INTERVAL must be a whole number/);
});

test("start-up failures name what failed and exit 1, without a stack trace", async () => {
  const notASocket = join(dir, "plain-file");
  writeFileSync(notASocket, "keep me");
  for (const [args, msg] of [
    [["--eventsocket", notASocket], /^error: cannot serve the eventsocket at .*plain-file: refusing to remove/],
    [["--db", join(dir, "missing", "dir", "x.sqlite")], /^error: cannot open the index .*x\.sqlite/],
    [["--output", "/proc/tcpinfo-test"], /^error: cannot create the output folder \/proc\/tcpinfo-test/],
  ] as const) {
    const run = startCli(["collector", "--output", join(dir, "o"), "--listen", "off", "--reps", "1", ...args]);
    expect(await run.exited).toBe(1);
    expect(run.stderrLines.join("\n")).toMatch(msg);
    expect(run.stderrLines.some((l) => /^\s+at /.test(l))).toBe(false);
  }
  expect(readFileSync(notASocket, "utf8")).toBe("keep me");
});
