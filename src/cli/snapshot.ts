// `snapshot`: one dump of every TCP socket, printed as NDJSON, one decoded snapshot per
// socket. It is `ss -tin` as JSON.
import { AttributeIndex } from "../diag/attributes.ts";
import { AF_INET, AF_INET6, NLMSG_HDRLEN } from "../diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../diag/layouts.ts";
import { destPort, isLocalConnection, sourcePort } from "../diag/sock-id.ts";
import { decodeMessage, type Snapshot } from "../diag/snapshot.ts";
import { SockDiagDumper } from "../collector/dumper.ts";
import { enterFor } from "../collector/kernel-source.ts";
import { namespacesAt, type NetnsMode } from "../collector/netns-watch.ts";
import { NetnsScanner, ownNetnsInode, type FoundNetns } from "../netns/discover.ts";
import { stringifyExact } from "../util/json.ts";
import { formatTime } from "../archive/time.ts";
import { UsageError } from "./validate.ts";

export interface SnapshotOptions {
  /** One port at either end (kept for callers that filter on one). */
  port?: number;
  /** Ports at either end: a socket matching any of them (or `port`) is kept. */
  ports?: readonly number[];
  /** Kernel TCP state numbers to keep; every state when absent. */
  states?: ReadonlySet<number>;
  includeLocal: boolean;
  family?: 4 | 6;
  uuidPrefix: string;
  timestampMs?: number;
  /** Which network namespaces to dump (default: this process's own). */
  netns?: NetnsMode;
  /** Hears of each namespace that could not be dumped (the others still are). */
  onSkip?: (what: string) => void;
}

/** The namespaces a --netns mode names now. */
function namespaces(mode: NetnsMode, onSkip: (what: string) => void): FoundNetns[] {
  if (mode.kind === "host") return [{ identity: { inode: ownNetnsInode() }, path: "/proc/thread-self/ns/net" }];
  if (mode.kind === "all") return [...new NetnsScanner().scan().found.values()];
  return [...namespacesAt(mode.paths, (path, e) => onSkip(`netns ${path}: ${e.message}`)).values()];
}

/** TCP states by the names `ss state` takes (the kernel's numbers, include/net/tcp_states.h). */
export const STATE_NAMES: Readonly<Record<string, readonly number[]>> = {
  established: [1], "syn-sent": [2], "syn-recv": [3, 12], "fin-wait-1": [4], "fin-wait-2": [5],
  "time-wait": [6], close: [7], "close-wait": [8], "last-ack": [9], listen: [10], closing: [11],
};

/** ss's other spellings and groups of the same states. */
const STATE_ALIASES: Readonly<Record<string, readonly string[]>> = {
  listening: ["listen"], closed: ["close"], "syn-rcv": ["syn-recv"], unconnected: ["close"],
  all: Object.keys(STATE_NAMES),
  // ss: every state but listen and close; synchronized also leaves out syn-sent.
  connected: Object.keys(STATE_NAMES).filter((n) => n !== "listen" && n !== "close"),
  synchronized: Object.keys(STATE_NAMES).filter((n) => n !== "listen" && n !== "close" && n !== "syn-sent"),
};

/**
 * The states `snapshot` shows: those named in `--state` values (each comma-separated), else
 * every state with `--all`, else every state but TIME_WAIT (as ss leaves it out).
 */
export function snapshotStates(values: readonly string[], all: boolean): ReadonlySet<number> {
  if (values.length > 0 && all) throw new UsageError("--all and --state exclude each other: --all shows every state");
  const names = values.flatMap((v) => v.split(",")).map((n) => n.trim().toLowerCase());
  if (values.length === 0) names.push(...Object.keys(STATE_NAMES).filter((n) => all || n !== "time-wait"));
  const states = new Set<number>();
  for (const name of names) {
    const expanded = STATE_ALIASES[name] ?? (STATE_NAMES[name] ? [name] : undefined);
    if (expanded === undefined) {
      throw new UsageError(`--state: unknown state '${name}'; one of ${Object.keys(STATE_NAMES).join(", ")} (or ${Object.keys(STATE_ALIASES).join(", ")})`);
    }
    for (const n of expanded) for (const s of STATE_NAMES[n]) states.add(s);
  }
  return states;
}

/** Takes one dump and returns the decoded snapshots that pass the filters. */
export function takeSnapshots(opts: SnapshotOptions): Snapshot[] {
  const families = opts.family === 4 ? [AF_INET] : opts.family === 6 ? [AF_INET6] : [AF_INET, AF_INET6];
  const ports = new Set([...(opts.ports ?? []), ...(opts.port === undefined ? [] : [opts.port])]);
  const attrs = new AttributeIndex();
  const timestamp = formatTime(opts.timestampMs ?? Date.now());
  const out: Snapshot[] = [];
  const onSkip = opts.onSkip ?? (() => {});
  const own = ownNetnsInode();
  for (const ns of namespaces(opts.netns ?? { kind: "host" }, onSkip)) {
    const identity = ns.identity;
    let dumper: SockDiagDumper;
    try {
      dumper = new SockDiagDumper(families, undefined, undefined, { enter: enterFor(identity.inode === own ? null : { path: ns.path, inode: identity.inode }) });
    } catch (e) {
      onSkip(`netns ${identity.inode} (${ns.path}): ${(e as Error).message}`);
      continue;
    }
    try {
      dumper.dump((buf, off, len) => {
        const idm = off + NLMSG_HDRLEN;
        if (len - NLMSG_HDRLEN < INET_DIAG_MSG_SIZE) return;
        if (opts.states !== undefined && !opts.states.has(buf[idm + 1])) return;
        if (ports.size > 0 && !ports.has(sourcePort(buf, idm)) && !ports.has(destPort(buf, idm))) return;
        if (!opts.includeLocal && isLocalConnection(buf[idm], buf, idm)) return;
        const snap = decodeMessage(buf, off, len, attrs, { timestamp, uuidPrefix: opts.uuidPrefix });
        if (snap) {
          snap.netns = identity;
          out.push(snap);
        }
      });
    } catch (e) {
      onSkip(`netns ${identity.inode} (${ns.path}): ${(e as Error).message}`);
    } finally {
      dumper.close();
    }
  }
  return out;
}

export function snapshotLines(snaps: readonly Snapshot[]): string {
  return snaps.map((s) => stringifyExact(s) + "\n").join("");
}
