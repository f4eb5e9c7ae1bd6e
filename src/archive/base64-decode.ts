// Standard base64 decoded from the bytes of a line (no string made) into a byte buffer:
// a whole value, or only chosen groups of four characters (the bytes a reader needs of a
// long attribute). The encoder is record.ts's base64Into.

/** Base64 alphabet value of each byte; 255 for '=' and anything else. */
const B64 = new Uint8Array(256).fill(255);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((c, i) => (B64[c.charCodeAt(0)] = i));
/** Two base64 characters (the first in the low byte) to their 12 bits; -1 if either is not one. */
const B64_PAIR = new Int16Array(65536).fill(-1);
for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) if (B64[a] !== 255 && B64[b] !== 255) B64_PAIR[a | (b << 8)] = (B64[a] << 6) | B64[b];

/** buf[from, to) (standard base64, padded or not) into `out` at `at`; its length, or -1 if not base64 or no room. */
export function decodeBase64(buf: Uint8Array, from: number, to: number, out: Uint8Array, at: number): number {
  let end = to;
  while (end > from && buf[end - 1] === 0x3d) end--; // '='
  if (at + ((end - from) * 3) / 4 + 3 > out.length) return -1;
  const s = out;
  let o = at;
  let i = from;
  // Two characters per lookup: half the table reads of one per character.
  for (; i + 4 <= end; i += 4) {
    const h = B64_PAIR[buf[i] | (buf[i + 1] << 8)];
    const l = B64_PAIR[buf[i + 2] | (buf[i + 3] << 8)];
    if ((h | l) < 0) return -1;
    s[o++] = h >>> 4;
    s[o++] = ((h & 15) << 4) | (l >>> 8);
    s[o++] = l & 255;
  }
  const left = end - i;
  if (left === 2 || left === 3) {
    const v = (B64[buf[i]] << 18) | (B64[buf[i + 1]] << 12) | (left === 3 ? B64[buf[i + 2]] << 6 : 0);
    s[o++] = v >>> 16;
    if (left === 3) s[o++] = (v >>> 8) & 255;
  } else if (left === 1) return -1;
  return o - at;
}

/**
 * Like decodeBase64, but only the groups of 4 characters in `groups` ([from, to) pairs of
 * group numbers, in order) and a short last group: the bytes in between are left as they
 * were. The whole value's length, or -1.
 */
export function decodeBase64Groups(buf: Uint8Array, from: number, to: number, out: Uint8Array, at: number, groups: Int32Array): number {
  let end = to;
  while (end > from && buf[end - 1] === 0x3d) end--; // '='
  const chars = end - from;
  if ((chars & 3) === 1 || at + ((chars * 3) >> 2) + 3 > out.length) return -1;
  const s = out;
  const whole = chars >> 2;
  for (let r = 0; r < groups.length; r += 2) {
    const last = Math.min(groups[r + 1], whole);
    for (let g = groups[r]; g < last; g++) {
      const i = from + 4 * g;
      const a = B64[buf[i]], b = B64[buf[i + 1]], c = B64[buf[i + 2]], d = B64[buf[i + 3]];
      if ((a | b | c | d) === 255) return -1;
      const v = (a << 18) | (b << 12) | (c << 6) | d;
      const o = at + 3 * g;
      s[o] = v >>> 16;
      s[o + 1] = (v >>> 8) & 255;
      s[o + 2] = v & 255;
    }
  }
  const left = chars & 3;
  if (left !== 0) {
    const i = from + 4 * whole;
    const v = (B64[buf[i]] << 18) | (B64[buf[i + 1]] << 12) | (left === 3 ? B64[buf[i + 2]] << 6 : 0);
    s[at + 3 * whole] = v >>> 16;
    if (left === 3) s[at + 3 * whole + 1] = (v >>> 8) & 255;
  }
  return (chars * 3) >> 2;
}
