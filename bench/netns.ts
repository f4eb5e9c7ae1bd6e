/**
 * Test-bed helpers for the benchmarks: two network namespaces joined by a
 * veth pair, so that load can be generated between them without touching the
 * host's real interfaces and while keeping the collector's view (it runs in
 * one of the namespaces) limited to the benchmark's own sockets.
 *
 *   nsA  veth0 198.18.0.1/24  2001:db8::1/64    (client side, collector side)
 *   nsB  veth0 198.18.0.2/24  2001:db8::2/64    (server side)
 *
 * 198.18.0.0/15 (RFC 2544) and 2001:db8::/32 (RFC 3849) are reserved for
 * benchmarking / documentation, so nothing here can ever route to a real host.
 *
 * Everything created is recorded and removed by `destroy()`, and also by
 * exit / SIGINT / SIGTERM handlers, so an interrupted run leaves nothing
 * behind. Namespaces are named `<prefix>-<pid>[-<n>]-a|b`; a later run removes
 * leftovers whose owning pid is gone (e.g. after SIGKILL).
 *
 * No dependencies beyond Bun and iproute2's `ip`.
 */
import type { Subprocess } from "bun";
import { logMessage } from "../src/daemon/logger.ts";
import { existsSync, mkdirSync, renameSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";

/** Output modes accepted for a subprocess's stdout/stderr. */
export type StdioMode = "pipe" | "inherit" | "ignore";

export interface ExecOptions<Out extends StdioMode, Err extends StdioMode> {
  stdout?: Out;
  stderr?: Err;
  /** Extra environment; the parent's environment is inherited. */
  env?: Record<string, string>;
}

export interface Testbed {
  /** Namespace names (for `ip netns exec`). */
  readonly nsA: string;
  readonly nsB: string;
  readonly addrA: string;
  readonly addrB: string;
  readonly addr6A: string;
  readonly addr6B: string;
  /** Sysctls that could not be set (the test bed still works, with lower limits). */
  readonly warnings: readonly string[];
  /**
   * Run `argv` inside namespace `ns` (which must be `nsA` or `nsB`). The
   * process is tracked and killed by `destroy()`. stdout defaults to "pipe",
   * stderr to "inherit".
   */
  exec<Out extends StdioMode = "pipe", Err extends StdioMode = "inherit">(
    ns: string,
    argv: readonly string[],
    opts?: ExecOptions<Out, Err>,
  ): Subprocess<"ignore", Out, Err>;
  /** Kill tracked processes, delete both namespaces (the veth pair goes with them). Idempotent. */
  destroy(): Promise<void>;
}

export interface TestbedOptions {
  /** Namespace name prefix; default "tib". Letters, digits, '_' and '-' only. */
  prefix?: string;
}

const IPV4_A = "198.18.0.1";
const IPV4_B = "198.18.0.2";
const IPV6_A = "2001:db8::1";
const IPV6_B = "2001:db8::2";
const VETH = "veth0"; // same name in both namespaces: each has its own device table

/**
 * Namespaced sysctls raised in both namespaces so that 50k connections and
 * fast churn fit: a wide ephemeral port range, deep accept/SYN queues (so
 * bursts queue rather than drop and wait out a 1 s SYN retransmit), and
 * TIME_WAIT reuse for churn. Only per-netns knobs: the host is untouched.
 */
const NS_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["net/ipv4/ip_local_port_range", "1024 65535"],
  ["net/core/somaxconn", "65535"],
  ["net/ipv4/tcp_max_syn_backlog", "65535"],
  ["net/ipv4/tcp_tw_reuse", "1"],
  ["net/ipv4/tcp_max_tw_buckets", "262144"],
];

/** Result of a finished helper command. */
interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: readonly string[]): Promise<RunResult> {
  const proc = Bun.spawn([...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

async function runOrThrow(argv: readonly string[]): Promise<string> {
  const r = await run(argv);
  if (r.code !== 0) {
    throw new Error(`\`${argv.join(" ")}\` failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

function runSync(argv: readonly string[]): RunResult {
  const r = Bun.spawnSync([...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Names of all existing named network namespaces. */
export function listNamespaces(): string[] {
  const r = runSync(["ip", "netns", "list"]);
  if (r.code !== 0) return [];
  // Lines look like "name" or "name (id: 3)".
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.length > 0);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means it exists but is someone else's: still alive.
    return e instanceof Error && "code" in e && (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Kill every process still inside `ns`, then delete it. Synchronous so exit handlers can use it. */
function deleteNamespaceSync(ns: string): void {
  const pids = runSync(["ip", "netns", "pids", ns]);
  if (pids.code === 0) {
    for (const tok of pids.stdout.split(/\s+/)) {
      const pid = Number.parseInt(tok, 10);
      if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }
  runSync(["ip", "netns", "del", ns]);
}

/**
 * Remove namespaces left by earlier runs of this prefix whose owning process
 * no longer exists (the pid is part of the name). Live runs are left alone.
 */
export function cleanupStale(prefix = "tib"): string[] {
  const re = new RegExp(`^${escapeRegExp(prefix)}-(\\d+)(?:-\\d+)?-[ab]$`);
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = re.exec(ns);
    if (!m || m[1] === undefined) continue;
    const pid = Number.parseInt(m[1], 10);
    if (pid === process.pid || pidAlive(pid)) continue;
    deleteNamespaceSync(ns);
    removed.push(ns);
  }
  return removed;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---------------------------------------------------------------------------
// Global registry + signal/exit cleanup

class TestbedImpl implements Testbed {
  readonly addrA = IPV4_A;
  readonly addrB = IPV4_B;
  readonly addr6A = IPV6_A;
  readonly addr6B = IPV6_B;
  readonly warnings: string[] = [];
  /** Namespaces actually created so far (a partial setup is cleaned up too). */
  readonly created: string[] = [];
  private readonly procs = new Set<Subprocess<"ignore", StdioMode, StdioMode>>();
  private destroyed = false;

  constructor(
    readonly nsA: string,
    readonly nsB: string,
  ) {}

  exec<Out extends StdioMode = "pipe", Err extends StdioMode = "inherit">(
    ns: string,
    argv: readonly string[],
    opts?: ExecOptions<Out, Err>,
  ): Subprocess<"ignore", Out, Err> {
    if (this.destroyed) throw new Error("testbed already destroyed");
    // Refuse anything but our own namespaces: exec must never reach into
    // namespaces this run did not create.
    if (ns !== this.nsA && ns !== this.nsB) throw new Error(`not a namespace of this testbed: ${ns}`);
    if (argv.length === 0) throw new Error("exec: empty argv");
    const proc = Bun.spawn(["ip", "netns", "exec", ns, ...argv], {
      stdin: "ignore",
      stdout: (opts?.stdout ?? "pipe") as Out,
      stderr: (opts?.stderr ?? "inherit") as Err,
      env: opts?.env ? { ...process.env, ...opts.env } : { ...process.env },
    });
    // `ip netns exec` execs the command in place, so proc.pid is the command itself.
    const tracked = proc as unknown as Subprocess<"ignore", StdioMode, StdioMode>;
    this.procs.add(tracked);
    void proc.exited.then(() => this.procs.delete(tracked));
    return proc;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    // Polite first: SIGTERM lets load generators print their summaries.
    const alive = [...this.procs].filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of alive) p.kill("SIGTERM");
    // A cleared timer, not Bun.sleep: a pending sleep would keep the process alive.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(alive.map((p) => p.exited)), new Promise<void>((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    this.destroySync();
  }

  /** Forceful, synchronous teardown (for exit and signal handlers). */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    }
    this.procs.clear();
    for (const ns of this.created) deleteNamespaceSync(ns);
    live.delete(this);
  }
}

const live = new Set<TestbedImpl>();
let handlersInstalled = false;
let counter = 0;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanupAll = (): void => {
    for (const tb of [...live]) tb.destroySync();
  };
  process.on("exit", cleanupAll);
  for (const [sig, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.on(sig, () => {
      cleanupAll();
      process.exit(code);
    });
  }
}

/**
 * Create the two-namespace test bed. Throws an Error explaining why if
 * namespaces cannot be made (not root, no `ip`, kernel/container refuses),
 * so a driver can fall back to loopback.
 */
export async function createTestbed(opts?: TestbedOptions): Promise<Testbed> {
  const prefix = opts?.prefix ?? "tib";
  if (!/^[A-Za-z0-9_-]{1,20}$/.test(prefix)) throw new Error(`invalid namespace prefix: ${prefix}`);
  if (process.platform !== "linux") throw new Error(`network namespaces need Linux (platform ${process.platform})`);
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) throw new Error(`network namespaces need root (running as uid ${uid})`);
  if (Bun.which("ip") === null) throw new Error("`ip` (iproute2) not found in PATH");

  installHandlers();
  cleanupStale(prefix);

  const n = counter++;
  const base = `${prefix}-${process.pid}${n > 0 ? `-${n}` : ""}`;
  const tb = new TestbedImpl(`${base}-a`, `${base}-b`);
  live.add(tb);
  try {
    for (const ns of [tb.nsA, tb.nsB]) {
      await runOrThrow(["ip", "netns", "add", ns]);
      tb.created.push(ns);
    }
    // Create both ends directly inside the namespaces, so no interface ever
    // appears in the host namespace (no name clashes, nothing to leak).
    await runOrThrow(["ip", "link", "add", VETH, "netns", tb.nsA, "type", "veth", "peer", "name", VETH, "netns", tb.nsB]);
    const sides: ReadonlyArray<readonly [string, string, string]> = [
      [tb.nsA, IPV4_A, IPV6_A],
      [tb.nsB, IPV4_B, IPV6_B],
    ];
    for (const [ns, v4, v6] of sides) {
      await runOrThrow(["ip", "-n", ns, "link", "set", "lo", "up"]);
      await runOrThrow(["ip", "-n", ns, "addr", "add", `${v4}/24`, "dev", VETH]);
      // nodad: usable at once instead of after ~1-2 s of duplicate detection.
      await runOrThrow(["ip", "-n", ns, "addr", "add", `${v6}/64`, "dev", VETH, "nodad"]);
      await runOrThrow(["ip", "-n", ns, "link", "set", VETH, "up"]);
      await setSysctls(tb, ns);
    }
  } catch (e) {
    tb.destroySync();
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`cannot create network namespace test bed: ${why}`);
  }
  return tb;
}

/**
 * Write the namespaced sysctls from inside `ns` (/proc/sys/net reflects the
 * namespace of the process that opens it, so this must run under
 * `ip netns exec`). One shell per namespace writes them all; failures are
 * reported as warnings, not errors.
 */
async function setSysctls(tb: TestbedImpl, ns: string): Promise<void> {
  const script =
    'while [ $# -gt 1 ]; do printf "%s\\n" "$2" > "/proc/sys/$1" 2>/dev/null || echo "$1"; shift 2; done';
  const args = NS_SYSCTLS.flatMap(([k, v]) => [k, v]);
  const r = await run(["ip", "netns", "exec", ns, "sh", "-c", script, "sh", ...args]);
  if (r.code !== 0) {
    tb.warnings.push(`${ns}: sysctl setup failed: ${r.stderr.trim()}`);
    return;
  }
  for (const failed of r.stdout.split("\n").filter((l) => l.length > 0)) {
    tb.warnings.push(`${ns}: could not set ${failed.replaceAll("/", ".")}`);
  }
}

// ---------------------------------------------------------------------------
// Building the C helpers

export interface BenchBinaries {
  floor: string;
  load: string;
}

/** Directory of this file (bench/). */
export const BENCH_DIR: string = import.meta.dir;
export const BUILD_DIR: string = join(BENCH_DIR, "build");

/**
 * Compile floor.c and load.c into bench/build/ when the binary is missing or
 * older than its source. Builds go to a temporary name and are renamed into
 * place, so a concurrent run never executes a half-written binary.
 */
export async function ensureBuilt(): Promise<BenchBinaries> {
  if (Bun.which("cc") === null) throw new Error("`cc` not found in PATH; cannot build bench helpers");
  mkdirSync(BUILD_DIR, { recursive: true });
  const out: Record<keyof BenchBinaries, string> = { floor: "", load: "" };
  for (const name of ["floor", "load"] as const) {
    const src = join(BENCH_DIR, `${name}.c`);
    const bin = join(BUILD_DIR, name);
    out[name] = bin;
    if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) continue;
    const tmp = `${bin}.tmp-${process.pid}`;
    try {
      await runOrThrow(["cc", "-O2", "-Wall", "-Wextra", "-o", tmp, src]);
      renameSync(tmp, bin);
    } finally {
      if (existsSync(tmp)) unlinkSync(tmp);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reading line-oriented output of the C helpers

/**
 * Collects a subprocess's stdout as lines and lets a driver wait for a line
 * matching a pattern (e.g. /^READY (\d+)/) with a timeout. It keeps draining
 * the pipe, so a chatty child never blocks on a full pipe.
 */
export class LineReader {
  readonly lines: string[] = [];
  private cursor = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.pump(stream);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    try {
      for await (const chunk of stream) {
        partial += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = partial.indexOf("\n")) >= 0) {
          // The collector's log records, as their messages (either --log-format).
          this.lines.push(logMessage(partial.slice(0, nl)));
          partial = partial.slice(nl + 1);
        }
        this.notify();
      }
    } finally {
      partial += decoder.decode();
      if (partial.length > 0) this.lines.push(partial);
      this.ended = true;
      this.notify();
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /**
   * Resolve with the first not-yet-consumed line matching `re` (lines before
   * it are skipped). Rejects if the stream ends or `timeoutMs` passes first.
   */
  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.lines.length) {
        const line = this.lines[this.cursor++] ?? "";
        const m = re.exec(line);
        if (m) return m;
      }
      if (this.ended) throw new Error(`stream ended before a line matching ${re}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** The last line that parses as a JSON object (the helpers' summary line), or null. */
  lastJson(): Record<string, unknown> | null {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const line = (this.lines[i] ?? "").trim();
      if (!line.startsWith("{")) continue;
      try {
        const v: unknown = JSON.parse(line);
        if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch {
        // not JSON; keep looking
      }
    }
    return null;
  }
}
