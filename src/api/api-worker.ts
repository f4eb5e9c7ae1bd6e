// The API worker: the HTTP server with its own read-only handle on the index, so queries,
// snapshot streams and slow clients never take time from polling (SQLite's WAL lets it
// read beside the storage worker's writes).
import { readSnapshots } from "../archive/decode-entry.ts";
import { ConnectionIndex } from "../index-db/index.ts";
import { useBatchScheduling } from "../ffi/sched.ts";
import type { FromApi, ToApi } from "./api-protocol.ts";
import { startApiServer, type ApiServer } from "./http.ts";
import type { ApiMetrics } from "./routes.ts";
import { SharedStatusNumbers, type CollectorStatus } from "./status.ts";

declare const self: Worker;

const post = (m: FromApi) => self.postMessage(m);
let server: ApiServer | null = null;
let index: ConnectionIndex | null = null;
/** Read from the poll thread's shared numbers at each /healthz; set at init. */
let status: CollectorStatus;
/** Requests by "route status" since the last /metrics, handed to the poll thread's counter then. */
const requests = new Map<string, [string, string, number]>();
const waiting = new Map<number, (r: { text: string; contentType: string }) => void>();
let nextId = 1;

/** The poll thread's registry, reached by message; request counts travel with each scrape. */
const registry = {
  contentType: "text/plain; version=0.0.4; charset=utf-8",
  metrics(): Promise<string> {
    return new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, (r) => {
        registry.contentType = r.contentType;
        resolve(r.text);
      });
      post({ kind: "metrics", id, requests: [...requests.values()] });
      requests.clear();
    });
  },
};

const metrics: ApiMetrics = {
  registry,
  apiRequests: {
    inc({ route, status: code }) {
      const key = `${route} ${code}`;
      const r = requests.get(key);
      if (r) r[2]++;
      else requests.set(key, [route, code, 1]);
    },
  },
};

self.onmessage = async (e: MessageEvent<ToApi>) => {
  const m = e.data;
  if (m.kind === "init") {
    const sched = useBatchScheduling();
    if (sched !== null) post({ kind: "log", line: `API worker: not SCHED_BATCH (${sched}): its wake-ups may delay polls` });
    try {
      status = new SharedStatusNumbers(m.config.statusBuffer).view();
      status.lastError = m.lastError;
      index = ConnectionIndex.open(m.config.dbPath, { readonly: true });
      server = startApiServer({
        listen: m.config.listen,
        index,
        outputDir: m.config.outputDir,
        apiToken: m.config.apiToken,
        readSnapshots,
        metrics,
        status,
        logError: (msg, err) => post({ kind: "log", line: `${msg}: ${String(err)}` }),
      });
      post({ kind: "ready", url: server.url, hostname: server.hostname, port: server.port });
    } catch (err) {
      post({ kind: "failed", message: (err as Error).message });
    }
  } else if (m.kind === "last-error") {
    status.lastError = m.lastError;
  } else if (m.kind === "metrics") {
    waiting.get(m.id)?.({ text: m.text, contentType: m.contentType });
    waiting.delete(m.id);
  } else if (m.kind === "stop") {
    await server?.stop();
    index?.db.close();
    post({ kind: "stopped" });
  }
};
