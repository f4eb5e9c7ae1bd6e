// The index as the commands that only read it open it: a missing or unopenable file is
// one line on stderr saying so (with where an index comes from), not an exception.
import { existsSync } from "node:fs";
import { ConnectionIndex } from "../index-db/index.ts";

/** The index at `db`, read-only, or null once `err` has said why not. */
export function openIndexReadonly(db: string, err: { write(s: string): unknown }, hint: string): ConnectionIndex | null {
  if (!existsSync(db)) {
    err.write(`cannot open index ${db}: no such file (${hint})\n`);
    return null;
  }
  try {
    return ConnectionIndex.open(db, { readonly: true });
  } catch (e) {
    err.write(`cannot open index ${db}: ${e instanceof Error ? e.message : String(e)}\n`);
    return null;
  }
}
