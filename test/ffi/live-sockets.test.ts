// Real sockets on loopback: what we decode from the kernel equals what `ss` prints for
// the same sockets.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { takeSnapshots } from "../../src/cli/snapshot.ts";
import type { Snapshot } from "../../src/diag/snapshot.ts";
import { loopbackPair, type LoopbackPair } from "../helpers/loopback.ts";
import { ssSockets } from "../helpers/ss.ts";

const pairs: LoopbackPair[] = [];

beforeAll(async () => {
  for (const host of ["127.0.0.1", "::1"] as const) {
    const p = await loopbackPair(host, 2);
    await p.send(p.clients[0], 100_000);
    await p.send(p.clients[1], 3_000);
    pairs.push(p);
  }
  // Let delayed ACKs and timers settle so both readers see the same counters.
  await Bun.sleep(400);
});

afterAll(async () => {
  for (const p of pairs) await p.close();
});

const STATE_NAMES: Record<string, string> = { ESTAB: "ESTABLISHED", LISTEN: "LISTEN" };

for (const [i, family] of [[0, 4], [1, 6]] as const) {
  test(`IPv${family}: decoded values match ss for the same sockets`, () => {
    const { port } = pairs[i];
    const ours = takeSnapshots({ port, includeLocal: true, uuidPrefix: "test" });
    // An earlier test's TIME_WAIT socket may sit on a reused port: only live sockets count.
    const theirs = ssSockets([`( sport = :${port} or dport = :${port} )`]).filter((s) => s.state !== "TIME-WAIT");
    // The listener, two clients and the two sockets the server accepted.
    expect(theirs.length).toBe(5);
    expect(theirs.filter((s) => s.state === "ESTAB").length).toBe(4);
    const byCookie = new Map<bigint, Snapshot>(ours.map((s) => [BigInt(`0x${s.cookie}`), s]));
    for (const s of theirs) {
      const snap = byCookie.get(s.cookie);
      expect(snap).toBeDefined();
      const t = snap!.tcpInfo!;
      if (s.state === "LISTEN") {
        expect(snap!.state).toBe("LISTEN");
        continue;
      }
      expect(snap!.family).toBe(family);
      expect(snap!.state).toBe(STATE_NAMES[s.state] ?? s.state);
      expect(String(snap!.inode)).toBe(s.fields.get("ino")!);
      expect(String(snap!.uid)).toBe(s.fields.get("uid") ?? "0"); // ss omits uid 0
      expect(String(t.sndCwnd)).toBe(s.fields.get("cwnd")!);
      expect(String(t.sndMss)).toBe(s.fields.get("mss")!);
      expect(String(t.rcvMss)).toBe(s.fields.get("rcvmss")!);
      expect(String(t.advmss)).toBe(s.fields.get("advmss")!);
      expect(String(t.segsOut)).toBe(s.fields.get("segs_out")!);
      expect(String(t.segsIn)).toBe(s.fields.get("segs_in")!);
      // ss omits zero byte counters
      expect(String(t.bytesAcked)).toBe(s.fields.get("bytes_acked") ?? "0");
      expect(String(t.bytesReceived)).toBe(s.fields.get("bytes_received") ?? "0");
      expect(String(t.bytesSent)).toBe(s.fields.get("bytes_sent") ?? "0");
      expect(`${t.sndWscale},${t.rcvWscale}`).toBe(s.fields.get("wscale")!);
      expect(snap!.congestion).toBeDefined();
      expect(s.fields.has(snap!.congestion!)).toBe(true);
      // skmem:(r0,rb131072,t0,tb2626560,f0,w0,o0,bl0,d0)
      const skmem = /rb(\d+),t(\d+),tb(\d+)/.exec(s.fields.get("skmem") ?? "")!;
      expect(String(snap!.skMemInfo!.rcvbuf)).toBe(skmem[1]);
      expect(String(snap!.skMemInfo!.sndbuf)).toBe(skmem[3]);
      // The address ss prints, in brackets for IPv6.
      const local = family === 6 ? `[${snap!.src.ip}]:${snap!.src.port}` : `${snap!.src.ip}:${snap!.src.port}`;
      expect(s.local).toBe(local);
    }
    // The client that sent 100 kB has it acknowledged.
    const sender = ours.find((s) => s.src.port === pairs[i].clients[0].localPort);
    expect(sender!.tcpInfo!.bytesAcked).toBeGreaterThanOrEqual(100_001n);
  });
}

test("local connections are left out unless asked for", () => {
  const { port } = pairs[0];
  expect(takeSnapshots({ port, includeLocal: false, uuidPrefix: "t" }).length).toBe(0);
  expect(takeSnapshots({ port, includeLocal: true, uuidPrefix: "t", family: 6 }).filter((s) => s.state !== "TIME_WAIT").length).toBe(0);
  // the listener and four connection ends (not an earlier test's TIME_WAIT on a reused port)
  expect(takeSnapshots({ port, includeLocal: true, uuidPrefix: "t", family: 4 }).filter((s) => s.state !== "TIME_WAIT").length).toBe(5);
});
