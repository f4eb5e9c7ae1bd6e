// JSON with exact 64-bit integers: bigint values are written as plain number literals,
// so counters past 2^53 keep every digit (JSON.stringify would throw on them).

const MARK = "\u0000big:";

function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? MARK + value.toString() : value;
}

const MARKED = new RegExp(`"${MARK.replace("\u0000", "\\\\u0000")}(-?\\d+)"`, "g");

export function stringifyExact(value: unknown, space?: number): string {
  return JSON.stringify(value, replacer, space).replace(MARKED, "$1");
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A 64-bit counter as a number when that is exact (|v| <= 2^53 - 1): JSON.stringify then writes it with no help. */
export function exactInt(v: bigint | null): number | bigint | null {
  return v === null || v > SAFE || v < -SAFE ? v : Number(v);
}

/**
 * stringifyExact for values that rarely hold a bigint (API views, whose counters went
 * through exactInt): JSON.stringify's own fast path first, five times faster than the
 * replacer on 100 connections; the exact path only when a bigint is there.
 */
export function stringifyMostlyPlain(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, null, space);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
  return stringifyExact(value, space);
}
