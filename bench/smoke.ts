/**
 * Smoke test for the benchmark tooling: builds the C helpers, creates the
 * two-namespace test bed, establishes 10,000 idle connections nsA -> nsB,
 * counts them with `ss` and with the C floor (20 dump cycles, IPv4+IPv6),
 * runs 2 s of churn at 500 connections/s (plus a short IPv6 churn), then
 * tears everything down and checks that no namespace or process is left.
 *
 * Run (as root): node_modules/.bin/bun bench/smoke.ts
 * Exit status 0 when every check passed.
 */
import { createTestbed, ensureBuilt, LineReader, listNamespaces, type Testbed } from "./netns.ts";

const CONNS = 10_000;
const PORTS = "5001-5004"; // connections are spread round robin over these
const FLOOR_REPS = 20;
const CHURN_RATE = 500;
const CHURN_SECONDS = 2;

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

function num(obj: Record<string, unknown> | null, key: string): number {
  const v = obj?.[key];
  return typeof v === "number" ? v : Number.NaN;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Run a command in a namespace to completion; return stdout and exit code. */
async function capture(tb: Testbed, ns: string, argv: readonly string[]): Promise<{ code: number; out: string }> {
  const p = tb.exec(ns, argv);
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { code, out };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const bins = await ensureBuilt();
  console.log(`built: ${bins.floor}, ${bins.load}`);

  const tb = await createTestbed();
  console.log(`testbed: ${tb.nsA} (${tb.addrA}, ${tb.addr6A}) <-> ${tb.nsB} (${tb.addrB}, ${tb.addr6B})`);
  for (const w of tb.warnings) console.log(`warning: ${w}`);
  const pids: number[] = [];

  try {
    // Servers in nsB: one for IPv4, one for IPv6.
    const server = tb.exec(tb.nsB, [bins.load, "server", "--bind", tb.addrB, "--ports", PORTS]);
    const server6 = tb.exec(tb.nsB, [bins.load, "server", "--bind", tb.addr6B, "--ports", PORTS]);
    pids.push(server.pid, server6.pid);
    const serverOut = new LineReader(server.stdout);
    const server6Out = new LineReader(server6.stdout);
    await serverOut.waitFor(/^READY \d+/, 5_000);
    await server6Out.waitFor(/^READY \d+/, 5_000);

    // 10k idle connections from nsA. --seconds bounds its life even if we die.
    const tIdle = performance.now();
    const client = tb.exec(tb.nsA, [
      bins.load, "client", "--connect", tb.addrB, "--ports", PORTS,
      "--mode", "idle", "--conns", String(CONNS), "--seconds", "300",
    ]);
    pids.push(client.pid);
    const clientOut = new LineReader(client.stdout);
    const ready = await clientOut.waitFor(/^READY (\d+)/, 60_000);
    const established = Number(ready[1]);
    console.log(`idle: READY ${established} after ${(performance.now() - tIdle).toFixed(0)} ms`);
    check(established === CONNS, `client established ${established}/${CONNS}`);

    // ss count (its output has one header line).
    const ss = await capture(tb, tb.nsA, ["sh", "-c", "ss -tn state established | wc -l"]);
    const ssLines = Number.parseInt(ss.out.trim(), 10);
    console.log(`ss -tn state established | wc -l  (nsA) = ${ssLines}  (= ${ssLines - 1} sockets + header)`);
    check(ss.code === 0 && ssLines - 1 === CONNS, `ss sees ${ssLines - 1} established sockets in nsA`);

    // The floor: 20 cycles of (IPv4 dump + IPv6 dump), all states, all extensions.
    const fl = await capture(tb, tb.nsA, [bins.floor, "--family", "both", "--reps", String(FLOOR_REPS)]);
    check(fl.code === 0, "floor exited 0");
    const floor = JSON.parse(fl.out.trim()) as { sockets: number; bytes: number; cycleNs: number[]; cpuNs: number };
    const med = median(floor.cycleNs);
    console.log(
      `floor (nsA, both, ${FLOOR_REPS} reps): sockets=${floor.sockets} bytes/cycle=${floor.bytes} ` +
        `median cycle=${(med / 1e6).toFixed(3)} ms min=${(Math.min(...floor.cycleNs) / 1e6).toFixed(3)} ms ` +
        `max=${(Math.max(...floor.cycleNs) / 1e6).toFixed(3)} ms cpu=${(floor.cpuNs / 1e6).toFixed(1)} ms ` +
        `(${(floor.bytes / floor.sockets).toFixed(0)} B/socket)`,
    );
    // nsA holds exactly the client sockets (no listeners, nothing else).
    check(floor.sockets === CONNS, `floor counted ${floor.sockets} sockets`);

    // Churn IPv4: 500/s for 2 s.
    const churn = await capture(tb, tb.nsA, [
      bins.load, "client", "--connect", tb.addrB, "--ports", PORTS,
      "--mode", "churn", "--rate", String(CHURN_RATE), "--seconds", String(CHURN_SECONDS),
    ]);
    const cj = JSON.parse(churn.out.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
    console.log(`churn v4: ${JSON.stringify(cj)}`);
    const created = num(cj, "created");
    check(created === CHURN_RATE * CHURN_SECONDS, `churn created ${created}`);
    check(num(cj, "established") === created, `churn completed ${num(cj, "established")} handshakes of ${created}`);

    // A short IPv6 churn proves the v6 addressing too.
    const churn6 = await capture(tb, tb.nsA, [
      bins.load, "client", "--connect", tb.addr6B, "--ports", PORTS,
      "--mode", "churn", "--rate", "200", "--seconds", "0.5",
    ]);
    const c6 = JSON.parse(churn6.out.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
    console.log(`churn v6: created=${num(c6, "created")} established=${num(c6, "established")}`);
    check(num(c6, "created") === 100 && num(c6, "established") === 100, "IPv6 churn 100/100");

    // Stop the idle client and the servers politely, and read their summaries.
    client.kill("SIGTERM");
    await client.exited;
    await clientOut.done;
    const cs = clientOut.lastJson();
    console.log(`idle client summary: ${JSON.stringify(cs)}`);
    check(num(cs, "dropped") === 0, "no idle connection dropped");
    server.kill("SIGTERM");
    server6.kill("SIGTERM");
    await Promise.all([server.exited, server6.exited, serverOut.done, server6Out.done]);
    console.log(`server v4 summary: ${JSON.stringify(serverOut.lastJson())}`);
    const accepted = num(serverOut.lastJson(), "accepted");
    check(accepted === CONNS + created, `server v4 accepted ${accepted} (= ${CONNS} idle + ${created} churn)`);
  } finally {
    await tb.destroy();
  }

  const left = listNamespaces().filter((n) => n === tb.nsA || n === tb.nsB);
  console.log(`after destroy: ip netns list shows ${left.length ? left.join(", ") : "none of ours"}`);
  check(left.length === 0, "namespaces removed");
  check(pids.every(pidGone), "all spawned processes gone");
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (failures.length > 0) {
    console.log(`SMOKE FAILED: ${failures.length} check(s)`);
    process.exit(1);
  }
  console.log("SMOKE PASSED");
}

main().catch((e: unknown) => {
  console.error(`smoke: ${e instanceof Error ? e.message : String(e)}`);
  // exit handlers registered by netns.ts remove the namespaces
  process.exit(1);
});
