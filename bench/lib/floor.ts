// The C floor (bench/floor.c): its output, and running it from inside a namespace.
// Workers already run inside nsA, so they start the floor as a plain child: it inherits
// the namespace, and a worker can interleave floor runs with its own measurements.

export interface FloorResult {
  reps: number;
  states: number;
  sockets: number;
  bytes: number;
  /** Wall time of each cycle (every family's dump), ns. */
  cycleNs: number[];
  /** CPU time of the whole floor process (user + system), ns. */
  cpuNs: number;
}

export interface FloorArgs {
  reps: number;
  /** TCP state mask, as the code under test asks for. */
  states: number;
  /**
   * all (default): one walk for every family, the collector's default request; both: one
   * SOCK_DIAG_BY_FAMILY walk per family (M-Lab's, and `--per-family-dumps`).
   */
  family?: "all" | "both" | "4" | "6";
  /** Fixed-rate start-to-start period (the collector loop's schedule); 0 = back to back. */
  periodMs?: number;
  /** Network namespaces to dump each cycle (paths); default: the floor's own only. */
  netns?: readonly string[];
}

export function floorArgv(bin: string, a: FloorArgs): string[] {
  const argv = [bin, "--family", a.family ?? "all", "--reps", String(a.reps), "--states", hex(a.states)];
  if (a.periodMs !== undefined && a.periodMs > 0) argv.push("--period-ms", String(a.periodMs));
  for (const p of a.netns ?? []) argv.push("--netns", p);
  return argv;
}

export function hex(mask: number): string {
  return `0x${(mask >>> 0).toString(16)}`;
}

export function parseFloor(stdout: string): FloorResult {
  const line = stdout.trim().split("\n").pop() ?? "";
  const v: unknown = JSON.parse(line);
  if (!isFloorResult(v)) throw new Error(`unexpected floor output: ${line.slice(0, 200)}`);
  return v;
}

function isFloorResult(v: unknown): v is FloorResult {
  if (v === null || typeof v !== "object") return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.reps === "number" &&
    typeof o.sockets === "number" &&
    typeof o.bytes === "number" &&
    typeof o.cpuNs === "number" &&
    Array.isArray(o.cycleNs) &&
    o.cycleNs.every((x) => typeof x === "number")
  );
}

/** Runs the floor as a child of this process (so in this process's namespace). */
export function runFloorHere(bin: string, a: FloorArgs): FloorResult {
  const r = Bun.spawnSync(floorArgv(bin, a), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`floor failed (exit ${r.exitCode}): ${r.stderr.toString().trim()}`);
  return parseFloor(r.stdout.toString());
}
