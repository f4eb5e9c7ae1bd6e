// Connection UUIDs and archive file names, as M-Lab names them:
//   UUID  <prefix>_<cookie as 16 upper-case hex digits>
//   path  YYYY/MM/DD/<UUID>.<seq, at least 5 digits>.jsonl.zst   (UTC date, relative to the output folder)
// The prefix is the trimmed contents of a prefix file, else <hostname>_<boot time>_unsafe.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { cookieHex } from "../diag/sock-id.ts";

export const ARCHIVE_SUFFIX = ".jsonl.zst";

export function makeUuid(prefix: string, cookie: bigint): string {
  return `${prefix}_${cookieHex(cookie)}`;
}

/** The prefix used when no prefix file is given: "unsafe" because two hosts may share it. */
export function defaultUuidPrefix(host: string, bootTimeSeconds: number): string {
  return `${host}_${bootTimeSeconds}_unsafe`;
}

/** The `btime` line of /proc/stat (boot time, Unix seconds), or null when absent. */
export function parseBootTime(procStat: string): number | null {
  const m = /^btime\s+(\d+)\s*$/m.exec(procStat);
  return m ? Number(m[1]) : null;
}

const two = (n: number): string => (n < 10 ? "0" + n : String(n));

/** "YYYY/MM/DD" of a Unix ms time, in UTC. */
export function datePath(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCFullYear()).padStart(4, "0")}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}`;
}

/** File name of one archive segment: Go's %05d, so sequences past 99999 just grow. */
export function archiveFileName(uuid: string, seq: number): string {
  return `${uuid}.${String(seq).padStart(5, "0")}${ARCHIVE_SUFFIX}`;
}

/** Path of an archive segment relative to the output folder, dated by `dateMs` (UTC). */
export function archivePath(uuid: string, seq: number, dateMs: number): string {
  return `${datePath(dateMs)}/${archiveFileName(uuid, seq)}`;
}

export interface ParsedArchivePath {
  /** "YYYY/MM/DD" */
  date: string;
  uuid: string;
  seq: number;
}

const ARCHIVE_PATH = /(?:^|\/)(\d{4}\/\d{2}\/\d{2})\/([^/]+)\.(\d{5,})\.jsonl\.zst$/;

/** The parts of an archive path (relative or absolute), or null if it is not one. */
export function parseArchivePath(path: string): ParsedArchivePath | null {
  const m = ARCHIVE_PATH.exec(path);
  return m ? { date: m[1], uuid: m[2], seq: Number(m[3]) } : null;
}

export interface UuidPrefixSource {
  /** File whose trimmed contents are the prefix (M-Lab's --uuid-prefix-file). */
  prefixFile?: string;
  /** Overrides for tests; default os.hostname() and /proc/stat. */
  hostname?: string;
  procStatPath?: string;
}

/**
 * Reads the UUID prefix once at startup. Throws (with the path in the message) when the
 * prefix file is unreadable or empty, or /proc/stat has no btime: a collector must not
 * start with UUIDs that could collide.
 */
export function readUuidPrefix(src: UuidPrefixSource = {}): string {
  if (src.prefixFile !== undefined) {
    const prefix = readFileSync(src.prefixFile, "utf8").trim();
    if (prefix === "") throw new Error(`uuid prefix file ${src.prefixFile} is empty`);
    return prefix;
  }
  const statPath = src.procStatPath ?? "/proc/stat";
  const boot = parseBootTime(readFileSync(statPath, "utf8"));
  if (boot === null) throw new Error(`no btime line in ${statPath}`);
  return defaultUuidPrefix(src.hostname ?? hostname(), boot);
}
