// One memory reading of scenario 5, as the worker prints it and the driver reads it.
export interface MemoryReading {
  /** The connection count the reading was taken for (0: the baseline). */
  target: number;
  tracked: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Bytes of free line chunks the archive's pool held. */
  pooled: number;
}
