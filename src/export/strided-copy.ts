// Fields gathered from rows laid out at a fixed stride (the struct arena's copies of each
// row's attributes) into a column's values and validity bits: the loops behind
// ColumnBuilder.appendStrided, one element type per loop.

/** Sets the validity bits of rows [from, to): whole bytes at once. */
export function setValidRange(valid: Uint8Array, from: number, to: number): void {
  let n = from;
  for (; n < to && (n & 7) !== 0; n++) valid[n >> 3] |= 1 << (n & 7);
  const whole = (to - n) >> 3;
  // A chunk's bytes (128 for 1,024 rows): a loop costs less than a native fill.
  for (let b = n >> 3, end = b + whole; b < end; b++) valid[b] = 255;
  for (n += whole * 8; n < to; n++) valid[n >> 3] |= 1 << (n & 7);
}

/**
 * Row i's `per` words (1 or 2), `at` words into it, to `to[(first + i) * per]`, for
 * `count` rows of `stride` words: every row has the field. Int32Array on both sides: a
 * word read from a Uint32Array is a number past 2^31 half the time, and the JIT's int32
 * guess for it failed on each (thousands of exits to slower code per export); through
 * Int32Array every bit pattern is an int.
 */
export function copyWords(from: Int32Array, stride: number, at: number, per: number, count: number, to: Int32Array, first: number): void {
  let t = first * per;
  const end = count * stride + at;
  if (per === 1) for (let f = at; f < end; f += stride) to[t++] = from[f];
  else
    for (let f = at; f < end; f += stride, t += 2) {
      to[t] = from[f];
      to[t + 1] = from[f + 1];
    }
}

/** copyWords, but only rows with `lens[i] >= need` (the others stay null); sets their validity bits, returns how many were null. */
export function copyWordsWhere(from: Int32Array, stride: number, at: number, per: number, count: number, to: Int32Array, first: number, lens: Int32Array, need: number, valid: Uint8Array): number {
  let nulls = 0;
  for (let i = 0, n = first; i < count; i++, n++) {
    if (lens[i] < need) {
      nulls++;
      continue;
    }
    const f = i * stride + at;
    const t = n * per;
    to[t] = from[f];
    if (per === 2) to[t + 1] = from[f + 1];
    valid[n >> 3] |= 1 << (n & 7);
  }
  return nulls;
}

/**
 * Row i's field of 1, 2 or 4 bytes at `src[i * stride + off]` (little-endian, or with `be`
 * big-endian), shifted right by `shift` and masked by `mask` (a bitfield; 0 and -1 for a
 * whole field), into
 * values of `w` <= 4 bytes from row `first`. With `lens`, only rows with `lens[i] >= need`
 * (the others stay null, their count returned) and their validity bits set; without, every
 * row (the caller sets the bits). Integer operations only: the byte fields and bitfields
 * of tcp_info (~35 columns) went through float arithmetic per value before.
 */
export function copyNarrow(src: Uint8Array, stride: number, off: number, width: number, be: boolean, count: number, bytes: Uint8Array, w: number, first: number, lens: Int32Array | null, need: number, shift: number, mask: number, valid: Uint8Array): number {
  let nulls = 0;
  for (let i = 0, n = first, f = off; i < count; i++, n++, f += stride) {
    if (lens !== null) {
      if (lens[i] < need) {
        nulls++;
        continue;
      }
      valid[n >> 3] |= 1 << (n & 7);
    }
    let v: number;
    if (width === 1) v = src[f];
    else if (width === 2) v = be ? (src[f] << 8) | src[f + 1] : src[f] | (src[f + 1] << 8);
    else if (be) v = (src[f] << 24) | (src[f + 1] << 16) | (src[f + 2] << 8) | src[f + 3];
    else v = src[f] | (src[f + 1] << 8) | (src[f + 2] << 16) | (src[f + 3] << 24);
    v = (v >>> shift) & mask;
    const t = n * w;
    bytes[t] = v;
    if (w > 1) {
      bytes[t + 1] = v >>> 8;
      if (w > 2) {
        bytes[t + 2] = v >>> 16;
        bytes[t + 3] = v >>> 24;
      }
    }
  }
  return nulls;
}

/**
 * Row i's `width` bytes at `src[i * stride + off]` (little-endian; with `bits` = [shift,
 * size], that bitfield of them) into values of `w` bytes from row `first`, for rows with
 * `lens[i] >= off + width`; sets their validity bits, returns how many were null. The
 * general case (fields wider than 4 bytes that do not move as words).
 */
export function copyBytesWhere(src: Uint8Array, stride: number, off: number, width: number, count: number, bytes: Uint8Array, w: number, first: number, lens: Int32Array, bits: readonly [number, number] | undefined, valid: Uint8Array): number {
  const need = off + width;
  let nulls = 0;
  for (let i = 0, n = first; i < count; i++, n++) {
    if (lens[i] < need) {
      nulls++;
      continue;
    }
    const from = i * stride + off;
    const to = n * w;
    if (bits === undefined) {
      for (let j = 0; j < width; j++) bytes[to + j] = src[from + j];
    } else {
      let v = 0;
      for (let j = width - 1; j >= 0; j--) v = v * 256 + src[from + j];
      v = Math.floor(v / 2 ** bits[0]) % 2 ** bits[1];
      for (let j = 0; j < w; j++, v = Math.floor(v / 256)) bytes[to + j] = v % 256;
    }
    valid[n >> 3] |= 1 << (n & 7);
  }
  return nulls;
}
