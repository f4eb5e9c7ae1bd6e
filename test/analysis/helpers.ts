// A real loopback connection driven through one phase (drive.py) while a real collector
// archives it, and an independent reading of what it archived.
import { join } from "node:path";
import { getJson, waitFor } from "../helpers/collector-proc.ts";

export type Phase = "receiver" | "sndbuf" | "bulk";

const DRIVER = join(import.meta.dir, "drive.py");

/**
 * A sender (A) and a receiver (B) in their own network namespaces, joined through a
 * router namespace (R) whose link towards B is shaped to 5 Mbit/s with tbf: the data
 * waits in R's queue, so a few KiB in flight take milliseconds to be acknowledged. A's
 * link has GSO off (segments of one MSS), for the send-buffer phase (see drive.py).
 * Removed by `remove`, also when making them failed halfway.
 */
export interface ShapedPair {
  a: string;
  b: string;
  aIp: string;
  bIp: string;
  /** Namespaces made (the collector polls each one). */
  namespaces: number;
  remove(): void;
}

export function makeShapedPair(tag: string): ShapedPair {
  const [a, r, b] = [`${tag}-a`, `${tag}-r`, `${tag}-b`];
  const remove = () => {
    for (const n of [a, r, b]) Bun.spawnSync(["ip", "netns", "del", n]);
  };
  const sh = (...cmd: string[]) => {
    const res = Bun.spawnSync(cmd);
    if (res.exitCode !== 0) {
      remove();
      throw new Error(`${cmd.join(" ")}: ${res.stderr.toString()}`);
    }
  };
  for (const n of [a, r, b]) sh("ip", "netns", "add", n);
  sh("ip", "link", "add", "tib-a", "netns", a, "type", "veth", "peer", "name", "tib-ra", "netns", r);
  sh("ip", "link", "add", "tib-b", "netns", b, "type", "veth", "peer", "name", "tib-rb", "netns", r);
  // RFC 2544 benchmarking addresses: nothing outside the three can be reached.
  sh("ip", "-n", a, "addr", "add", "198.19.77.1/24", "dev", "tib-a");
  sh("ip", "-n", r, "addr", "add", "198.19.77.254/24", "dev", "tib-ra");
  sh("ip", "-n", r, "addr", "add", "198.19.78.254/24", "dev", "tib-rb");
  sh("ip", "-n", b, "addr", "add", "198.19.78.2/24", "dev", "tib-b");
  // One MSS per skb: a write bigger than the buffer is then copied in part before the
  // sender blocks, which is when the kernel starts counting send-buffer-limited time.
  sh("ip", "-n", a, "link", "set", "tib-a", "gso_max_size", "1448", "gso_max_segs", "1");
  for (const [n, dev] of [[a, "tib-a"], [r, "tib-ra"], [r, "tib-rb"], [b, "tib-b"], [a, "lo"], [b, "lo"]]) sh("ip", "-n", n, "link", "set", dev, "up");
  sh("ip", "-n", a, "route", "add", "default", "via", "198.19.77.254");
  sh("ip", "-n", b, "route", "add", "default", "via", "198.19.78.254");
  sh("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  // The queue is in R, not in A: A's own qdisc would hold the data back (TCP small
  // queues), and data not yet sent counts as busy, not as send-buffer-limited.
  sh("ip", "netns", "exec", r, "tc", "qdisc", "add", "dev", "tib-rb", "root", "tbf", "rate", "5mbit", "burst", "4kb", "latency", "2s");
  return { a: `/var/run/netns/${a}`, b: `/var/run/netns/${b}`, aIp: "198.19.77.1", bIp: "198.19.78.2", namespaces: 3, remove };
}

/** Runs drive.py; resolves with the listening port once both ends are closed. */
export async function drive(phase: Phase, seconds: number, pair?: ShapedPair): Promise<number> {
  const args = pair ? [pair.a, pair.b, pair.aIp, pair.bIp] : [];
  const proc = Bun.spawn(["python3", DRIVER, phase, String(seconds), ...args], { stdout: "pipe", stderr: "pipe" });
  try {
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0 || !out.includes("done")) throw new Error(`drive.py ${phase} exited ${code}: ${out}${err}`);
    const m = /^port (\d+)$/m.exec(out);
    if (!m) throw new Error(`drive.py printed no port: ${out}`);
    return Number(m[1]);
  } finally {
    proc.kill();
  }
}

export interface ConnectionRow {
  uuid: string;
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
  state: string;
  endReason: string | null;
  snapshots: number;
}

/**
 * The sending end (the client: its destination is the listening port) once the index has
 * it closed with every archive file closed, so the archives are complete.
 */
export function senderOf(api: string, port: number, timeoutMs = 20_000): Promise<ConnectionRow> {
  return waitFor(`the closed connection to port ${port}`, async () => {
    const list = await getJson(`${api}/connections?port=${port}`);
    const row = (list.body.connections as ConnectionRow[]).find((c) => c.dst.port === port);
    if (!row || row.state !== "closed") return undefined;
    const detail = await getJson(`${api}/connections/${encodeURIComponent(row.uuid)}`);
    const files = detail.body.files as { closedAt: string | null }[];
    return files.length > 0 && files.every((f) => f.closedAt !== null) ? row : undefined;
  }, timeoutMs);
}

export type Json = Record<string, any>;

/** The decoded snapshots, as /snapshots streams them. */
export async function snapshotsOf(api: string, uuid: string): Promise<Json[]> {
  const r = await fetch(`${api}/connections/${encodeURIComponent(uuid)}/snapshots`);
  if (r.status !== 200) throw new Error(`/snapshots ${r.status}`);
  return (await r.text()).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** What the summary should say, computed here from the snapshots with no project code. */
export function expectedFigures(snaps: Json[]) {
  const info = snaps.map((s) => s.tcpInfo as Json | undefined).filter((i): i is Json => i !== undefined);
  const last = info[info.length - 1];
  // Counters only grow but a reset zeroes them: their largest value is the final figure.
  const top = (k: string) => Math.max(...info.filter((i) => i[k] !== undefined).map((i) => i[k] as number));
  const rtts = info.map((i) => i.rtt as number).filter((v) => v > 0).sort((a, b) => a - b);
  const mid = rtts.length / 2;
  const medianUs = rtts.length % 2 ? rtts[Math.floor(mid)] : (rtts[mid - 1] + rtts[mid]) / 2;
  const chrono = info.filter((i) => i.busyTime !== undefined);
  const first = chrono[0];
  const busy = top("busyTime") - first.busyTime;
  const rwnd = top("rwndLimited") - first.rwndLimited;
  const sndbuf = top("sndbufLimited") - first.sndbufLimited;
  return {
    bytes: { sent: top("bytesSent"), received: top("bytesReceived"), acked: top("bytesAcked") },
    medianMs: medianUs / 1000,
    minMs: rtts[0] / 1000,
    busyMs: busy / 1000,
    rwndShare: rwnd / busy,
    sndbufShare: sndbuf / busy,
    congestionShare: Math.max(0, busy - rwnd - sndbuf) / busy,
    totalRetrans: top("totalRetrans"),
    segsOut: top("segsOut"),
    cwndPeak: Math.max(...info.map((i) => i.sndCwnd as number)),
    cwndFinal: last.sndCwnd,
  };
}
