// A 64-bit digest (two 32-bit lanes) of exactly the bytes M-Lab's change rule compares,
// so the cache keeps 8 bytes per socket instead of a copy of its last message and reads
// only the message just received. Covered: the TCP state; every word of the attribute
// area (rtattr headers, payloads, zero padding) except tcp_info's own header and the
// tcp_info bytes the rule ignores ([last_data_sent, pmtu) and from busy_time on); and the
// tcp_info length clipped at busy_time, so a shorter struct counts as a change.
//
// Each step is s -> (s ^ word) * odd constant, a bijection of the state for a given word,
// so a difference confined to one word always changes the digest; for wider differences
// both lanes colliding has a chance of about 2^-64.
import { TCPI_BUSY_TIME_OFFSET, TCPI_LAST_DATA_SENT_OFFSET, TCPI_PMTU_OFFSET, INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import type { Bytes } from "./bytes.ts";

const P1 = 0x01000193; // the FNV prime
const P2 = 0x9e3779b1; // 2^32 / golden ratio, odd

export class Digest {
  h1 = 0;
  h2 = 0;

  /**
   * Digests the message whose inet_diag_msg is at `idm` and whose attributes end at
   * `end`; `info`/`infoLen` locate tcp_info's payload (info -1 when absent). Words are
   * counted from the inet_diag_msg, so the digest does not depend on where the message
   * sits; aligned messages (as netlink delivers them) are read a word at a time.
   */
  compute(buf: Bytes, idm: number, end: number, info: number, infoLen: number): void {
    let h1 = 0x811c9dc5 | 0;
    let h2 = 0x2545f491 | 0;
    const u8 = buf.u8;
    // Every word is kept an int32 (the word view is signed, no `>>> 0`): XOR sees the same
    // bits, and the loop stays in the JIT's integer fast path.
    let w = u8[idm + 1] | 0; // TCP state
    h1 = Math.imul(h1 ^ w, P1);
    h2 = Math.imul(h2 ^ w, P2);
    w = info < 0 ? -1 : Math.min(infoLen, TCPI_BUSY_TIME_OFFSET) | 0;
    h1 = Math.imul(h1 ^ w, P1);
    h2 = Math.imul(h2 ^ w, P2);
    // Byte offsets from the inet_diag_msg: words starting in [skip, resume) are left out.
    const rel = info - idm;
    const headerAt = info < 0 ? -1 : rel - 4;
    // Every window ends at tcp_info's padded end: with a short struct (an old kernel, or
    // a corrupt length) the words past it belong to the next attribute and always count.
    const padded = (infoLen + 3) & ~3;
    const ignoredA = rel + Math.min(TCPI_LAST_DATA_SENT_OFFSET, padded);
    const resumeA = rel + Math.min(TCPI_PMTU_OFFSET, padded);
    const ignoredB = rel + Math.min(infoLen, TCPI_BUSY_TIME_OFFSET);
    const resumeB = rel + padded;
    const len = end - idm;
    const whole = len & ~3;
    const i32 = buf.i32;
    const abs = u8.byteOffset + idm;
    const word0 = (abs & 3) === 0 && i32 !== null ? abs >>> 2 : -1;
    // Runs of words between the left-out windows, each hashed by a tight loop.
    let at = INET_DIAG_MSG_SIZE;
    while (at < whole) {
      let stop = whole;
      if (info >= 0) {
        if (at === headerAt) {
          at += 4;
          continue;
        }
        // Inside a window: jump to its end, keeping `at` on the same word grid.
        if (at >= ignoredA && at < resumeA) {
          at += (resumeA - at + 3) & ~3;
          continue;
        }
        if (at >= ignoredB && at < resumeB) {
          at += (resumeB - at + 3) & ~3;
          continue;
        }
        if (headerAt > at && headerAt < stop) stop = headerAt;
        if (ignoredA > at && ignoredA < stop && resumeA > ignoredA) stop = ignoredA;
        if (ignoredB > at && ignoredB < stop && resumeB > ignoredB) stop = ignoredB;
      }
      if (word0 >= 0) {
        const arr = i32!;
        for (; at < stop; at += 4) {
          w = arr[word0 + (at >>> 2)];
          h1 = Math.imul(h1 ^ w, P1);
          h2 = Math.imul(h2 ^ w, P2);
        }
      } else {
        for (; at < stop; at += 4) {
          const b = idm + at;
          w = u8[b] | (u8[b + 1] << 8) | (u8[b + 2] << 16) | (u8[b + 3] << 24);
          h1 = Math.imul(h1 ^ w, P1);
          h2 = Math.imul(h2 ^ w, P2);
        }
      }
    }
    // A trailing partial word (netlink pads messages, but do not rely on it).
    for (let at = Math.max(whole, INET_DIAG_MSG_SIZE); at < len; at++) {
      w = u8[idm + at] | 0x100;
      h1 = Math.imul(h1 ^ w, P1);
      h2 = Math.imul(h2 ^ w, P2);
    }
    this.h1 = h1;
    this.h2 = h2;
  }
}
