// A 64-bit digest (two 32-bit lanes) of exactly the bytes M-Lab's change rule compares,
// so the cache keeps 8 bytes per socket instead of a copy of its last message and reads
// only the message just received. Covered: the TCP state; every word of the attribute
// area (rtattr headers, payloads, zero padding) except tcp_info's own header and the
// tcp_info bytes the rule ignores ([last_data_sent, pmtu) and from busy_time on); and the
// tcp_info length clipped at busy_time, so a shorter struct counts as a change.
//
// Each step is s -> (s ^ word) * odd constant, a bijection of the state for a given word,
// and the chains are joined by bijections too, so a difference confined to one word
// always changes the digest; for wider differences both lanes colliding has a chance of
// about 2^-64.
import { TCPI_BUSY_TIME_OFFSET, TCPI_LAST_DATA_SENT_OFFSET, TCPI_PMTU_OFFSET, INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import type { Bytes } from "./bytes.ts";

const P1 = 0x01000193; // the FNV prime
const P2 = 0x9e3779b1; // 2^32 / golden ratio, odd

/** The word at byte `at` from the inet_diag_msg at `idm`, through the word view when aligned (word0 >= 0). */
function wordAt(u8: Uint8Array, i32: Int32Array | null, word0: number, idm: number, at: number): number {
  if (word0 >= 0) return i32![word0 + (at >>> 2)];
  const b = idm + at;
  return u8[b] | (u8[b + 1] << 8) | (u8[b + 2] << 16) | (u8[b + 3] << 24);
}

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
    // Two chains per lane, the even words into one and the odd into the other: each step
    // waits on the last one's multiply, so one chain ran at the multiply's latency; two
    // keep both multipliers busy (95 -> 75 ns for a 500-byte message, measured side by side).
    let a1 = 0x811c9dc5 | 0;
    let a2 = 0x2545f491 | 0;
    let b1 = 0x6c62272e | 0;
    let b2 = 0x1b873593 | 0;
    const u8 = buf.u8;
    // Every word is kept an int32 (the word view is signed, no `>>> 0`): XOR sees the same
    // bits, and the loop stays in the JIT's integer fast path.
    let w = u8[idm + 1] | 0; // TCP state
    a1 = Math.imul(a1 ^ w, P1);
    a2 = Math.imul(a2 ^ w, P2);
    w = info < 0 ? -1 : Math.min(infoLen, TCPI_BUSY_TIME_OFFSET) | 0;
    b1 = Math.imul(b1 ^ w, P1);
    b2 = Math.imul(b2 ^ w, P2);
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
    // Runs of words between the left-out windows, each hashed by a tight loop. A word goes
    // to the chain of its index's parity (from the inet_diag_msg), wherever a run starts.
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
      if ((at & 4) !== 0) {
        // An odd word first, so the pairs below start on an even one.
        w = wordAt(u8, i32, word0, idm, at);
        b1 = Math.imul(b1 ^ w, P1);
        b2 = Math.imul(b2 ^ w, P2);
        at += 4;
      }
      if (word0 >= 0) {
        const arr = i32!;
        for (; at + 4 < stop; at += 8) {
          const k = word0 + (at >>> 2);
          const we = arr[k];
          const wo = arr[k + 1];
          a1 = Math.imul(a1 ^ we, P1);
          a2 = Math.imul(a2 ^ we, P2);
          b1 = Math.imul(b1 ^ wo, P1);
          b2 = Math.imul(b2 ^ wo, P2);
        }
      } else {
        for (; at + 4 < stop; at += 8) {
          const b = idm + at;
          const we = u8[b] | (u8[b + 1] << 8) | (u8[b + 2] << 16) | (u8[b + 3] << 24);
          const wo = u8[b + 4] | (u8[b + 5] << 8) | (u8[b + 6] << 16) | (u8[b + 7] << 24);
          a1 = Math.imul(a1 ^ we, P1);
          a2 = Math.imul(a2 ^ we, P2);
          b1 = Math.imul(b1 ^ wo, P1);
          b2 = Math.imul(b2 ^ wo, P2);
        }
      }
      if (at < stop) {
        // A last even word.
        w = wordAt(u8, i32, word0, idm, at);
        a1 = Math.imul(a1 ^ w, P1);
        a2 = Math.imul(a2 ^ w, P2);
        at += 4;
      }
    }
    // A trailing partial word (netlink pads messages, but do not rely on it).
    for (let at = Math.max(whole, INET_DIAG_MSG_SIZE); at < len; at++) {
      w = u8[idm + at] | 0x100;
      a1 = Math.imul(a1 ^ w, P1);
      a2 = Math.imul(a2 ^ w, P2);
    }
    // Each lane: the even chain XOR the odd one times an odd constant, a bijection of
    // either chain while the other stays, so one word's difference still shows.
    const h1 = a1 ^ Math.imul(b1, P2);
    const h2 = a2 ^ Math.imul(b2, P1);
    this.h1 = h1;
    this.h2 = h2;
  }
}
