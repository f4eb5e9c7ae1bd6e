// Builds a Collector the way `bun src/index.ts collector` does (same ArchiveSet defaults:
// zstd level 1, 1 s flush interval, 10 min rotation), writing into a folder the driver
// created and removes. Shared by the workers so every scenario measures the same setup.
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { Collector } from "../../src/collector/collector.ts";
import type { KernelSource } from "../../src/collector/kernel-source.ts";

export interface BenchCollector {
  collector: Collector;
  archive: ArchiveSet;
}

export interface BenchCollectorOptions {
  outputDir: string;
  destroyEvents: boolean;
  flushIntervalMs?: number;
  /** Where kernel messages come from (default: the real netlink sockets). */
  source?: KernelSource;
}

export function makeCollector(o: BenchCollectorOptions): BenchCollector {
  const archive = new ArchiveSet({ outputDir: o.outputDir, rotateMinutes: 10, flushIntervalMs: o.flushIntervalMs ?? 1000 });
  const collector = new Collector(
    {
      uuidPrefix: "bench_1700000000_unsafe",
      // 198.18.0.0/24 and 2001:db8::/64 are not "local" by M-Lab's rule, so the
      // benchmark's sockets are archived with the default filter.
      includeLocal: false,
      excludeSrcPorts: [],
      excludeDstIps: [],
      anonymize: "none",
      destroyEvents: o.destroyEvents,
      vanishGraceMs: 250,
      // As the CLI at --interval 10: a cycle writes archives for at most a quarter of
      // the interval, the rest waits for idle time.
      flushBudgetMs: 2.5,
    },
    archive,
    o.source,
  );
  return { collector, archive };
}
