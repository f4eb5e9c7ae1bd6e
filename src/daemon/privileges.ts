// What the collector cannot see without privileges, said once at start. Dumping sockets
// needs none; the kernel withholds the rest from a process without CAP_NET_ADMIN.
import { readFileSync } from "node:fs";

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

/** The process's effective capabilities (/proc/self/status CapEff), or null if unreadable. */
export function effectiveCapabilities(status?: string): bigint | null {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status ?? readFileSync("/proc/self/status", "utf8"));
    return m ? BigInt(`0x${m[1]}`) : null;
  } catch {
    return null;
  }
}

/**
 * The warning to log when CAP_NET_ADMIN is missing (naming what is lost), or null. The
 * kernel sends INET_DIAG_MARK only to a process with it (inet_diag's net_admin check);
 * dumps and destroy events need nothing (measured on 6.18 as an unprivileged user).
 */
export function privilegeWarning(caps: bigint | null): string | null {
  if (caps === null || (caps & (1n << BigInt(CAP_NET_ADMIN))) !== 0n) return null;
  return "warning: running without CAP_NET_ADMIN: INET_DIAG_MARK (the socket mark) is absent from every snapshot; run as root or add CAP_NET_ADMIN to archive it";
}

/** With --netns all or paths: entering another namespace (setns) needs CAP_SYS_ADMIN. */
export function netnsPrivilegeWarning(caps: bigint | null): string | null {
  if (caps === null || (caps & (1n << BigInt(CAP_SYS_ADMIN))) !== 0n) return null;
  return "warning: running without CAP_SYS_ADMIN: setns() into other network namespaces is refused (EPERM), so only this process's own namespace is polled; run as root or add CAP_SYS_ADMIN";
}
