// GET /connections/:uuid/summary and /connections/:uuid/series: a connection's archives
// read whole into columns (src/analysis/track.ts) and analysed. Errors are thrown as the
// rest of the API throws them, so they become the same 4xx JSON.
import { summarize, type Summary } from "../analysis/summary.ts";
import { seriesOf } from "../analysis/series.ts";
import { TRACK_ATTRS, TRACK_PARTS, TrackBuilder, type Track } from "../analysis/track.ts";
import { readTrackLines } from "../archive/track-reader.ts";
import { TrackCache } from "./track-cache.ts";
import type { ConnectionWithFiles, NetnsIdentity } from "../index-db/index.ts";
import { netnsView } from "./views.ts";
import { resolve } from "node:path";
import { ParameterError, rejectParameters } from "./filter-params.ts";
import { existingFiles, HttpError, insideOutput, isNotFound, uuidParam, type ApiDependencies } from "./routes.ts";

export type AnalysisRouteLabel = "/connections/:uuid/summary" | "/connections/:uuid/series";

export interface AnalysisRoute {
  label: AnalysisRouteLabel;
  param: string;
  handle: (url: URL, param: string) => Promise<Response>;
}

export const DEFAULT_POINTS = 1000;
export const MAX_POINTS = 10_000;

const PATH = /^\/connections\/([^/]+)\/(summary|series)$/;

/** Summaries and series hold plain numbers (no 64-bit counters): JSON.stringify, without stringifyExact's replacer, which cost more than the series itself. */
function json(body: Summary | object, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json", ...headers } });
}

/** Where a connection's track is read from: the index and the output folder. */
export interface TrackSource {
  index: Pick<ApiDependencies["index"], "getConnection">;
  outputDir: string;
}

/**
 * Calls `use` with the connection, its snapshots as a track and how many of its files are
 * gone; HttpError 404 when unknown, 410 when every archive is gone. Files removed while
 * reading are skipped, as /snapshots does. `use` runs synchronously and must not keep the
 * track: its memory goes back to a pool for the next one.
 */
export async function withTrack<R>(src: TrackSource, uuid: string, use: (c: ConnectionWithFiles, track: Track, missing: number) => R): Promise<R> {
  const c = src.index.getConnection(uuid);
  if (!c) throw new HttpError(404, "no such connection");
  const paths = c.files.map((f) => insideOutput(resolve(src.outputDir), f.path));
  const present = await existingFiles(paths);
  const missing = paths.length - present.length;
  if (paths.length > 0 && present.length === 0) {
    throw new HttpError(410, `all ${paths.length} archive file(s) of this connection were removed from disk`, undefined, { "x-missing-files": String(missing) });
  }
  const read = async (): Promise<Track> => {
    const b = new TrackBuilder(Math.max(16, c.snapshots), cache.pool);
    for (const p of present) {
      try {
        // Only the attributes the analysis reads, straight into columns (no decoded objects).
        await readTrackLines([p], TRACK_ATTRS, (line) => b.addLine(line), TRACK_PARTS);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return b.build();
  };
  const key = await cache.keyOf(present);
  if (key !== null) return use(c, await cache.getOrLoad(c.uuid, key, read), missing);
  // Files that cannot be stated cannot be keyed: read, use, and give the memory back.
  const track = await read();
  try {
    return use(c, track, missing);
  } finally {
    cache.pool.give(track.block);
  }
}

const cache = new TrackCache();

export type ConnectionSummary = Summary & { netns?: NetnsIdentity };

/**
 * The summary of the snapshots with what only the index knows: the namespace the
 * connection lived in (after uuid; left out when unknown). `report --json` prints this too.
 */
export function connectionSummary(c: ConnectionWithFiles, track: Track): ConnectionSummary {
  const { uuid, ...rest } = summarize(track, { uuid: c.uuid, endReason: c.endReason });
  return c.netns === undefined ? { uuid, ...rest } : { uuid, netns: netnsView(c.netns), ...rest };
}

/** `points`, the only parameter /series takes: an integer 2..10000, default 1000. */
export function parsePoints(params: URLSearchParams): number {
  let points = DEFAULT_POINTS;
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (name !== "points") throw new ParameterError(name, "unknown parameter (known: points)");
    if (seen.has(name)) throw new ParameterError(name, "points given more than once");
    seen.add(name);
    if (!/^\d+$/.test(value)) throw new ParameterError("points", "points must be an integer from 2 to 10000");
    points = Number(value);
    if (points < 2 || points > MAX_POINTS) throw new ParameterError("points", "points must be an integer from 2 to 10000");
  }
  return points;
}

/** The analysis route for `path`, or null when it is not one. */
export function analysisRoute(path: string, deps: ApiDependencies): AnalysisRoute | null {
  const m = PATH.exec(path);
  if (!m) return null;
  if (m[2] === "summary") {
    return {
      label: "/connections/:uuid/summary",
      param: m[1],
      async handle(url, raw) {
        rejectParameters(url.searchParams);
        return withTrack(deps, uuidParam(raw), (c, track, missing) => json(connectionSummary(c, track), { "x-missing-files": String(missing) }));
      },
    };
  }
  return {
    label: "/connections/:uuid/series",
    param: m[1],
    async handle(url, raw) {
      const points = parsePoints(url.searchParams);
      return withTrack(deps, uuidParam(raw), (c, track, missing) => {
        const r = seriesOf(track, points);
        return json({ uuid: c.uuid, total: r.total, points: r.points, t: r.t, series: r.series }, { "x-missing-files": String(missing) });
      });
    },
  };
}
