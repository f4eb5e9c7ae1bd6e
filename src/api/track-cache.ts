// The tracks of the last connections analysed, kept while their files are unchanged: a
// connection's page asks for its summary and then its series, and people reload it. A
// closed connection's archives never change; an open one's grow, so the key is every
// file's path, size and modification time. Bounded in bytes (a 100,000-snapshot track
// is ~17 MB of columns). A track dropped from the cache gives its memory to `pool`, for
// the next track read: tracks are only used synchronously (withTrack), so once dropped
// nobody holds it.
import { stat } from "node:fs/promises";
import { BlockPool, type Track } from "../analysis/track.ts";

const MAX_BYTES = 64 * 1024 * 1024;
const POOL_BYTES = 32 * 1024 * 1024;

function trackBytes(t: Track): number {
  return t.block.byteLength;
}

export class TrackCache {
  private readonly entries = new Map<string, { key: string; track: Track; bytes: number }>();
  private bytes = 0;
  /** Reads under way, so a page's summary and series requests share one. */
  private readonly loading = new Map<string, Promise<Track>>();
  /** Memory of dropped tracks, reused by the next ones. */
  readonly pool = new BlockPool(POOL_BYTES);

  /** The cached track of `uuid` for files `key`, else `load()`'s, shared with concurrent callers. */
  async getOrLoad(uuid: string, key: string, load: () => Promise<Track>): Promise<Track> {
    const hit = this.get(uuid, key);
    if (hit !== undefined) return hit;
    const id = `${uuid}\n${key}`;
    const pending = this.loading.get(id);
    if (pending !== undefined) return pending;
    const p = load().then((t) => {
      this.set(uuid, key, t);
      return t;
    });
    this.loading.set(id, p);
    try {
      return await p;
    } finally {
      this.loading.delete(id);
    }
  }

  /** The files' identity now (path, size, mtime), or null if one cannot be read. */
  async keyOf(paths: readonly string[]): Promise<string | null> {
    try {
      const stats = await Promise.all(paths.map((p) => stat(p)));
      return stats.map((s, i) => `${paths[i]}:${s.size}:${s.mtimeMs}`).join("|");
    } catch {
      return null;
    }
  }

  get(uuid: string, key: string): Track | undefined {
    const e = this.entries.get(uuid);
    if (e === undefined || e.key !== key) return undefined;
    // Most recently used last.
    this.entries.delete(uuid);
    this.entries.set(uuid, e);
    return e.track;
  }

  set(uuid: string, key: string, track: Track): void {
    const bytes = trackBytes(track);
    if (bytes > MAX_BYTES) return;
    const old = this.entries.get(uuid);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.entries.delete(uuid);
      this.pool.give(old.track.block);
    }
    while (this.bytes + bytes > MAX_BYTES && this.entries.size > 0) {
      const [oldest, e] = this.entries.entries().next().value as [string, { bytes: number; track: Track }];
      this.entries.delete(oldest);
      this.bytes -= e.bytes;
      this.pool.give(e.track.block);
    }
    this.entries.set(uuid, { key, track, bytes });
    this.bytes += bytes;
  }
}
