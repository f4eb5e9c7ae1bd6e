// Owns the checkpoint worker thread of a writable index (see checkpoint-worker.ts).
export interface CheckpointerOptions {
  intervalMs: number;
  onError?: (message: string) => void;
}

export class Checkpointer {
  private stopping: Promise<void> | null = null;

  private constructor(private readonly worker: Worker) {}

  /** Starts the worker; resolves once it has opened the database. */
  static async start(path: string, options: CheckpointerOptions): Promise<Checkpointer> {
    const worker = new Worker(new URL("./checkpoint-worker.ts", import.meta.url).href);
    const started = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<{ kind: string; message?: string }>) => {
        if (e.data.kind === "started") resolve();
        else if (e.data.kind === "error") options.onError?.(e.data.message ?? "checkpoint failed");
      };
      worker.onerror = (e) => reject(new Error(`checkpoint worker failed: ${e.message}`));
    });
    worker.postMessage({ kind: "start", path, intervalMs: options.intervalMs });
    try {
      await started;
    } catch (e) {
      worker.terminate();
      throw e;
    }
    // The worker must not keep the process alive on its own.
    worker.unref();
    return new Checkpointer(worker);
  }

  /** Asks the worker to checkpoint once more and close its connection, then ends it. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      const done = () => {
        this.worker.terminate();
        resolve();
      };
      // A worker that does not answer within 5 s is ended anyway.
      const timeout = setTimeout(done, 5000);
      this.worker.onmessage = (e: MessageEvent<{ kind: string }>) => {
        if (e.data.kind === "stopped") {
          clearTimeout(timeout);
          done();
        }
      };
      this.worker.postMessage({ kind: "stop" });
    });
    return this.stopping;
  }
}
