// How a Collector is set up, and what it is told of connections an earlier run left open.
import type { Anonymization, FilterOptions } from "./filters.ts";

export interface CollectorOptions extends FilterOptions {
  uuidPrefix: string;
  anonymize: Anonymization;
  /** Subscribe to the kernel's TCP destroy events (default true). */
  destroyEvents: boolean;
  /**
   * How long a socket missing from the dumps waits for its destroy event (which carries
   * the final counters) before it is ended as vanished.
   */
  vanishGraceMs: number;
  /** Most time (ms) a poll cycle spends writing archives; the rest waits for idle time. Default: no limit. */
  flushBudgetMs?: number;
  /** Bound (ms) on one dump and on each wait for a chunk of it; default DEFAULT_DUMP_TIMEOUT_MS. */
  dumpTimeoutMs?: number;
  /** One SOCK_DIAG_BY_FAMILY walk per family, never the one-walk request (default false). */
  perFamilyDumps?: boolean;
  /** Connections still open in the index from a previous run, by cookie. */
  resume?: ReadonlyMap<bigint, ResumeInfo>;
  /**
   * Reports carry the progress of updated connections at most this often (ms), each
   * connection once with its latest counters; default 0: every cycle. The daemon's index
   * batches writes anyway, and a thousand busy connections then cost a thousand progress
   * objects per interval, not per cycle.
   */
  progressEveryMs?: number;
}

export interface ResumeInfo {
  uuid: string;
  startMs: number;
  /** Nanoseconds of the start below the millisecond (from its archive's StartTime). */
  startSubMs: number;
  /** The sequence number the next file of this connection should get. */
  nextSeq: number;
  /** Snapshots archived by earlier runs: counts carry over. */
  snapshots: number;
}
