// The standard process_* metrics, read from /proc/self at each scrape: true for the whole
// process (every thread: poll, storage worker, API worker) under Bun, where prom-client's
// defaults report Node's view (a Node version, handle counts that stay 0, no GC data).
import { readdirSync, readFileSync } from "node:fs";
import { Counter, Gauge, type Registry } from "./prom.ts";

// Linux reports times in USER_HZ ticks (100 on every architecture Linux runs today) and
// rss in pages; x86-64 and arm64 with 4 KiB pages are what this collector targets.
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

interface ProcStat {
  userSeconds: number;
  systemSeconds: number;
  startTicks: number;
  virtualBytes: number;
  residentBytes: number;
}

function readStat(): ProcStat | null {
  try {
    const text = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return {
      userSeconds: Number(f[11]) / TICKS_PER_SECOND,
      systemSeconds: Number(f[12]) / TICKS_PER_SECOND,
      startTicks: Number(f[19]),
      virtualBytes: Number(f[20]),
      residentBytes: Number(f[21]) * PAGE_BYTES,
    };
  } catch {
    return null;
  }
}

function bootTimeSeconds(): number {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return Number.NaN;
  }
}

function maxFds(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** A counter whose value is read at scrape time (a total the kernel keeps). */
function readCounter(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      this.reset();
      if (v !== undefined && Number.isFinite(v)) this.inc(v);
    },
  });
}

function readGauge(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v !== undefined && Number.isFinite(v)) this.set(v);
    },
  });
}

export function registerProcessMetrics(registry: Registry): void {
  const stat = readStat();
  const start = stat === null ? Number.NaN : bootTimeSeconds() + stat.startTicks / TICKS_PER_SECOND;
  readCounter(registry, "process_cpu_user_seconds_total", "User CPU time of all the process's threads, in seconds.", () => readStat()?.userSeconds);
  readCounter(registry, "process_cpu_system_seconds_total", "System CPU time of all the process's threads, in seconds.", () => readStat()?.systemSeconds);
  readCounter(registry, "process_cpu_seconds_total", "User and system CPU time of all the process's threads, in seconds.", () => {
    const s = readStat();
    return s === null ? undefined : s.userSeconds + s.systemSeconds;
  });
  readGauge(registry, "process_resident_memory_bytes", "Resident memory size in bytes.", () => readStat()?.residentBytes);
  readGauge(registry, "process_virtual_memory_bytes", "Virtual memory size in bytes.", () => readStat()?.virtualBytes);
  readGauge(registry, "process_open_fds", "Number of open file descriptors.", openFds);
  readGauge(registry, "process_max_fds", "Maximum number of open file descriptors.", maxFds);
  readGauge(registry, "process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.", () => start);
}
