// A reference eventsocket client: prints every event line as received, and reconnects
// (with exponential backoff) whenever the collector restarts, until SIGINT or abort.

export interface LineSink {
  /** Whole lines, each with its newline; one call per chunk the collector sent. */
  write(text: string): unknown;
  /** Pushes buffered lines out (a file's writer); called after each chunk. */
  flush?(): unknown;
}

export interface SidecarOptions {
  /** Stops the sidecar (as SIGINT does). */
  signal?: AbortSignal;
  /** Stop on SIGINT. Default true. */
  handleSigint?: boolean;
  /** First reconnect delay, doubled on each failure up to maxBackoffMs. Default 100 ms. */
  minBackoffMs?: number;
  /** Default 5000 ms. */
  maxBackoffMs?: number;
  /** Connection progress messages. Default: to stderr. */
  log?: (message: string) => void;
}

/** Resolves after `ms`, or early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Writing the events failed (the reader went away, the disk is full): the sidecar stops. */
export class OutputError extends Error {
  constructor(override readonly cause: unknown) {
    super(`cannot write the events: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "OutputError";
  }

  /** The reader of a pipe went away (`sidecar | head`): a normal end, not a failure. */
  get readerGone(): boolean {
    return (this.cause as NodeJS.ErrnoException | null)?.code === "EPIPE";
  }
}

/**
 * One connection: resolves when it closes (or is aborted). Rejects if connecting fails.
 * Calls `onOpen` once connected. Lines go to `out` whole, each with its newline; a write
 * that fails goes to `onOutputError` and ends the session.
 */
async function session(path: string, out: LineSink, signal: AbortSignal, onOpen: () => void, onOutputError: (e: unknown) => void): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  let finished!: () => void;
  const closed = new Promise<void>((resolve) => (finished = resolve));
  const socket = await Bun.connect({
    unix: path,
    socket: {
      data(_s, chunk) {
        // One write per chunk, not per line: a collector's burst of thousands of events
        // must reach the output as fast as it arrives, or the collector drops this client.
        partial += decoder.decode(chunk, { stream: true });
        const end = partial.lastIndexOf("\n");
        if (end < 0) return;
        try {
          out.write(partial.slice(0, end + 1));
          const flushed = out.flush?.();
          if (flushed instanceof Promise) flushed.catch(onOutputError);
        } catch (e) {
          onOutputError(e);
        }
        partial = partial.slice(end + 1);
      },
      close() {
        finished();
      },
      error() {
        finished();
      },
    },
  });
  onOpen();
  const abort = () => socket.end();
  signal.addEventListener("abort", abort, { once: true });
  try {
    await closed;
  } finally {
    signal.removeEventListener("abort", abort);
  }
}

/**
 * Prints events until SIGINT or `options.signal`, reconnecting whenever the collector goes
 * away. Rejects with OutputError, without reconnecting, once writing to `out` fails.
 */
export async function runSidecar(path: string, out: LineSink, options: SidecarOptions = {}): Promise<void> {
  const min = options.minBackoffMs ?? 100;
  const max = options.maxBackoffMs ?? 5000;
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const stop = new AbortController();
  const onParentAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onParentAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const onSigint = () => stop.abort();
  let outputError: OutputError | null = null;
  const onOutputError = (e: unknown) => {
    outputError ??= new OutputError(e);
    stop.abort();
  };
  if (options.handleSigint ?? true) process.on("SIGINT", onSigint);
  try {
    let backoff = min;
    while (!stop.signal.aborted) {
      try {
        await session(path, out, stop.signal, () => {
          log(`connected to ${path}`);
          backoff = min; // a good connection resets the backoff
        }, onOutputError);
        if (!stop.signal.aborted) log(`${path} closed the connection; reconnecting`);
      } catch (e) {
        log(`cannot connect to ${path} (${e instanceof Error ? e.message : String(e)}); retrying in ${backoff} ms`);
      }
      if (stop.signal.aborted) break;
      await sleep(backoff, stop.signal);
      backoff = Math.min(max, backoff * 2);
    }
  } finally {
    process.off("SIGINT", onSigint);
    options.signal?.removeEventListener("abort", onParentAbort);
  }
  if (outputError !== null) throw outputError;
}
