// /metrics of a running collector, scraped as Prometheus would: Prometheus's own linter
// (`promtool check metrics`, Debian's prometheus package) finds nothing but M-Lab's
// legacy names, every series the operator needs is there from the start, and the ones
// that count something move when loopback traffic happens.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COLLECTOR_ERRORS } from "../../src/model/counted.ts";
import { startCollector, stopCollector, waitCycles, waitFor, type CollectorProc } from "../helpers/collector-proc.ts";
import { loopbackPair } from "../helpers/loopback.ts";

/** M-Lab's names, kept so its dashboards work; promtool objects to the type in the name. */
const LEGACY = [
  "tcpinfo_cache_count_histogram",
  "tcpinfo_connection_count_histogram",
  "tcpinfo_polling_interval_histogram",
  "tcpinfo_receive_rate_histogram",
  "tcpinfo_send_rate_histogram",
  "tcpinfo_syscall_time_histogram",
];

const dirs: string[] = [];
const collectors: CollectorProc[] = [];
afterAll(async () => {
  for (const c of collectors) if (c.run.proc.exitCode === null) await stopCollector(c);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The value of one series (`name{labels}` exactly as printed, or a bare name), or undefined. */
function value(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function scrape(api: string): Promise<string> {
  const r = await fetch(`${api}/metrics`);
  expect(r.status).toBe(200);
  return r.text();
}

function promtool(text: string): { code: number; out: string } {
  const p = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  if (p.exitCode === null || (p.exitCode !== 0 && p.exitCode !== 3 && p.stderr.length === 0 && p.stdout.length === 0)) {
    throw new Error("promtool did not run: install Debian's prometheus package (apt-get install prometheus)");
  }
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

/** Sends `bytes` over a fresh loopback connection, waits until all arrived, then closes both ends. */
async function transfer(bytes: number): Promise<void> {
  const pair = await loopbackPair("127.0.0.1");
  try {
    await pair.send(pair.clients[0], bytes);
  } finally {
    await pair.close();
  }
}

test("promtool finds only M-Lab's legacy names; the series exist from the start and move", async () => {
  const out = mkdtempSync(join(tmpdir(), "metrics-"));
  dirs.push(out);
  const c = await startCollector(out, ["--interval", "10"]);
  collectors.push(c);
  await waitCycles(c.api, 3);
  const first = await scrape(c.api);

  // Everything an operator alerts on exists before anything happened.
  for (const type of COLLECTOR_ERRORS) expect(value(first, `tcpinfo_error_total{type="${type}"}`)).toBe(0);
  expect(value(first, `tcpinfo_error_total{type="archive_ENOSPC"}`)).toBe(0);
  expect(value(first, `tcpinfo_archive_lines_lost_total{reason="backpressure"}`)).toBe(0);
  expect(value(first, `tcpinfo_flow_events_total{type="open"}`)).toBe(0);
  expect(value(first, `large_netlink_total{type="TCPInfo"}`)).toBe(0);
  expect(value(first, `netlink_skipped_total{type="malformed_attribute"}`)).toBe(0);
  expect(value(first, "tcpinfo_destroy_event_overruns_total")).toBe(0);
  expect(value(first, "tcpinfo_index_write_failures_total")).toBe(0);
  expect(value(first, "tcpinfo_eventsocket_clients")).toBe(0);
  expect(first).toMatch(/^tcpinfo_build_info\{version="\d+\.\d+\.\d+",bun="[^"]+",kernel="[^"]+"\} 1$/m);
  // Process metrics true under Bun; none of Node's.
  expect(value(first, "process_resident_memory_bytes")).toBeGreaterThan(10 * 2 ** 20);
  expect(value(first, "process_open_fds")).toBeGreaterThan(3);
  const start = value(first, "process_start_time_seconds")!;
  expect(Math.abs(start - Date.now() / 1000)).toBeLessThan(600);
  expect(first).not.toMatch(/^nodejs_/m);

  const bytes = 4 * 2 ** 20;
  await transfer(bytes);
  // The closed connection's destroy events, and a rate observation covering its bytes
  // (made at the first poll of the next second), and its two ends' files (created by the
  // storage worker, whose counters come back a few times a second).
  const later = await waitFor("destroy events, the transfer in the send rate, two new files", async () => {
    const t = await scrape(c.api);
    const destroyed = value(t, "tcpinfo_destroy_events_total") ?? 0;
    const sentBits = value(t, "tcpinfo_send_rate_histogram_sum") ?? 0;
    const receivedBits = value(t, "tcpinfo_receive_rate_histogram_sum") ?? 0;
    const files = value(t, "tcpinfo_new_file_total") ?? 0;
    return destroyed >= 2 && sentBits >= bytes * 8 && receivedBits >= bytes * 8 && files >= 2 ? t : undefined;
  }, 20_000);

  expect(value(later, "tcpinfo_poll_duration_seconds_count")).toBeGreaterThan(value(first, "tcpinfo_poll_duration_seconds_count")!);
  expect(value(later, "tcpinfo_snapshot_total")).toBeGreaterThan(value(first, "tcpinfo_snapshot_total")!);
  expect(value(later, "tcpinfo_new_file_total")).toBeGreaterThanOrEqual(2);
  expect(value(later, "tcpinfo_archive_lines_written_total")! + value(later, "tcpinfo_archive_lines_buffered")!).toBeGreaterThanOrEqual(2);
  expect(value(later, "tcpinfo_connections_tracked")).toBeGreaterThanOrEqual(0);
  expect(value(later, "tcpinfo_archive_files_open")).toBeGreaterThanOrEqual(0);
  expect(value(later, "tcpinfo_last_poll_timestamp_seconds")).toBeGreaterThan(start);
  expect(value(later, "tcpinfo_send_rate_histogram_count")).toBeGreaterThanOrEqual(2);
  // One walk returns both families: its time is one observation, under af="all"; the
  // sockets are still counted per family.
  expect(value(later, 'tcpinfo_syscall_time_histogram_count{af="all"}')).toBe(value(later, "tcpinfo_poll_duration_seconds_count"));
  expect(value(later, 'tcpinfo_syscall_time_histogram_count{af="ipv4"}')).toBe(0);
  expect(value(later, 'tcpinfo_connection_count_histogram_count{af="ipv4"}')).toBe(value(later, "tcpinfo_poll_duration_seconds_count"));
  expect(value(later, "process_cpu_seconds_total")).toBeGreaterThan(0);
  for (const type of COLLECTOR_ERRORS) expect(value(later, `tcpinfo_error_total{type="${type}"}`)).toBe(0);

  const lint = promtool(later);
  const problems = lint.out.split("\n").filter((l) => l.trim() !== "");
  // Exit 3 is promtool's "lint problems"; each must be one of the legacy names.
  expect([0, 3]).toContain(lint.code);
  for (const p of problems) expect(LEGACY.some((name) => p.startsWith(`${name} `))).toBe(true);
  expect(problems.length).toBeLessThanOrEqual(LEGACY.length);

  expect(await stopCollector(c)).toBe(0);
}, 60_000);
