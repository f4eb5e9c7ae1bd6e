// --export-dir: the collector runs `export` by itself every --export-interval, as a child
// process at low priority (reading archives and writing Parquet is CPU work the poll
// thread and the storage worker must not share a thread with). One run at a time; its
// summary line (or its failure) goes to the log.
import { join } from "node:path";
import type { LogFn } from "./logger.ts";

export interface ExportTimerOptions {
  exportDir: string;
  intervalMs: number;
  outputDir: string;
  db: string;
  log: LogFn;
}

export class ExportTimer {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Bun.Subprocess<"ignore", "ignore", "pipe"> | null = null;

  constructor(private readonly opts: ExportTimerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.run(), this.opts.intervalMs);
    this.timer.unref?.();
  }

  /** One export now, unless one is still running (then this one is skipped and said so). */
  async run(): Promise<void> {
    if (this.running !== null) {
      this.opts.log(`export: the previous run is still going; skipping this one`, "warn");
      return;
    }
    const o = this.opts;
    const argv = ["nice", "-n", "10", process.execPath, join(import.meta.dir, "..", "index.ts"), "export", "--out", o.exportDir, "--output", o.outputDir, "--db", o.db];
    const child = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    this.running = child;
    try {
      const text = (await new Response(child.stderr).text()).trim();
      const code = await child.exited;
      const last = text.split("\n").pop() ?? "";
      // Said when something was exported (or skipped); an idle host's runs stay quiet.
      if (code !== 0) o.log(`export exited with status ${code}: ${last || "(no output)"}`, "warn");
      else if (!/^export: 0 connections, 0 snapshots in 0 files[^;]*$/.test(last)) o.log(last || "export: done");
    } finally {
      this.running = null;
    }
  }

  /** Stops the timer; a run in progress is stopped too (its batch leaves only hidden temporary files). */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const r = this.running;
    if (r !== null) {
      r.kill("SIGTERM");
      await r.exited;
    }
  }
}
