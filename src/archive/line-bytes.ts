// The byte-level pieces of the archive line scanner: literal and quote searches, and the
// Timestamp parsed from its digits (no string, no Date.parse).

export const QUOTE = 0x22;

/** `digits` fraction digits of a second, as the integer `value`, in ms: one formula for every reader. */
export function fractionMs(value: number, digits: number): number {
  return (value * 1000) / 10 ** digits;
}

export function startsWith(buf: Uint8Array, at: number, s: Uint8Array): boolean {
  if (at + s.length > buf.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[at + i] !== s[i]) return false;
  return true;
}

/** Where `s` starts in buf[from, to), or -1. */
export function find(buf: Uint8Array, s: Uint8Array, from: number, to: number): number {
  const first = s[0];
  for (let i = buf.indexOf(first, from); i >= 0 && i + s.length <= to; i = buf.indexOf(first, i + 1)) {
    if (startsWith(buf, i, s)) return i;
  }
  return -1;
}

/**
 * The first '"' in buf[from, end), or -1. Most strings of a line are short (a time, a
 * small attribute): a plain loop finds their end sooner than a native call; past 32
 * bytes (tcp_info is ~330) the native search is ten times faster.
 */
export function quoteAt(buf: Uint8Array, from: number, end: number): number {
  let i = from;
  const near = Math.min(end, from + 32);
  while (i < near && buf[i] !== QUOTE) i++;
  if (i < near) return i;
  if (near === end) return -1;
  const q = buf.indexOf(QUOTE, near);
  return q < end ? q : -1;
}

/** `n` ASCII digits at `at` as a number, or NaN. */
function digits(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[at + i] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** The last `YYYY-MM-DDTHH` seen, and its Unix ms: snapshots come in time order, an hour's share one. */
const lastHour = new Uint8Array(13);
let lastHourMs = Number.NaN;

/** Unix ms of the whole seconds of `YYYY-MM-DDTHH:MM:SS` at buf[at, at + 19), or NaN. */
function wholeMs(buf: Uint8Array, at: number): number {
  let same = !Number.isNaN(lastHourMs);
  for (let i = 0; i < 13 && same; i++) same = buf[at + i] === lastHour[i];
  if (!same) {
    lastHourMs = Date.UTC(digits(buf, at, 4), digits(buf, at + 5, 2) - 1, digits(buf, at + 8, 2), digits(buf, at + 11, 2));
    lastHour.set(buf.subarray(at, at + 13));
  }
  // Out-of-range minutes or seconds carry over, as Date.UTC's do.
  return lastHourMs + digits(buf, at + 14, 2) * 60_000 + digits(buf, at + 17, 2) * 1000;
}

/** Unix ms of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` at buf[at, end), or NaN. */
export function timeAt(buf: Uint8Array, at: number, end: number): number {
  if (end - at < 20 || buf[end - 1] !== 0x5a) return NaN;
  const whole = wholeMs(buf, at);
  if (end - at === 20) return whole;
  const n = end - at - 21;
  return whole + fractionMs(digits(buf, at + 20, n), n);
}

/** Exact time of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` at buf[at, end) into `out` (sec, nsec); false if not that. */
export function exactTimeAt(buf: Uint8Array, at: number, end: number, out: { sec: number; nsec: number }): boolean {
  if (end - at < 20 || buf[end - 1] !== 0x5a) return false;
  const ms = wholeMs(buf, at);
  if (Number.isNaN(ms)) return false;
  out.sec = ms / 1000;
  out.nsec = 0;
  if (end - at === 20) return true;
  const n = end - at - 21;
  if (buf[at + 19] !== 0x2e || n < 1 || n > 9) return false;
  const f = digits(buf, at + 20, n);
  if (Number.isNaN(f)) return false;
  out.nsec = f * 10 ** (9 - n);
  return true;
}
