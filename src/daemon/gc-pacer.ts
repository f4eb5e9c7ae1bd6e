// When the storage worker runs a full garbage collection. Its buffered lines' objects live
// about a flush interval, long enough to outlive the young generation, and the runtime's
// own full collections came only every 4-5 s under 1k active connections: ~25 MiB of dead
// objects piled up between them (anonymous RSS climbing 65 -> 92 MiB and falling, again
// and again). A full collection after every `everyBytes` of snapshots taken in, at most
// once per `minGapMs`, keeps it flat for ~8 ms of CPU a second; an idle worker runs none.
// While the worker is pressed (its buffers past three quarters of their bound: a burst, a
// slow disk) the gap is `pressedGapMs`: the garbage of a burst then adds to the buffers'
// peak. (At half, where a thousand busy connections' buffers sit in steady state, the
// short gap ran a full collection, ~28 ms here, several times a second: 0.6-0.9 ms of the
// worker's time per cycle against 0.2-0.4 ms, at the same RSS.)

export class GcPacer {
  private bytes = 0;
  private lastMs = Number.NEGATIVE_INFINITY;
  /** Collections run so far. */
  collections = 0;

  constructor(
    private readonly everyBytes: number,
    private readonly minGapMs: number,
    private readonly pressedGapMs: number,
    private readonly collect: () => void,
  ) {}

  /** `bytes` of snapshots were taken in at `nowMs` (a monotonic clock): collects if due. */
  note(bytes: number, nowMs: number, pressed = false): void {
    this.bytes += bytes;
    if (this.bytes < this.everyBytes || nowMs - this.lastMs < (pressed ? this.pressedGapMs : this.minGapMs)) return;
    this.bytes = 0;
    this.lastMs = nowMs;
    this.collections++;
    this.collect();
  }
}
