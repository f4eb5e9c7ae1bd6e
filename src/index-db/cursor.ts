// Opaque keyset cursors: the (first_seen, uuid) of the last row of a page, base64url
// encoded so clients treat them as tokens rather than build them.

export interface CursorKey {
  firstSeen: number;
  uuid: string;
}

export class CursorError extends Error {}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.firstSeen}:${key.uuid}`, "utf8").toString("base64url");
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const KEY = /^(-?\d{1,16}):(.+)$/s;

/** Throws CursorError on anything encodeCursor would not have produced. */
export function decodeCursor(cursor: string): CursorKey {
  if (cursor.length > 4096 || !BASE64URL.test(cursor)) throw new CursorError("malformed cursor");
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = KEY.exec(text);
  if (!m) throw new CursorError("malformed cursor");
  const firstSeen = Number(m[1]);
  if (!Number.isSafeInteger(firstSeen)) throw new CursorError("malformed cursor");
  // Round trip: rejects non-canonical encodings (and invalid UTF-8 turned into U+FFFD).
  if (encodeCursor({ firstSeen, uuid: m[2] }) !== cursor) throw new CursorError("malformed cursor");
  return { firstSeen, uuid: m[2] };
}
