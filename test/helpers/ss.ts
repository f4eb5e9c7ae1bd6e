// Runs `ss -atinmeHO` (iproute2), an independent reader of the same kernel data, and
// parses each line into its key:value fields.
export interface SsSocket {
  state: string;
  local: string;
  peer: string;
  /** sk: the socket cookie, hex as ss prints it. */
  cookie: bigint;
  fields: Map<string, string>;
}

/** `netns`: a name under /var/run/netns to run ss in (default: this process's namespace). */
export function ssSockets(filter: string[], netns?: string): SsSocket[] {
  const r = Bun.spawnSync([...(netns ? ["ip", "netns", "exec", netns] : []), "ss", "-atinmeHO", ...filter]);
  if (r.exitCode !== 0) throw new Error(`ss failed: ${r.stderr.toString()}`);
  const out: SsSocket[] = [];
  for (const line of r.stdout.toString().split("\n")) {
    const tok = line.trim().split(/\s+/);
    if (tok.length < 5) continue;
    const fields = new Map<string, string>();
    for (const t of tok.slice(5)) {
      const i = t.indexOf(":");
      if (i > 0) fields.set(t.slice(0, i), t.slice(i + 1));
      else fields.set(t, "");
    }
    const sk = fields.get("sk");
    if (sk === undefined) continue;
    out.push({ state: tok[0], local: tok[3], peer: tok[4], cookie: BigInt(`0x${sk}`), fields });
  }
  return out;
}
