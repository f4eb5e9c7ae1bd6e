// Reads M-Lab's published test data (copied from ../shared/testdata into test/fixtures).
import { decompress } from "zstd-napi";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// A copy of ../shared/testdata (M-Lab, Apache-2.0), kept in the repo so tests run anywhere.
export const TESTDATA = join(import.meta.dir, "..", "fixtures");

export function readZst(name: string): Uint8Array {
  return new Uint8Array(decompress(readFileSync(join(TESTDATA, name))));
}

/** The 420 raw netlink messages, concatenated (nlmsghdr + payload each). */
export function rawMessages(): Uint8Array {
  return readZst("raw-netlink-messages.bin.zst");
}

/** archiveRecords.jsonl.zst as lines (no trailing empty line). */
export function archiveRecordLines(): string[] {
  const text = new TextDecoder().decode(readZst("archiveRecords.jsonl.zst"));
  return text.split("\n").filter((l) => l.length > 0);
}
