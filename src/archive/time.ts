// Times as M-Lab's archives write them: RFC 3339 in UTC, millisecond precision, with the
// fraction's trailing zeros trimmed the way Go's time.RFC3339Nano does ("…12.09Z", "…12Z").
// Reading accepts any RFC 3339 time, since real archives hold offsets and nanoseconds.

/** Go's zero time.Time, which M-Lab writes as the Timestamp of every Metadata line. */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";
/** `GO_ZERO_TIME` as Unix milliseconds. */
export const GO_ZERO_TIME_MS = -62135596800000;

// ".mmm" with trailing zeros trimmed, then "Z", for every millisecond of a second: the
// hot path then formats a time with one lookup and one concatenation.
const FRACTIONS: readonly string[] = Array.from({ length: 1000 }, (_, ms) => {
  if (ms === 0) return "Z";
  return "." + String(ms).padStart(3, "0").replace(/0+$/, "") + "Z";
});

// Every snapshot of one poll cycle shares its second, so the "YYYY-MM-DDTHH:MM:SS" part
// is built once per second rather than once per record.
let cachedSecond = Number.NaN;
let cachedPrefix = "";

/** Formats Unix milliseconds as RFC 3339 UTC with a trimmed millisecond fraction. */
export function formatTime(ms: number): string {
  const whole = Math.floor(ms);
  const second = Math.floor(whole / 1000);
  if (second !== cachedSecond) {
    cachedPrefix = secondPrefix(second);
    cachedSecond = second;
  }
  return cachedPrefix + FRACTIONS[whole - second * 1000];
}

function secondPrefix(second: number): string {
  const d = new Date(second * 1000);
  const y = d.getUTCFullYear();
  // toISOString writes years outside 0..9999 in the extended "+YYYYYY" form; Go writes
  // them differently again, and no collector runs then, so only the normal range is exact.
  const year = y >= 0 && y <= 9999 ? String(y).padStart(4, "0") : String(y);
  return `${year}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

const two = (n: number): string => (n < 10 ? "0" + n : String(n));

// date "T" time, fraction of any length, then "Z" or a numeric offset. Lower-case t/z are
// allowed by RFC 3339 (section 5.6, NOTE); so is a space instead of "T" (ISO profile note).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month === 2 && (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return 29;
  return DAYS_IN_MONTH[month - 1];
}

export class TimeFormatError extends Error {
  constructor(readonly text: string, reason: string) {
    super(`not an RFC 3339 time (${reason}): ${JSON.stringify(text.length > 64 ? text.slice(0, 64) + "…" : text)}`);
    this.name = "TimeFormatError";
  }
}

/**
 * Parses any RFC 3339 time to Unix milliseconds (sub-millisecond digits are truncated,
 * toward the past). Throws TimeFormatError on anything else, like Go's time.Parse.
 */
export function parseTime(text: string): number {
  const m = RFC3339.exec(text);
  if (!m) throw new TimeFormatError(text, "layout");
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  // Go rejects leap second 60 too; accepting it would invent a time that never existed.
  if (month < 1 || month > 12) throw new TimeFormatError(text, "month out of range");
  if (day < 1 || day > daysIn(year, month)) throw new TimeFormatError(text, "day out of range");
  if (hour > 23 || minute > 59 || second > 59) throw new TimeFormatError(text, "time out of range");
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw new TimeFormatError(text, "offset out of range");
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  // Date.UTC maps years 0..99 to 1900..1999, so the year is set separately.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  return d.getTime() - offsetMinutes * 60_000;
}
