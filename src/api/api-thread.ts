// The poll thread's side of the API worker: starts it, answers its /metrics requests from
// this thread's registry (adding the request counts it passes on), and keeps the status
// /healthz reports current: its numbers in shared memory, its last error by message.
import type { FromApi, ToApi } from "./api-protocol.ts";
import type { ApiServer } from "./http.ts";
import { scrape, type CollectorMetrics } from "./metrics.ts";
import { SharedStatusNumbers, type CollectorStatus } from "./status.ts";

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
  /** Hands the worker the current status: cheap enough for every cycle. */
  pushStatus(): void;
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
  const numbers = new SharedStatusNumbers();
  numbers.write(o.status);
  let lastError = o.status.lastError;
  post({ kind: "init", config: { listen: o.listen, dbPath: o.dbPath, outputDir: o.outputDir, apiToken: o.apiToken, statusBuffer: numbers.buffer }, lastError });
  let addr: { url: string; hostname: string; port: number };
  try {
    addr = await started;
  } catch (e) {
    worker.terminate();
    throw e;
  }
  worker.onerror = (e) => o.log(`API worker error: ${e.message}`);
  return {
    ...addr,
    pushStatus() {
      numbers.write(o.status);
      if (o.status.lastError !== lastError) {
        lastError = o.status.lastError;
        post({ kind: "last-error", lastError });
      }
    },
    async stop() {
      const done = new Promise<void>((r) => (stopped = r));
      post({ kind: "stop" });
      await Promise.race([done, Bun.sleep(2000)]);
      worker.terminate();
    },
  };
}
