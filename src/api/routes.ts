// Request handling for the HTTP API, independent of the server that runs it.
// Failures caused by the request become 4xx with a JSON body; only a fault of ours
// becomes 500 (logged).
import { isAbsolute, relative, resolve } from "node:path";
import type { Snapshot } from "../diag/snapshot.ts";
import { FilterError, type ConnectionSource } from "../index-db/index.ts";
import { stringifyExact } from "../util/json.ts";
import { parseFilter, ParameterError } from "./filter-params.ts";
import type { CollectorMetrics } from "./metrics.ts";
import { healthReport, type CollectorStatus } from "./status.ts";
import { connectionDetailView, connectionView } from "./views.ts";

export type ReadSnapshots = (absoluteFilePaths: string[]) => AsyncIterable<Snapshot>;

export interface ApiDependencies {
  index: ConnectionSource;
  /** The collector's output folder: the index's file paths are relative to it. */
  outputDir: string;
  readSnapshots: ReadSnapshots;
  metrics: CollectorMetrics;
  status: CollectorStatus;
  /** /healthz turns 503 "stale" when no poll completed for this long. Default 60 s. */
  staleAfterMs?: number;
  /** Where internal errors are reported. Default console.error. */
  logError?: (message: string, error: unknown) => void;
  /** Clock, for tests. */
  now?: () => number;
}

/** Route labels for the request metric: fixed strings, never the raw path. */
export type RouteLabel = "/connections" | "/connections/:uuid" | "/connections/:uuid/snapshots" | "/metrics" | "/healthz" | "unmatched";

interface Route {
  label: RouteLabel;
  handle: (url: URL, param: string) => Response | Promise<Response>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(stringifyExact(body), { status, headers: { "content-type": "application/json", ...headers } });
}

function errorResponse(e: HttpError, headers: Record<string, string> = {}): Response {
  return json(e.parameter === undefined ? { error: e.message } : { error: e.message, parameter: e.parameter }, e.status, headers);
}

/** The uuid path segment, percent-decoded. */
function uuidParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, "uuid is not valid percent-encoding", "uuid");
  }
}

/** `rel` resolved inside `root`; throws if it would leave it (a corrupt index row). */
function insideOutput(root: string, rel: string): string {
  const abs = resolve(root, rel);
  const back = relative(root, abs);
  if (back === "" || back.startsWith("..") || isAbsolute(back)) throw new Error(`index holds a file path outside the output folder: ${JSON.stringify(rel)}`);
  return abs;
}

export function createHandler(deps: ApiDependencies): (req: Request) => Promise<Response> {
  const staleAfterMs = deps.staleAfterMs ?? 60_000;
  const logError = deps.logError ?? ((m, e) => console.error(m, e));
  const now = deps.now ?? Date.now;
  const outputDir = resolve(deps.outputDir);

  const listConnections = (url: URL): Response => {
    const filter = parseFilter(url.searchParams);
    const page = deps.index.queryConnections(filter);
    return json({ connections: page.connections.map(connectionView), next: page.next });
  };

  const oneConnection = (_url: URL, raw: string): Response => {
    const c = deps.index.getConnection(uuidParam(raw));
    if (!c) throw new HttpError(404, "no such connection");
    return json(connectionDetailView(c));
  };

  const snapshots = (_url: URL, raw: string): Response => {
    const c = deps.index.getConnection(uuidParam(raw));
    if (!c) throw new HttpError(404, "no such connection");
    // Paths come from the index only; the request merely picks the connection.
    const paths = c.files.map((f) => insideOutput(outputDir, f.path));
    const iterator = deps.readSnapshots(paths)[Symbol.asyncIterator]();
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      // Pull one snapshot per read: a slow client slows the decoding, not memory.
      async pull(controller) {
        try {
          const r = await iterator.next();
          if (r.done) controller.close();
          else controller.enqueue(encoder.encode(stringifyExact(r.value) + "\n"));
        } catch (e) {
          // Headers are gone already; cutting the stream short is how the client learns.
          logError(`snapshots of ${c.uuid}: reading archives failed`, e);
          controller.error(e);
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    });
    return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
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
      const found = route(url.pathname);
      if (!found) throw new HttpError(404, "not found");
      label = found.route.label;
      if (req.method !== "GET") {
        res = errorResponse(new HttpError(405, "method not allowed"), { allow: "GET" });
      } else {
        res = await found.route.handle(url, found.param);
      }
    } catch (e) {
      if (e instanceof HttpError) res = errorResponse(e);
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
