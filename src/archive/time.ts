// Times as M-Lab's archives write them: Go's time.RFC3339Nano in UTC, the fraction's
// trailing zeros trimmed ("…12.090551Z", "…12Z"). formatTime(ms) is the millisecond form
// older callers use; formatTimeNs(sec, nsec) keeps nanoseconds. Reading accepts any
// RFC 3339 time, since real archives hold offsets and nanoseconds.

/** Go's zero time.Time, which M-Lab writes as the Timestamp of every Metadata line. */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";
/** `GO_ZERO_TIME` as Unix milliseconds. */
export const GO_ZERO_TIME_MS = -62135596800000;

/** A time as whole Unix seconds and nanoseconds into that second (0..999999999). */
export interface TimeNs {
  sec: number;
  nsec: number;
}

// ".mmm" with trailing zeros trimmed, then "Z", for every millisecond of a second: the
// hot path then formats a time with one lookup and one concatenation.
const FRACTIONS: readonly string[] = Array.from({ length: 1000 }, (_, ms) => {
  if (ms === 0) return "Z";
  return "." + String(ms).padStart(3, "0").replace(/0+$/, "") + "Z";
});

// Three-digit groups of a nanosecond fraction: padded ("050"), and trimmed of trailing
// zeros for the last group ("05"), so any fraction is a few lookups and concatenations.
const PADDED3: readonly string[] = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, "0"));
const TRIMMED3: readonly string[] = PADDED3.map((d) => d.replace(/0+$/, ""));

// Every snapshot of one poll cycle shares its second, so the "YYYY-MM-DDTHH:MM:SS" part
// is built once per second rather than once per record.
let cachedSecond = Number.NaN;
let cachedPrefix = "";

function prefix(second: number): string {
  if (second !== cachedSecond) {
    cachedPrefix = secondPrefix(second);
    cachedSecond = second;
  }
  return cachedPrefix;
}

/** Formats Unix milliseconds as RFC 3339 UTC with a trimmed millisecond fraction. */
export function formatTime(ms: number): string {
  const whole = Math.floor(ms);
  const second = Math.floor(whole / 1000);
  return prefix(second) + FRACTIONS[whole - second * 1000];
}

/**
 * Formats a time as Go's RFC3339Nano in UTC: up to 9 fraction digits, trailing zeros
 * trimmed, no fraction when nsec is 0. `sec` and `nsec` are integers; an nsec outside
 * 0..999999999 carries into the seconds.
 */
export function formatTimeNs(sec: number, nsec: number): string {
  if (nsec < 0 || nsec >= 1e9) {
    const carry = Math.floor(nsec / 1e9);
    sec += carry;
    nsec -= carry * 1e9;
  }
  return prefix(Math.floor(sec)) + nanoFraction(Math.floor(nsec));
}

/** ".ddddddddd" trimmed, then "Z": table lookups on the hot path, no regex, no loop. */
function nanoFraction(nsec: number): string {
  const ms = Math.floor(nsec / 1e6);
  const sub = nsec - ms * 1e6;
  if (sub === 0) return FRACTIONS[ms]; // includes nsec 0
  const us = Math.floor(sub / 1000);
  const ns = sub - us * 1000;
  if (ns === 0) return "." + PADDED3[ms] + TRIMMED3[us] + "Z";
  return "." + PADDED3[ms] + PADDED3[us] + TRIMMED3[ns] + "Z";
}

/**
 * A time kept as two numbers, Unix ms and the nanoseconds past that millisecond
 * (0..999999), formatted like formatTimeNs. Lets ms-based code carry full precision.
 */
export function formatTimeMsNs(ms: number, subMsNs: number): string {
  const whole = Math.floor(ms);
  const second = Math.floor(whole / 1000);
  return formatTimeNs(second, (whole - second * 1000) * 1e6 + subMsNs);
}

/** Unix ms of (sec, nsec), floored like parseTime. */
export function timeNsToMs(sec: number, nsec: number): number {
  return sec * 1000 + Math.floor(nsec / 1e6);
}

/** The nanoseconds past the millisecond (0..999999): what timeNsToMs drops. */
export function subMsNs(nsec: number): number {
  return nsec % 1e6;
}

/** (sec, nsec) from Unix ms and the nanoseconds past it; the inverse of timeNsToMs + subMsNs. */
export function timeNsFromMs(ms: number, subMs = 0, out: TimeNs = { sec: 0, nsec: 0 }): TimeNs {
  const whole = Math.floor(ms);
  out.sec = Math.floor(whole / 1000);
  out.nsec = (whole - out.sec * 1000) * 1e6 + subMs;
  return out;
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
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})([Tt ])(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const G_SEP = 4, G_FRAC = 8, G_SIGN = 10, G_OH = 11, G_OM = 12;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month === 2 && (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return 29;
  return DAYS_IN_MONTH[month - 1];
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export class TimeFormatError extends Error {
  constructor(readonly text: string, reason: string) {
    super(`not an RFC 3339 time (${reason}): ${JSON.stringify(text.length > 64 ? text.slice(0, 64) + "…" : text)}`);
    this.name = "TimeFormatError";
  }
}

/** The regex match of a valid RFC 3339 time, and its offset in minutes. Throws TimeFormatError. */
function match(text: string): { m: RegExpExecArray; offsetMinutes: number } {
  const m = RFC3339.exec(text);
  if (!m) throw new TimeFormatError(text, "layout");
  const year = Number(m[1]);
  const month = Number(m[2]);
  // Go rejects leap second 60 too; accepting it would invent a time that never existed.
  if (month < 1 || month > 12) throw new TimeFormatError(text, "month out of range");
  const day = Number(m[3]);
  if (day < 1 || day > daysIn(year, month)) throw new TimeFormatError(text, "day out of range");
  if (Number(m[5]) > 23 || Number(m[6]) > 59 || Number(m[7]) > 59) throw new TimeFormatError(text, "time out of range");
  let offsetMinutes = 0;
  if (m[G_SIGN] !== undefined) {
    const oh = Number(m[G_OH]);
    const om = Number(m[G_OM]);
    if (oh > 23 || om > 59) throw new TimeFormatError(text, "offset out of range");
    offsetMinutes = (m[G_SIGN] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  return { m, offsetMinutes };
}

/**
 * Parses any RFC 3339 time to (Unix seconds, nanoseconds), in UTC. Fraction digits past
 * the ninth are truncated, as Go does. Throws TimeFormatError on anything else.
 */
export function parseTimeNs(text: string, out: TimeNs = { sec: 0, nsec: 0 }): TimeNs {
  const { m, offsetMinutes } = match(text);
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  out.sec = days * 86400 + Number(m[5]) * 3600 + Number(m[6]) * 60 + Number(m[7]) - offsetMinutes * 60;
  const frac = m[G_FRAC];
  let nsec = 0;
  if (frac !== undefined) {
    for (let i = 0; i < 9; i++) nsec = nsec * 10 + (i < frac.length ? frac.charCodeAt(i) - 48 : 0);
  }
  out.nsec = nsec;
  return out;
}

const scratch: TimeNs = { sec: 0, nsec: 0 };

/**
 * Parses any RFC 3339 time to Unix milliseconds (sub-millisecond digits are truncated,
 * toward the past). Throws TimeFormatError on anything else, like Go's time.Parse.
 */
export function parseTime(text: string): number {
  parseTimeNs(text, scratch);
  return timeNsToMs(scratch.sec, scratch.nsec);
}

/**
 * The text Go's time.Time.MarshalText gives for a parsed RFC 3339 time (what M-Lab's
 * csvtool prints): the same wall clock and offset, RFC3339Nano, so the fraction trimmed
 * and cut to 9 digits, "Z" for a zero offset, upper-case "T". A time Go wrote comes back
 * unchanged (the same string, no copy). Throws TimeFormatError.
 */
export function goTimeText(text: string): string {
  const { m, offsetMinutes } = match(text);
  const frac = m[G_FRAC];
  const fracOk = frac === undefined || (frac.length <= 9 && frac.charCodeAt(frac.length - 1) !== 48);
  const zoneOk = m[G_SIGN] === undefined ? m[9] === "Z" : offsetMinutes !== 0;
  if (fracOk && zoneOk && m[G_SEP] === "T") return text;
  const trimmed = frac === undefined ? "" : frac.slice(0, 9).replace(/0+$/, "");
  const zone = offsetMinutes === 0 ? "Z" : `${m[G_SIGN]}${m[G_OH]}:${m[G_OM]}`;
  return `${m[1]}-${m[2]}-${m[3]}T${m[5]}:${m[6]}:${m[7]}${trimmed === "" ? "" : "." + trimmed}${zone}`;
}

/** A record's time: the real-time clock (seconds, nanoseconds) and its Timestamp text. */
export interface RecordTime {
  sec: number;
  nsec: number;
  /** formatTimeNs(sec, nsec). */
  text: string;
}
