// Log records: logfmt text or JSON, each with an RFC 3339 time and a level; a `name:
// k=v…` message (the status line) carries its pairs as fields; readers get the message
// back from either format. Then the real collector's stderr, in both formats.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, formatLogLine, logMessage } from "../../src/daemon/logger.ts";
import { runCliSync } from "../helpers/run-cli.ts";

const T = new Date("2026-12-01T04:50:00.123Z");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("text is logfmt: time, level, msg quoted only when it must be, pairs as fields", () => {
  expect(formatLogLine("text", "info", "collector: writing to /data", T)).toBe('time=2026-12-01T04:50:00.123Z level=info msg="collector: writing to /data"');
  expect(formatLogLine("text", "warn", "status: cycles=3 cycle_ms=1.0/2.0/3.0", T)).toBe("time=2026-12-01T04:50:00.123Z level=warn msg=status cycles=3 cycle_ms=1.0/2.0/3.0");
  expect(formatLogLine("text", "error", 'said "no"\tthen', T)).toBe('time=2026-12-01T04:50:00.123Z level=error msg="said \\"no\\"\\tthen"');
});

test("json has the same record, numbers as numbers", () => {
  const o = JSON.parse(formatLogLine("json", "info", "first poll: sockets=12 tracked=3 cycle_ms=1.25 period_ms=10.0/11.0/12.0", T));
  expect(o).toEqual({ time: "2026-12-01T04:50:00.123Z", level: "info", msg: "first poll", sockets: 12, tracked: 3, cycle_ms: 1.25, period_ms: "10.0/11.0/12.0" });
  // A message that is not all pairs stays one message.
  expect(JSON.parse(formatLogLine("json", "info", "restart: resumed 3 connections", T)).msg).toBe("restart: resumed 3 connections");
});

test("a reader gets the message back from either format, and non-records as they are", () => {
  for (const m of ["status: cycles=3 sockets=1 errors=0", "collector: stopped; no line lost", 'quote " inside', "x=1 looks like a pair"]) {
    expect(logMessage(formatLogLine("text", "info", m, T))).toBe(m);
    expect(logMessage(formatLogLine("json", "info", m, T))).toBe(m);
  }
  expect(logMessage("error: --interval must be a number")).toBe("error: --interval must be a number");
  const lines: string[] = [];
  createLogger("text", (l) => lines.push(l))("one\ntwo", "warn");
  expect(lines.map(logMessage)).toEqual(["one", "two"]);
  expect(lines.every((l) => l.includes(" level=warn "))).toBe(true);
});

function run(format: string | null, ...extra: string[]): string[] {
  const out = mkdtempSync(join(tmpdir(), "logs-"));
  dirs.push(out);
  const args = ["collector", "--output", out, "--reps", "3", "--listen", "off", "--status-seconds", "0", ...(format ? ["--log-format", format] : []), ...extra];
  const r = runCliSync(args);
  expect(r.code).toBe(0);
  return r.stderrRaw.split("\n").filter((l) => l !== "");
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test("the collector's every stderr line is a record; after the first poll it says what it sees and leaves out", () => {
  const text = run(null);
  for (const l of text) expect(l).toMatch(/^time=\S+ level=(info|warn|error) msg=/);
  for (const l of text) expect(l.slice(5, l.indexOf(" "))).toMatch(RFC3339);
  const messages = text.map(logMessage);
  const start = messages.findIndex((m) => m.startsWith("collector: writing"));
  const first = messages.findIndex((m) => m.startsWith("first poll: "));
  expect(start).toBeGreaterThanOrEqual(0);
  expect(first).toBeGreaterThan(start);
  expect(messages[first]).toMatch(/^first poll: sockets=\d+ tracked=\d+ excluded_local=\d+ excluded_by_flags=\d+ cycle_ms=[\d.]+$/);
  expect(messages).toContain("dump: IPv4 and IPv6 sockets in one walk of the kernel's tables (TCPDIAG_GETSOCK)");

  const json = run("json");
  for (const l of json) {
    const o = JSON.parse(l);
    expect(o.time).toMatch(RFC3339);
    expect(["info", "warn", "error"]).toContain(o.level);
    expect(typeof o.msg).toBe("string");
  }
  const status = json.map((l) => JSON.parse(l)).find((o) => o.msg === "status");
  expect(typeof status.cycles).toBe("number");
  expect(json.map((l) => JSON.parse(l).msg)).toContain("first poll");
});

test("--per-family-dumps makes one walk per family, and the log says so", () => {
  const messages = run(null, "--per-family-dumps").map(logMessage);
  expect(messages).toContain("dump: one walk of the kernel's tables per family (SOCK_DIAG_BY_FAMILY)");
  expect(messages.some((m) => m.includes("TCPDIAG_GETSOCK"))).toBe(false);
});

test("a bad --log-format is a usage error", () => {
  const r = runCliSync(["collector", "--output", "/nonexistent/never", "--log-format", "xml"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("--log-format must be one of text, json");
});

test("without CAP_NET_ADMIN the collector warns, at start, which field it cannot archive", () => {
  // As an unprivileged user (setpriv drops every capability with the uid change).
  const out = mkdtempSync(join(tmpdir(), "logs-nopriv-"));
  dirs.push(out);
  chmodSync(out, 0o777);
  const p = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, join(import.meta.dir, "../../src/index.ts"), "collector", "--output", join(out, "o"), "--reps", "2", "--listen", "off"], { stdout: "pipe", stderr: "pipe" });
  expect(p.exitCode).toBe(0);
  const lines = p.stderr.toString().split("\n").filter((l) => l !== "");
  const warning = lines.find((l) => l.includes("CAP_NET_ADMIN"));
  expect(warning).toMatch(/level=warn msg="warning: running without CAP_NET_ADMIN: INET_DIAG_MARK/);
  // As root (these tests run as root): no such warning.
  expect(run(null).some((l) => l.includes("CAP_NET_ADMIN"))).toBe(false);
});
