// Messages between the poll thread and the API worker, which serves HTTP off the poll
// thread: listings and snapshots read SQLite and the archives in the worker; /metrics
// asks the poll thread for the exposition text (passing on the request counts it kept);
// /healthz answers from the status numbers the poll thread writes into shared memory after
// its cycles, and the last error it posts when that changes.
import type { CollectorStatus } from "./status.ts";

export interface ApiWorkerConfig {
  listen: string;
  dbPath: string;
  outputDir: string;
  /** Bearer token the API requires, or null. Travels only in this message; never logged. */
  apiToken: string | null;
  /** The status numbers (SharedStatusNumbers) the poll thread keeps current. */
  statusBuffer: SharedArrayBuffer;
}

export type ToApi =
  | { kind: "init"; config: ApiWorkerConfig; lastError: CollectorStatus["lastError"] }
  | { kind: "last-error"; lastError: CollectorStatus["lastError"] }
  | { kind: "metrics"; id: number; text: string; contentType: string }
  | { kind: "stop" };

export type FromApi =
  | { kind: "ready"; url: string; hostname: string; port: number }
  | { kind: "failed"; message: string }
  | { kind: "metrics"; id: number; requests: [route: string, status: string, count: number][] }
  | { kind: "log"; line: string }
  | { kind: "stopped" };
