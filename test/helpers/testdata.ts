// Reads M-Lab's published test data from ../shared/testdata (read-only).
import { decompress } from "zstd-napi";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const TESTDATA = join(import.meta.dir, "..", "..", "..", "shared", "testdata");

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
