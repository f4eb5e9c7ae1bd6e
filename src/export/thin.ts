// --every: at most one snapshot per interval of an archive file's time (a connection is
// exported file by file), the file's first and last always kept, each kept row saying how many snapshots it stands for (itself and the
// ones dropped after it), so the counts add up to what the archives hold. Lines come one
// at a time (the scanner reuses its buffer): a kept line is held, copied, until its count
// is known, and the latest dropped one in case it turns out to be the last.
import { CopiedRow, type RowInput } from "./row-input.ts";

export class Thinner {
  private readonly kept = new CopiedRow();
  private readonly dropped = new CopiedRow();
  private holding = false;
  private count = 0;
  private hasDropped = false;
  private bucket = 0;
  private sec0 = 0;
  private nsec0 = 0;

  constructor(private readonly everyMs: number, private readonly emit: (r: RowInput, represents: number) => void) {}

  add(r: RowInput): void {
    if (!this.holding) {
      this.sec0 = r.sec;
      this.nsec0 = r.nsec;
    }
    // Exact: whole seconds and nanoseconds apart from the first line, in ms.
    const b = Math.floor(((r.sec - this.sec0) * 1e3 + (r.nsec - this.nsec0) / 1e6) / this.everyMs);
    if (this.holding && b === this.bucket) {
      this.count++;
      this.dropped.copyFrom(r);
      this.hasDropped = true;
      return;
    }
    if (this.holding) this.emit(this.kept, this.count);
    this.kept.copyFrom(r);
    this.holding = true;
    this.count = 1;
    this.hasDropped = false;
    this.bucket = b;
  }

  /** The connection's lines are done: the held rows go out, the last line among them. */
  end(): void {
    if (!this.holding) return;
    if (this.hasDropped) {
      this.emit(this.kept, this.count - 1);
      this.emit(this.dropped, 1);
    } else this.emit(this.kept, this.count);
    this.holding = false;
  }
}
