// Messages between the poll thread and the API worker, which serves HTTP off the poll
// thread: listings and snapshots read SQLite and the archives in the worker; /metrics
// asks the poll thread for the exposition text (passing on the request counts it kept);
// /healthz answers from the status the poll thread pushes after its cycles.
import type { CollectorStatus } from "./status.ts";

export interface ApiWorkerConfig {
  listen: string;
  dbPath: string;
  outputDir: string;
  /** Bearer token the API requires, or null. Travels only in this message; never logged. */
  apiToken: string | null;
}

export type ToApi =
  | { kind: "init"; config: ApiWorkerConfig; status: CollectorStatus }
  | { kind: "status"; status: CollectorStatus }
  | { kind: "metrics"; id: number; text: string; contentType: string }
  | { kind: "stop" };

export type FromApi =
  | { kind: "ready"; url: string; hostname: string; port: number }
  | { kind: "failed"; message: string }
  | { kind: "metrics"; id: number; requests: [route: string, status: string, count: number][] }
  | { kind: "log"; line: string }
  | { kind: "stopped" };
