// The protocol between the driver and the worker scripts in bench/workers/: arguments
// as --name value pairs, progress lines on stdout, and one JSON result as the last line.

/** The value of `--name`, or `fallback` when absent; throws when absent without one. */
export function argString(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v !== undefined) return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`missing --${name}`);
}

/** A numeric `--name`; throws on anything that is not a finite number. */
export function argNumber(name: string, fallback?: number): number {
  const raw = argString(name, fallback === undefined ? undefined : String(fallback));
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new Error(`--${name}: not a number: ${raw}`);
  return v;
}

export function argFlag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** The worker's result: one JSON line, the last on stdout. */
export function emitResult(result: object): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** A progress line the driver waits for (e.g. "WAIT 1000"). */
export function emitLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs a worker's main, turning a failure into a message and exit status 1. */
export function runWorker(name: string, main: () => Promise<void> | void): void {
  Promise.resolve()
    .then(main)
    .then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
      },
    );
}
