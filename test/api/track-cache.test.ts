// The analysis cache: concurrent requests for one connection share one read of its
// archives, a changed file (size or mtime) reads again, and a failed read is not kept.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrackBuilder, type Track } from "../../src/analysis/track.ts";
import { TrackCache } from "../../src/api/track-cache.ts";

const empty = (): Track => new TrackBuilder().build();

test("one read for concurrent requests; a changed file reads again; failures are not kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "track-cache-"));
  try {
    const file = join(dir, "a.jsonl.zst");
    writeFileSync(file, "x");
    const cache = new TrackCache();
    let reads = 0;
    const load = async (): Promise<Track> => {
      reads++;
      await Bun.sleep(5);
      return empty();
    };
    const key = (await cache.keyOf([file]))!;
    const [a, b] = await Promise.all([cache.getOrLoad("u", key, load), cache.getOrLoad("u", key, load)]);
    expect(reads).toBe(1);
    expect(a).toBe(b);
    expect(await cache.getOrLoad("u", key, load)).toBe(a);
    expect(reads).toBe(1);
    // The archive grew (an open connection): its key changes, the track is read again.
    writeFileSync(file, "xy");
    utimesSync(file, new Date(), new Date(Date.now() + 1000));
    const key2 = (await cache.keyOf([file]))!;
    expect(key2).not.toBe(key);
    await cache.getOrLoad("u", key2, load);
    expect(reads).toBe(2);
    // A failing read reaches every waiting caller and leaves nothing behind.
    const failing = () => Promise.reject(new Error("disk"));
    await expect(cache.getOrLoad("v", key2, failing)).rejects.toThrow("disk");
    await cache.getOrLoad("v", key2, load);
    expect(reads).toBe(3);
    expect(await cache.keyOf([join(dir, "gone")])).toBeNull();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
