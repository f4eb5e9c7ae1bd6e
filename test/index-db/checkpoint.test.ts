import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { opened, report, indexPathPerTest } from "./helpers.ts";

const tmpIndex = indexPathPerTest();

const size = (p: string) => statSync(p).size;
const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => opened(BigInt(from + i), { firstSeen: from + i }));

test("the background worker checkpoints the WAL into the database file; the writer does not", async () => {
  const idx = ConnectionIndex.open(tmpIndex.path);
  await idx.startBackgroundCheckpoints(20);
  const before = size(tmpIndex.path);
  // About 1,000 WAL pages: under the writer's fallback threshold, so only the worker
  // can be the one moving them into the main file.
  idx.applyCycle(report({ opened: many(1, 5000) }));
  const end = Date.now() + 5000;
  while (size(tmpIndex.path) <= before + 100_000 && Date.now() < end) await Bun.sleep(20);
  expect(size(tmpIndex.path)).toBeGreaterThan(before + 100_000);
  await idx.close();

  const again = ConnectionIndex.open(tmpIndex.path, { readonly: true });
  expect(again.queryConnections({ limit: 1000 }).connections.length).toBe(1000);
  await again.close();
});

test("without the worker and under the automatic threshold, the main file does not grow", async () => {
  const idx = ConnectionIndex.open(tmpIndex.path);
  const before = size(tmpIndex.path);
  idx.applyCycle(report({ opened: many(1, 100) }));
  await Bun.sleep(200);
  expect(size(tmpIndex.path)).toBe(before);
  await idx.close();
});

test("a read-only index cannot start the worker", async () => {
  await ConnectionIndex.open(tmpIndex.path).close();
  const ro = ConnectionIndex.open(tmpIndex.path, { readonly: true });
  await expect(ro.startBackgroundCheckpoints()).rejects.toThrow(/read-only/);
  await ro.close();
});
