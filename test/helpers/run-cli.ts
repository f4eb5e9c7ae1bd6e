// Runs the real command line (`bun src/index.ts ...`) as a child process.
import { join } from "node:path";
import { logMessage } from "../../src/daemon/logger.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const BUN = process.execPath;

export interface CliRun {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Each stderr line's message (log records decoded from either --log-format). */
  stderrLines: string[];
  /** Each stderr line as written. */
  stderrRaw: string[];
  stdoutLines: string[];
  /** Resolves with the first stderr line matching `re`. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number>;
}

/** `wrap`: a command that runs the CLI (e.g. setpriv dropping a capability). */
export function startCli(args: string[], env: Record<string, string> = {}, wrap: string[] = []): CliRun {
  const proc = Bun.spawn([...wrap, BUN, join(ROOT, "src", "index.ts"), ...args], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const stderrLines: string[] = [];
  const stderrRaw: string[] = [];
  const stdoutLines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  // Both pipes are always drained, so a chatty child never blocks on a full pipe.
  const collect = async (stream: ReadableStream<Uint8Array>, lines: string[], notify: boolean, raw?: string[]) => {
    const dec = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += dec.decode(chunk, { stream: true });
      let i: number;
      while ((i = pending.indexOf("\n")) >= 0) {
        raw?.push(pending.slice(0, i));
        const line = raw ? logMessage(pending.slice(0, i)) : pending.slice(0, i);
        pending = pending.slice(i + 1);
        lines.push(line);
        if (notify) for (const w of [...waiters]) if (w.re.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
      }
    }
  };
  void collect(proc.stderr, stderrLines, true, stderrRaw);
  void collect(proc.stdout, stdoutLines, false);
  return {
    proc,
    stderrLines,
    stderrRaw,
    stdoutLines,
    exited: proc.exited,
    waitForStderr(re, timeoutMs = 15000) {
      const hit = stderrLines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in stderr:\n${stderrLines.join("\n")}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => { clearTimeout(t); resolve(l); } });
      });
    },
  };
}

/** Runs the CLI to its end; `stderr` has each log record as its message, `stderrRaw` as written. */
export function runCliSync(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string; stderrRaw: string } {
  const r = Bun.spawnSync([BUN, join(ROOT, "src", "index.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  const raw = r.stderr.toString();
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: raw.split("\n").map(logMessage).join("\n"), stderrRaw: raw };
}
