// Byte-range equality for the change rule. Netlink keeps messages and attributes 4-byte
// aligned, so when both sides are aligned the ranges are compared a word at a time.

/**
 * A byte buffer with an optional word view over the same memory (byteOffset 0). The words
 * are signed: every value fits an int32, so the JIT never meets a word that needs a
 * double (a Uint32Array word >= 2^31 does), which knocked hot loops out of optimised code.
 */
export interface Bytes {
  readonly u8: Uint8Array;
  /** Word view of the same ArrayBuffer starting at byte 0 of `u8.buffer`, or null. */
  readonly i32: Int32Array | null;
}

export function bytesOf(u8: Uint8Array): Bytes {
  const aligned = u8.byteOffset === 0 && (u8.buffer.byteLength & 3) === 0;
  return { u8, i32: aligned ? new Int32Array(u8.buffer, 0, u8.buffer.byteLength >>> 2) : null };
}

/** True when a[aOff, aOff+len) equals b[bOff, bOff+len). Offsets are relative to u8. */
export function rangeEqual(a: Bytes, aOff: number, b: Bytes, bOff: number, len: number): boolean {
  const aw = a.i32;
  const bw = b.i32;
  const aAbs = a.u8.byteOffset + aOff;
  const bAbs = b.u8.byteOffset + bOff;
  let i = 0;
  if (aw !== null && bw !== null && ((aAbs | bAbs) & 3) === 0) {
    const words = len >>> 2;
    const ai = aAbs >>> 2;
    const bi = bAbs >>> 2;
    for (; i < words; i++) if (aw[ai + i] !== bw[bi + i]) return false;
    i = words << 2;
  }
  const au = a.u8;
  const bu = b.u8;
  for (; i < len; i++) if (au[aOff + i] !== bu[bOff + i]) return false;
  return true;
}
