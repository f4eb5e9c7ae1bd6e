// Runs in a Worker thread: periodically copies the index's WAL back into the database
// file (a PASSIVE checkpoint never blocks the writer or readers). Checkpoints read the
// WAL, write the file and fsync; doing that here keeps it off the poll loop's thread.
import { Database } from "bun:sqlite";

declare const self: Worker;

interface Start {
  kind: "start";
  path: string;
  intervalMs: number;
}
interface Stop {
  kind: "stop";
}

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

function checkpoint(): void {
  try {
    db?.query("PRAGMA wal_checkpoint(PASSIVE)").get();
  } catch (e) {
    // SQLITE_BUSY and the like: the next tick tries again.
    postMessage({ kind: "error", message: e instanceof Error ? e.message : String(e) });
  }
}

self.onmessage = (event: MessageEvent<Start | Stop>) => {
  const m = event.data;
  if (m.kind === "start") {
    db = new Database(m.path, { readwrite: true, create: false });
    db.exec("PRAGMA busy_timeout = 1000");
    timer = setInterval(checkpoint, m.intervalMs);
    postMessage({ kind: "started" });
  } else {
    if (timer) clearInterval(timer);
    checkpoint(); // leave as little WAL as possible behind
    db?.close();
    db = null;
    postMessage({ kind: "stopped" });
  }
};
