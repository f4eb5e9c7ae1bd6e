// The UUID prefix for a command: archive naming's rule, with an unreadable or empty
// --uuid-prefix-file reported as a usage error.
import { readUuidPrefix } from "../archive/naming.ts";
import { UsageError } from "./validate.ts";

export function uuidPrefixFor(file?: string): string {
  try {
    return readUuidPrefix({ prefixFile: file });
  } catch (e) {
    if (file === undefined) throw e;
    throw new UsageError(`--uuid-prefix-file: ${(e as Error).message}`);
  }
}
