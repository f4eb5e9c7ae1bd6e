// The UUID prefix: the contents of --uuid-prefix-file, else <hostname>_<boot time>_unsafe.
import { hostname } from "node:os";
import { readFileSync } from "node:fs";
import { UsageError } from "./validate.ts";

/** Boot time in unix seconds, from /proc/stat's btime line. */
export function bootTimeSeconds(): number {
  const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
  if (!m) throw new Error("no btime line in /proc/stat");
  return Number(m[1]);
}

export async function defaultUuidPrefix(file?: string): Promise<string> {
  if (file !== undefined) {
    let text: string;
    try {
      text = await Bun.file(file).text();
    } catch (e) {
      throw new UsageError(`cannot read --uuid-prefix-file ${file}: ${(e as Error).message}`);
    }
    const prefix = text.trim();
    if (prefix === "") throw new UsageError(`--uuid-prefix-file ${file} is empty`);
    return prefix;
  }
  return `${hostname()}_${bootTimeSeconds()}_unsafe`;
}
