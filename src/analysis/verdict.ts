// One line saying what limited a connection: the largest of the chrono states (the
// Web100 / RFC 4898 triage: out of receive window = receiver, out of send buffer =
// sender's buffer, out of cwnd = path) or, when idle time dominates, the application.
import type { LimitedTimes } from "./limited.ts";

export type VerdictKind = "receiver" | "send-buffer" | "network" | "application" | "unknown";

export interface Verdict {
  kind: VerdictKind;
  text: string;
}

/** Figures quoted in the text when known. */
export interface VerdictEvidence {
  /** Largest peer-advertised window seen (tcpi_snd_wnd), bytes. */
  peerWindowMaxBytes?: number;
  /** Largest send buffer seen (skmeminfo sndbuf), bytes. */
  sndbufMaxBytes?: number;
  cwndPeak?: number;
  rttMedianMs?: number;
  retransRate?: number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))} ${units[u]}`;
}

const pct = (share: number): string => `${Math.round(share * 100)}%`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

export function verdictOf(l: LimitedTimes | undefined, ev: VerdictEvidence = {}): Verdict {
  if (!l) return { kind: "unknown", text: "unknown: the kernel sent no chrono counters (tcpi_busy_time needs Linux 4.10+)" };
  const candidates: [VerdictKind, number][] = [
    ["receiver", l.rwndLimitedMs],
    ["send-buffer", l.sndbufLimitedMs],
    ["network", l.congestionLimitedMs],
    ["application", l.appLimitedMs ?? 0],
  ];
  let [kind, ms] = candidates[0];
  for (const [k, v] of candidates) if (v > ms) [kind, ms] = [k, v];
  if (!(ms > 0)) return { kind: "unknown", text: "unknown: the connection was never busy sending data" };
  const ofBusy = `of busy time (${secs(ms)} of ${secs(l.busyMs)})`;
  switch (kind) {
    case "receiver": {
      const wnd = ev.peerWindowMaxBytes === undefined ? "" : `: the peer's window stayed at or below ${formatBytes(ev.peerWindowMaxBytes)}`;
      return { kind, text: `receiver-limited ${pct(l.rwndShare ?? 0)} ${ofBusy}${wnd}` };
    }
    case "send-buffer": {
      const buf = ev.sndbufMaxBytes === undefined ? "" : `: the send buffer was at most ${formatBytes(ev.sndbufMaxBytes)}`;
      return { kind, text: `send-buffer-limited ${pct(l.sndbufShare ?? 0)} ${ofBusy}${buf}` };
    }
    case "network": {
      const facts = [
        ev.cwndPeak === undefined ? null : `cwnd peaked at ${ev.cwndPeak} segments`,
        ev.rttMedianMs === undefined ? null : `median RTT ${ev.rttMedianMs.toFixed(2)} ms`,
        ev.retransRate === undefined ? null : `${(ev.retransRate * 100).toFixed(2)}% of segments retransmitted`,
      ].filter((f): f is string => f !== null);
      return { kind, text: `network-limited ${pct(l.congestionShare ?? 0)} ${ofBusy}${facts.length ? `: ${facts.join(", ")}` : ""}` };
    }
    default:
      return {
        kind: "application",
        text: `application-limited: idle with nothing to send ${pct(l.appLimitedShare ?? 0)} of the time (${secs(ms)} of ${secs(l.elapsedMs)}; busy ${secs(l.busyMs)})`,
      };
  }
}
