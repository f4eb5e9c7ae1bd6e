// Times at the API boundary: out as the archives write them (RFC 3339 UTC, Go's
// RFC3339Nano style), in as RFC 3339 or unix milliseconds.
import { formatTime, parseTime as parseRfc3339 } from "../archive/time.ts";

export const formatRfc3339 = formatTime;

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
