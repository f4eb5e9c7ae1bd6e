// Times at the API boundary. Out: RFC 3339 UTC with exactly three fraction digits
// (formatApiTime), so API times sort as text. In: RFC 3339 or unix milliseconds.
// formatRfc3339 keeps the archives' style (Go's RFC3339Nano, fraction trimmed) for the
// eventsocket, whose lines must match M-Lab's byte for byte.
import { formatTime, parseTime as parseRfc3339 } from "../archive/time.ts";

export const formatRfc3339 = formatTime;

/**
 * Unix milliseconds (the index's unit) as `YYYY-MM-DDTHH:MM:SS.mmmZ`: a fixed width, so
 * string order is time order. A trimmed fraction ("…:03.12Z" vs "…:03Z") would not be:
 * "." sorts before "Z".
 */
export function formatApiTime(ms: number): string {
  return new Date(ms).toISOString();
}

const UNIX_MS = /^\d{1,15}$/;

/** RFC 3339 (any offset, up to nanoseconds) or non-negative unix ms; null when neither. */
export function parseTime(text: string): number | null {
  if (UNIX_MS.test(text)) return Number(text);
  try {
    return parseRfc3339(text);
  } catch {
    return null;
  }
}
