// Request handling for the HTTP API, independent of the server that runs it.
// Failures caused by the request become 4xx with a JSON body; only a fault of ours
// becomes 500 (logged).
import { createHash, timingSafeEqual } from "node:crypto";
import { pageResponse } from "./page-routes.ts";
import { analysisRoute, type AnalysisRouteLabel } from "./analysis-routes.ts";
import { stat } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import type { Snapshot } from "../diag/snapshot.ts";
import { FilterError, type ConnectionSource } from "../index-db/index.ts";
import { stringifyExact, stringifyMostlyPlain } from "../util/json.ts";
import { parseFilter, ParameterError, rejectParameters } from "./filter-params.ts";
import { healthReport, type CollectorStatus } from "./status.ts";
import { connectionDetailView, connectionView } from "./views.ts";

export type ReadSnapshots = (absoluteFilePaths: string[]) => AsyncIterable<Snapshot>;

export interface ApiDependencies {
  index: ConnectionSource;
  /** The collector's output folder: the index's file paths are relative to it. */
  outputDir: string;
  readSnapshots: ReadSnapshots;
  metrics: ApiMetrics;
  status: CollectorStatus;
  /** The bearer token every route but /healthz requires; absent or null: none. */
  apiToken?: string | null;
  /** /healthz turns 503 "stale" when no poll completed for this long. Default 60 s. */
  staleAfterMs?: number;
  /** Where internal errors are reported. Default console.error. */
  logError?: (message: string, error: unknown) => void;
  /** Clock, for tests. */
  now?: () => number;
}

/** What the API needs of the metrics: the exposition text, and a request counter (CollectorMetrics has both). */
export interface ApiMetrics {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
  readonly apiRequests: { inc(labels: { route: string; status: string }): void };
}

/** Route labels for the request metric: fixed strings, never the raw path. */
export type RouteLabel = "/connections" | "/connections/:uuid" | "/connections/:uuid/snapshots" | "/metrics" | "/healthz" | "page" | AnalysisRouteLabel | "unmatched";

interface Route {
  label: RouteLabel;
  handle: (url: URL, param: string, req: Request) => Response | Promise<Response>;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly parameter?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(stringifyMostlyPlain(body), { status, headers: { "content-type": "application/json", ...headers } });
}

function errorResponse(e: HttpError, headers: Record<string, string> = {}): Response {
  return json(e.parameter === undefined ? { error: e.message } : { error: e.message, parameter: e.parameter }, e.status, headers);
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text).digest();

/**
 * Throws a 401 unless the request carries `Authorization: Bearer <token>`. Digests are
 * compared, not the strings: timingSafeEqual needs equal lengths, and comparing them
 * first would tell the token's length; hashing the guess costs time that depends only
 * on the guess.
 */
export function bearerCheck(token: string): (req: Request) => void {
  if (token === "") throw new Error("an empty API token would let anyone in");
  const expected = sha256(token);
  return (req) => {
    const m = /^Bearer +(\S+) *$/i.exec(req.headers.get("authorization") ?? "");
    if (!m) throw new HttpError(401, "this API requires an Authorization: Bearer header", undefined, { "www-authenticate": "Bearer" });
    if (!timingSafeEqual(sha256(m[1]), expected)) {
      throw new HttpError(401, "invalid bearer token", undefined, { "www-authenticate": 'Bearer error="invalid_token"' });
    }
  };
}

/** The uuid path segment, percent-decoded. */
export function uuidParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, "uuid is not valid percent-encoding", "uuid");
  }
}

/** `rel` resolved inside `root`; throws if it would leave it (a corrupt index row). */
export function insideOutput(root: string, rel: string): string {
  const abs = resolve(root, rel);
  const back = relative(root, abs);
  if (back === "" || back.startsWith("..") || isAbsolute(back)) throw new Error(`index holds a file path outside the output folder: ${JSON.stringify(rel)}`);
  return abs;
}

export const isNotFound = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
};

/** The paths that exist now, in order. Other stat errors (EACCES) count as present: the reader reports them. */
export async function existingFiles(paths: string[]): Promise<string[]> {
  const found = await Promise.all(paths.map((p) => stat(p).then(() => true, (e: unknown) => !isNotFound(e))));
  return paths.filter((_, i) => found[i]);
}

/**
 * NDJSON of the files' snapshots, one per pull, so a slow client slows the decoding
 * rather than filling memory. Files are read one at a time: one the uploader deletes
 * while earlier ones stream is skipped. A client that goes away (stream cancelled or
 * request aborted) stops the reading quietly: that is not an error of ours.
 */
function snapshotStream(
  uuid: string,
  paths: string[],
  signal: AbortSignal,
  readSnapshots: ReadSnapshots,
  logError: (message: string, error: unknown) => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = 0;
  let current: AsyncIterator<Snapshot> | null = null;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    signal.removeEventListener("abort", stop);
    // Queued behind a pending next(); closes the file once that read settles.
    current?.return?.().catch(() => {});
  };
  signal.addEventListener("abort", stop);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (!stopped) {
        if (current === null) {
          if (next === paths.length) {
            stop();
            controller.close();
            return;
          }
          current = readSnapshots([paths[next++]])[Symbol.asyncIterator]();
        }
        let r: IteratorResult<Snapshot>;
        try {
          r = await current.next();
        } catch (e) {
          current = null;
          if (stopped) return;
          if (isNotFound(e)) continue; // removed since the check
          stop();
          // Headers are gone already; cutting the stream short is how the client learns.
          logError(`snapshots of ${uuid}: reading archives failed`, e);
          controller.error(e);
          return;
        }
        if (stopped) return;
        if (r.done) {
          current = null;
          continue;
        }
        try {
          controller.enqueue(encoder.encode(stringifyExact(r.value) + "\n"));
        } catch {
          stop(); // the server closed the stream: the client is gone
        }
        return;
      }
    },
    cancel() {
      stop();
    },
  });
}

export function createHandler(deps: ApiDependencies): (req: Request) => Promise<Response> {
  const staleAfterMs = deps.staleAfterMs ?? 60_000;
  const logError = deps.logError ?? ((m, e) => console.error(m, e));
  const now = deps.now ?? Date.now;
  const outputDir = resolve(deps.outputDir);
  const authorize = deps.apiToken === undefined || deps.apiToken === null ? null : bearerCheck(deps.apiToken);

  const listConnections = (url: URL): Response => {
    const filter = parseFilter(url.searchParams);
    const page = deps.index.queryConnections(filter);
    return json({ connections: page.connections.map(connectionView), next: page.next });
  };

  const oneConnection = (url: URL, raw: string): Response => {
    rejectParameters(url.searchParams);
    const c = deps.index.getConnection(uuidParam(raw));
    if (!c) throw new HttpError(404, "no such connection");
    return json(connectionDetailView(c));
  };

  const snapshots = async (url: URL, raw: string, req: Request): Promise<Response> => {
    rejectParameters(url.searchParams);
    const c = deps.index.getConnection(uuidParam(raw));
    if (!c) throw new HttpError(404, "no such connection");
    // Paths come from the index only; the request merely picks the connection.
    const paths = c.files.map((f) => insideOutput(outputDir, f.path));
    // Checked before the headers go out: M-Lab's uploader deletes archives once shipped,
    // and after a 200 the only way left to report that is a truncated stream.
    const present = await existingFiles(paths);
    const headers = { "x-missing-files": String(paths.length - present.length) };
    if (paths.length > 0 && present.length === 0) {
      throw new HttpError(410, `all ${paths.length} archive file(s) of this connection were removed from disk`, undefined, headers);
    }
    const body = snapshotStream(c.uuid, present, req.signal, deps.readSnapshots, logError);
    return new Response(body, { headers: { "content-type": "application/x-ndjson", ...headers } });
  };

  const metricsRoute = async (): Promise<Response> =>
    new Response(await deps.metrics.registry.metrics(), { headers: { "content-type": deps.metrics.registry.contentType } });

  const healthz = (): Response => {
    const report = healthReport(deps.status, now(), staleAfterMs);
    return json(report, report.status === "stale" ? 503 : 200);
  };

  const route = (path: string): { route: Route; param: string } | null => {
    if (path === "/connections") return { route: { label: "/connections", handle: listConnections }, param: "" };
    if (path === "/metrics") return { route: { label: "/metrics", handle: metricsRoute }, param: "" };
    if (path === "/healthz") return { route: { label: "/healthz", handle: healthz }, param: "" };
    const analysis = analysisRoute(path, deps);
    if (analysis) return { route: analysis, param: analysis.param };
    const m = /^\/connections\/([^/]+)(\/snapshots)?$/.exec(path);
    if (!m) return null;
    return m[2]
      ? { route: { label: "/connections/:uuid/snapshots", handle: snapshots }, param: m[1] }
      : { route: { label: "/connections/:uuid", handle: oneConnection }, param: m[1] };
  };

  return async (req: Request): Promise<Response> => {
    let label: RouteLabel = "unmatched";
    let res: Response;
    try {
      const url = new URL(req.url);
      // The pages and their assets hold no data (they fetch it, with the token): no token.
      const page = req.method === "GET" ? pageResponse(url.pathname) : null;
      if (page !== null) {
        deps.metrics.apiRequests.inc({ route: "page", status: String(page.status) });
        return page;
      }
      const found = route(url.pathname);
      label = found?.route.label ?? "unmatched";
      // /healthz stays open for probes; unknown paths need the token too (a 404 would tell the routes).
      if (label !== "/healthz") authorize?.(req);
      if (!found) throw new HttpError(404, "not found");
      if (req.method !== "GET") {
        res = errorResponse(new HttpError(405, "method not allowed"), { allow: "GET" });
      } else {
        res = await found.route.handle(url, found.param, req);
      }
    } catch (e) {
      if (e instanceof HttpError) res = errorResponse(e, e.headers);
      else if (e instanceof ParameterError) res = errorResponse(new HttpError(400, e.message, e.parameter));
      else if (e instanceof FilterError) res = errorResponse(new HttpError(400, e.message, e.parameter));
      else {
        logError(`${req.method} ${req.url}: internal error`, e);
        res = json({ error: "internal error" }, 500);
      }
    }
    deps.metrics.apiRequests.inc({ route: label, status: String(res.status) });
    return res;
  };
}
