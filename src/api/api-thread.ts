// The poll thread's side of the API worker: starts it, answers its /metrics requests from
// this thread's registry (adding the request counts it passes on), and pushes the status
// /healthz reports, at most every STATUS_EVERY_MS.
import type { FromApi, ToApi } from "./api-protocol.ts";
import type { ApiServer } from "./http.ts";
import { scrape, type CollectorMetrics } from "./metrics.ts";
import type { CollectorStatus } from "./status.ts";

const STATUS_EVERY_MS = 50;

export interface ApiWorkerOptions {
  listen: string;
  dbPath: string;
  outputDir: string;
  /** Bearer token every route but /healthz requires; null: none. */
  apiToken: string | null;
  metrics: CollectorMetrics;
  status: CollectorStatus;
  log: (line: string) => void;
}

export interface ApiThread extends ApiServer {
  /** Hands the worker the current status (throttled; `force` sends it now). */
  pushStatus(force?: boolean): void;
}

export async function startApiWorker(o: ApiWorkerOptions): Promise<ApiThread> {
  const worker = new Worker(new URL("./api-worker.ts", import.meta.url).href);
  const post = (m: ToApi) => worker.postMessage(m);
  let stopped: (() => void) | null = null;
  let ready!: (a: { url: string; hostname: string; port: number }) => void;
  let failed!: (e: Error) => void;
  const started = new Promise<{ url: string; hostname: string; port: number }>((res, rej) => {
    ready = res;
    failed = rej;
  });
  worker.onmessage = (e: MessageEvent<FromApi>) => {
    const m = e.data;
    if (m.kind === "ready") ready(m);
    else if (m.kind === "failed") failed(new Error(m.message));
    else if (m.kind === "log") o.log(m.line);
    else if (m.kind === "stopped") stopped?.();
    else if (m.kind === "metrics") {
      for (const [route, status, n] of m.requests) o.metrics.apiRequests.inc({ route, status }, n);
      void scrape(o.metrics).then((text) => post({ kind: "metrics", id: m.id, text, contentType: o.metrics.registry.contentType }));
    }
  };
  worker.onerror = (e) => failed(new Error(e.message));
  post({ kind: "init", config: { listen: o.listen, dbPath: o.dbPath, outputDir: o.outputDir, apiToken: o.apiToken }, status: { ...o.status } });
  let addr: { url: string; hostname: string; port: number };
  try {
    addr = await started;
  } catch (e) {
    worker.terminate();
    throw e;
  }
  worker.onerror = (e) => o.log(`API worker error: ${e.message}`);
  let lastPush = 0;
  return {
    ...addr,
    pushStatus(force = false) {
      const now = performance.now();
      if (!force && now - lastPush < STATUS_EVERY_MS) return;
      lastPush = now;
      post({ kind: "status", status: { ...o.status } });
    },
    async stop() {
      const done = new Promise<void>((r) => (stopped = r));
      post({ kind: "stop" });
      await Promise.race([done, Bun.sleep(2000)]);
      worker.terminate();
    },
  };
}
