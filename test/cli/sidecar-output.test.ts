// The real `sidecar` command when its output fails: a full disk is an error the operator
// hears of (exit 1, one stderr line); a pipe reader that went away (`sidecar | head`) is a
// normal end (exit 0). Either way it stops at once instead of reconnecting forever.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { EventSocketServer } from "../../src/api/eventsocket.ts";
import { opened, tempDir } from "../index-db/helpers.ts";
import { BUN, ROOT } from "../helpers/run-cli.ts";
import { mountTmpfs, unmountAll } from "../helpers/tmpfs.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  unmountAll();
});

async function serverIn(dir: string): Promise<EventSocketServer> {
  const server = await EventSocketServer.start(join(dir, "events.sock"));
  cleanups.push(() => server.stop());
  return server;
}

/** Sends open events, one per 20 ms, until the process ends; returns its exit code. */
async function feedUntilExit(server: EventSocketServer, proc: Bun.Subprocess): Promise<number> {
  const end = Date.now() + 10_000;
  while (server.clientCount === 0) {
    if (Date.now() > end || proc.exitCode !== null) throw new Error("the sidecar never connected");
    await Bun.sleep(10);
  }
  for (let i = 1; proc.exitCode === null; i++) {
    if (Date.now() > end) throw new Error("the sidecar kept running after its output failed");
    server.open({ ...opened(BigInt(i)), firstSeen: 1000 });
    await Bun.sleep(20);
  }
  return proc.exited;
}

test("sidecar writing to a full disk exits 1 and says why", async () => {
  const tmp = tempDir("tcpinfo-sidecar-out-");
  cleanups.push(() => tmp.cleanup());
  const server = await serverIn(tmp.dir);
  const disk = mountTmpfs(64 * 1024);
  disk.fill(0);
  const proc = Bun.spawn([BUN, join(ROOT, "src", "index.ts"), "sidecar", "--eventsocket", join(tmp.dir, "events.sock")], {
    stdout: Bun.file(join(disk.dir, "events.jsonl")),
    stderr: "pipe",
  });
  cleanups.push(() => proc.kill());
  expect(await feedUntilExit(server, proc)).toBe(1);
  const stderr = await new Response(proc.stderr).text();
  expect(stderr).toContain("sidecar: cannot write the events: ENOSPC");
  expect(stderr).not.toContain("reconnecting");
  expect(server.clientCount).toBe(0);
});

test("sidecar | head -1 ends quietly with status 0 once head is done", async () => {
  const tmp = tempDir("tcpinfo-sidecar-out-");
  cleanups.push(() => tmp.cleanup());
  const server = await serverIn(tmp.dir);
  const cmd = `set -o pipefail; "${BUN}" "${join(ROOT, "src", "index.ts")}" sidecar --eventsocket "${join(tmp.dir, "events.sock")}" | head -1`;
  const proc = Bun.spawn(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  cleanups.push(() => proc.kill());
  expect(await feedUntilExit(server, proc)).toBe(0);
  const first = JSON.parse((await new Response(proc.stdout).text()).trim());
  expect(first.Event).toBe(0);
  expect(await new Response(proc.stderr).text()).not.toMatch(/cannot write|reconnecting/);
});
