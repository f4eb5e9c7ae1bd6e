// What is known to fail is said before anything is made: a --listen address in use stops
// the collector before it creates its output folder or its index.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCliSync } from "../helpers/run-cli.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a port in use fails the start (exit 1) before the output folder and index exist", async () => {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const parent = mkdtempSync(join(tmpdir(), "startup-"));
  dirs.push(parent);
  const out = join(parent, "archives");
  try {
    const r = runCliSync(["collector", "--output", out, "--listen", `127.0.0.1:${port}`, "--reps", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: address in use`);
    expect(existsSync(out)).toBe(false);
  } finally {
    server.close();
  }
  // The same port once free: the collector starts and makes its folder.
  const ok = runCliSync(["collector", "--output", out, "--listen", `127.0.0.1:${port}`, "--reps", "1"]);
  expect(ok.code).toBe(0);
  expect(existsSync(join(out, "index.sqlite"))).toBe(true);
});
