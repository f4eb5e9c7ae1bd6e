// The workers run as SCHED_BATCH, the poll thread as a normal thread: read back from the
// kernel's view of the real collector's threads (/proc/PID/task/TID/stat, field 41).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCollector, stopCollector, waitCycles, type CollectorProc } from "../helpers/collector-proc.ts";

const SCHED_OTHER = 0;
const SCHED_BATCH = 3;

let dir: string;
let c: CollectorProc | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-sched-"));
});
afterEach(async () => {
  if (c !== null) await stopCollector(c);
  c = null;
  rmSync(dir, { recursive: true, force: true });
});

/** Each thread of `pid`: its name and scheduling policy. */
function threads(pid: number): { tid: number; name: string; policy: number }[] {
  return readdirSync(`/proc/${pid}/task`).map((t) => {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { tid: Number(t), name: readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim(), policy: Number(fields[41 - 3]) };
  });
}

test("the storage and API workers are SCHED_BATCH; the poll thread is not", async () => {
  c = await startCollector(join(dir, "out"));
  await waitCycles(c.api, 3);
  const pid = c.run.proc.pid;
  const all = threads(pid);
  expect(all.find((t) => t.tid === pid)?.policy).toBe(SCHED_OTHER);
  const workers = all.filter((t) => t.name === "Worker");
  expect(workers.map((t) => t.policy)).toEqual([SCHED_BATCH, SCHED_BATCH]);
  expect(c.run.stderrLines.join("\n")).not.toContain("SCHED_BATCH");
});
