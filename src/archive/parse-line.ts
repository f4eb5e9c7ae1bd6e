// One archive line (JSON) to typed entries. Pure; no I/O. Accepts what M-Lab's Go reader
// (json.Unmarshal into ArchivalRecord) accepts, with Go's zero values for absent fields,
// and rejects with a reason what it rejects or cannot use: bad JSON, bad base64, a
// RawIDM shorter than 72 bytes, a line with neither Metadata nor RawIDM.
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { GO_ZERO_TIME, parseTimeNs, subMsNs, timeNsToMs, type TimeNs } from "./time.ts";

export interface ArchiveMetadata {
  uuid: string;
  sequence: number;
  /** The connection's start, Unix ms (floored). */
  startTime: number;
  /** Nanoseconds past `startTime`'s millisecond (0..999999). */
  startTimeSubMs: number;
  /** StartTime as the file has it (GO_ZERO_TIME when absent). */
  startTimeText: string;
}

export interface MetadataEntry {
  kind: "metadata";
  /** 1-based line number in the archive. */
  line: number;
  /** Unix ms, floored (Go's zero time on every Metadata line M-Lab writes). */
  timestamp: number;
  /** Nanoseconds past `timestamp`'s millisecond (0..999999). */
  timestampSubMs: number;
  /** Timestamp as the file has it, offset and digits kept (GO_ZERO_TIME when absent). */
  timestampText: string;
  metadata: ArchiveMetadata;
}

export interface SnapshotEntry {
  kind: "snapshot";
  line: number;
  /** Unix ms, floored. */
  timestamp: number;
  /** Nanoseconds past `timestamp`'s millisecond (0..999999). */
  timestampSubMs: number;
  /** Timestamp as the file has it, offset and digits kept (GO_ZERO_TIME when absent). */
  timestampText: string;
  /** The inet_diag_msg (72 bytes, or more if the writer kept more). */
  rawIdm: Uint8Array;
  /** Payload of each rtattr type, null where absent. */
  attributes: (Uint8Array | null)[];
}

export type ArchiveEntry = MetadataEntry | SnapshotEntry;

export class ArchiveFormatError extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = "ArchiveFormatError";
  }
}

const WHITESPACE = /\s/;
const STRICT = { lastChunkHandling: "strict" } as const;
const fromBase64 = (Uint8Array as unknown as { fromBase64(s: string, o: typeof STRICT): Uint8Array }).fromBase64;

function base64(value: unknown, line: number, what: string): Uint8Array {
  if (typeof value !== "string") throw new ArchiveFormatError(line, `${what} is not a base64 string`);
  // Buffer's decoder skips junk silently; Go's StdEncoding rejects it, and so do we:
  // the standard decoder in strict mode refuses bad characters, padding and trailing
  // bits, and whitespace (which it would skip) is refused first. Twice as fast as a
  // validating regex and Buffer.from.
  if (WHITESPACE.test(value)) throw new ArchiveFormatError(line, `${what} is not valid base64`);
  try {
    return fromBase64.call(Uint8Array, value, STRICT);
  } catch {
    throw new ArchiveFormatError(line, `${what} is not valid base64`);
  }
}

interface ParsedTime {
  ms: number;
  subMs: number;
  text: string;
}

const scratch: TimeNs = { sec: 0, nsec: 0 };

// The text is kept beside the numbers: csv prints it with its own offset and digits.
function time(value: unknown, line: number, what: string): ParsedTime {
  const text = value === undefined || value === null ? GO_ZERO_TIME : value;
  if (typeof text !== "string") throw new ArchiveFormatError(line, `${what} is not a time string`);
  try {
    parseTimeNs(text, scratch);
  } catch (e) {
    throw new ArchiveFormatError(line, `${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { ms: timeNsToMs(scratch.sec, scratch.nsec), subMs: subMsNs(scratch.nsec), text };
}

function metadata(value: unknown, line: number): ArchiveMetadata {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ArchiveFormatError(line, "Metadata is not an object");
  const m = value as Record<string, unknown>;
  const uuid = m.UUID ?? "";
  if (typeof uuid !== "string") throw new ArchiveFormatError(line, "Metadata.UUID is not a string");
  const sequence = m.Sequence ?? 0;
  if (typeof sequence !== "number" || !Number.isSafeInteger(sequence)) throw new ArchiveFormatError(line, "Metadata.Sequence is not an integer");
  const start = time(m.StartTime, line, "Metadata.StartTime");
  return { uuid, sequence, startTime: start.ms, startTimeSubMs: start.subMs, startTimeText: start.text };
}

function attributes(value: unknown, line: number): (Uint8Array | null)[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ArchiveFormatError(line, "Attributes is not an array");
  return value.map((a, i) => (a === null ? null : base64(a, line, `Attributes[${i}]`)));
}

/**
 * The entries of one line (`line` is its 1-based number): a Metadata entry, a snapshot
 * entry, or both in that order when one line carries both. Throws ArchiveFormatError.
 */
export function parseLine(text: string, line: number): ArchiveEntry[] {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ArchiveFormatError(line, `not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new ArchiveFormatError(line, "not a JSON object");
  const rec = obj as Record<string, unknown>;
  const t = time(rec.Timestamp, line, "Timestamp");
  const timestamp = t.ms, timestampSubMs = t.subMs, timestampText = t.text;
  const out: ArchiveEntry[] = [];
  if (rec.Metadata !== undefined && rec.Metadata !== null) {
    out.push({ kind: "metadata", line, timestamp, timestampSubMs, timestampText, metadata: metadata(rec.Metadata, line) });
  }
  if (rec.RawIDM !== undefined && rec.RawIDM !== null) {
    const rawIdm = base64(rec.RawIDM, line, "RawIDM");
    if (rawIdm.byteLength < INET_DIAG_MSG_SIZE) throw new ArchiveFormatError(line, `RawIDM has ${rawIdm.byteLength} bytes, fewer than ${INET_DIAG_MSG_SIZE}`);
    out.push({ kind: "snapshot", line, timestamp, timestampSubMs, timestampText, rawIdm, attributes: attributes(rec.Attributes, line) });
  }
  if (out.length === 0) throw new ArchiveFormatError(line, "neither Metadata nor RawIDM");
  return out;
}
