// `collector --exclude-dstip` with CIDR prefixes, on real loopback connections: what a
// prefix covers is not archived, what it does not cover is, in both families, and an IPv4
// prefix also covers IPv4 peers of an IPv6 socket (::ffff:127.0.0.1).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listFiles, readDecoded } from "../helpers/archives.ts";
import { startCollector, waitCycles } from "../helpers/collector-run.ts";
import { loopbackPair, type LoopbackPair } from "../helpers/loopback.ts";
import { runCliSync } from "../helpers/run-cli.ts";
import type { Snapshot } from "../../src/diag/snapshot.ts";

/** A dual-stack server (listening on ::) and one client reaching it over IPv4. */
interface MappedPair {
  port: number;
  close(): Promise<void>;
}

async function mappedPair(): Promise<MappedPair> {
  const accepted: Socket[] = [];
  const server: Server = createServer((s) => {
    s.on("error", () => {});
    accepted.push(s);
  });
  server.listen({ port: 0, host: "::", ipv6Only: false });
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const client = connect(port, "127.0.0.1");
  client.on("error", () => {});
  const gotOne = once(server, "connection");
  await once(client, "connect");
  await gotOne;
  return {
    port,
    async close() {
      client.destroy();
      for (const s of accepted) s.destroy();
      server.close();
      await once(server, "close").catch(() => {});
    },
  };
}

let v4: LoopbackPair;
let v6: LoopbackPair;
let mapped: MappedPair;
const dirs: string[] = [];

beforeAll(async () => {
  v4 = await loopbackPair("127.0.0.1");
  v6 = await loopbackPair("::1");
  mapped = await mappedPair();
});
afterAll(async () => {
  await v4?.close();
  await v6?.close();
  await mapped?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the collector over the open connections with `exclude`, returns what it archived. */
async function archived(exclude: string[]): Promise<Snapshot[]> {
  const out = mkdtempSync(join(tmpdir(), "tcpinfo-exclude-dstip-"));
  dirs.push(out);
  const c = await startCollector(["--output", out, "--include-local", ...exclude.flatMap((e) => ["--exclude-dstip", e])]);
  try {
    await waitCycles(c, 3);
    c.run.proc.kill("SIGTERM");
    expect(await c.run.exited).toBe(0);
  } finally {
    if (c.run.proc.exitCode === null) c.run.proc.kill("SIGKILL");
  }
  return (await Promise.all(listFiles(out).map((f) => readDecoded(out, f)))).flatMap((a) => a.snapshots);
}

/** Connection ends (not listeners) of `family` on `port`, as "src port>dst port". */
function ends(snaps: Snapshot[], port: number, family: 4 | 6): Set<string> {
  const mine = snaps.filter((s) => s.state !== "LISTEN" && s.family === family && (s.src.port === port || s.dst.port === port));
  return new Set(mine.map((s) => `${s.src.port}>${s.dst.port}`));
}

test("an IPv4 prefix leaves out IPv4 peers in it, IPv4-mapped ones included, and nothing else", async () => {
  const snaps = await archived(["127.0.0.0/8"]);
  expect(ends(snaps, v4.port, 4).size).toBe(0);
  // The dual-stack server's accepted socket is IPv6 with peer ::ffff:127.0.0.1; its client is IPv4.
  expect(ends(snaps, mapped.port, 6).size).toBe(0);
  expect(ends(snaps, mapped.port, 4).size).toBe(0);
  // ::1 is not in 127.0.0.0/8: both ends kept.
  expect(ends(snaps, v6.port, 6).size).toBe(2);
});

test("prefixes that do not cover loopback leave it archived; an IPv6 prefix leaves out its peers", async () => {
  const snaps = await archived(["10.0.0.0/8", "::1/128"]);
  expect(ends(snaps, v4.port, 4).size).toBe(2);
  expect(ends(snaps, mapped.port, 6).size).toBe(1);
  expect(ends(snaps, mapped.port, 4).size).toBe(1);
  expect(ends(snaps, v6.port, 6).size).toBe(0);
});

test("a prefix that is not one is a usage error naming the flag", () => {
  const out = mkdtempSync(join(tmpdir(), "tcpinfo-exclude-dstip-"));
  dirs.push(out);
  for (const bad of ["10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "host/8"]) {
    const r = runCliSync(["collector", "--output", join(out, "x"), "--listen", "off", "--exclude-dstip", bad]);
    expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
    expect(r.stderr).toContain(`--exclude-dstip must be an IPv4 or IPv6 address or CIDR prefix (e.g. 10.0.0.0/8), got '${bad}'`);
  }
  const env = runCliSync(["collector", "--output", join(out, "x"), "--listen", "off"], { TCPINFO_EXCLUDE_DSTIP: "10.0.0.0/8,bad/8" });
  expect(env.code).toBe(2);
  expect(env.stderr).toContain("TCPINFO_EXCLUDE_DSTIP must be an IPv4 or IPv6 address or CIDR prefix");
});
