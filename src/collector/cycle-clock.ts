// The time of the cycle (or of the drain of destroy events) being run: `now` (Unix ms)
// schedules; records, events and StartTimes carry the real-time clock at nanoseconds, as
// M-Lab writes them.
import { formatTimeNs, subMsNs, type RecordTime } from "../archive/time.ts";
import { realtime, type RealTime } from "../ffi/clock.ts";

export class CycleClock {
  /** Unix ms. */
  now = 0;
  /** Nanoseconds below the millisecond of the real-time clock. */
  subMs = 0;
  /** The time records carry (its text made once per cycle, not per record). */
  readonly stamp: RecordTime = { sec: 0, nsec: 0, text: "" };
  private readonly rt: RealTime = { sec: 0, nsec: 0 };

  /** Sets the clock to `now`, stamped with `time` (default: the real-time clock, read now). */
  set(now: number, time?: RealTime): void {
    const t = time ?? realtime(this.rt);
    this.now = now;
    this.subMs = subMsNs(t.nsec);
    this.stamp.sec = t.sec;
    this.stamp.nsec = t.nsec;
    this.stamp.text = formatTimeNs(t.sec, t.nsec);
  }
}
