// Starts netns-holder.py (connections held open inside network namespaces) and waits
// until its connections are up. Shared by the namespace tests and bench scenario 12.
import { join } from "node:path";

const HOLDER = join(import.meta.dir, "netns-holder.py");

export type Holder = Bun.Subprocess<"pipe", "pipe", "inherit">;

/**
 * Holds `count` loopback connections to `port` inside each namespace of `paths`
 * (/var/run/netns/NAME). `track` hears of the process before it is ready, so a caller's
 * cleanup can kill it even when it fails to start.
 */
export async function startHolder(paths: readonly string[], count: number, port: number, opts: { leave?: boolean; track?: (h: Holder) => void } = {}): Promise<Holder> {
  const argv = ["python3", HOLDER, paths.join(","), String(count), String(port), ...(opts.leave ? ["--leave"] : [])];
  const p = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  opts.track?.(p);
  const reader = p.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  if (!new TextDecoder().decode(value).startsWith("READY")) throw new Error(`the connection holder for ${paths.join(", ")} did not start`);
  return p;
}
