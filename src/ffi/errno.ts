// errno values (x86-64 / generic Linux) that a netlink socket can report, by name,
// so errors say "ENOBUFS" rather than "105".
const NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM",
  13: "EACCES", 14: "EFAULT", 16: "EBUSY", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE",
  90: "EMSGSIZE", 93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
  105: "ENOBUFS", 110: "ETIMEDOUT", 111: "ECONNREFUSED",
};

const MESSAGES: Record<string, string> = {
  EPERM: "operation not permitted (netlink sock_diag needs root or CAP_NET_ADMIN for some data)",
  EACCES: "permission denied",
  ENOBUFS: "receive buffer overrun: the kernel dropped messages",
  EAGAIN: "no data available",
  EINTR: "interrupted system call",
  EMFILE: "too many open files in this process",
  ENFILE: "too many open files in the system",
  EPROTONOSUPPORT: "protocol not supported (is sock_diag built into this kernel?)",
  EINVAL: "invalid argument",
  ENOMEM: "out of memory",
  ENOENT: "no such entry",
  ESRCH: "no such process",
};

export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EINVAL = 22;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;
export const ENOBUFS = 105;

export function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}

/** An error from a libc call, carrying the errno and its symbolic name. */
export class SyscallError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  constructor(syscall: string, errno: number) {
    const code = errnoName(errno);
    const detail = MESSAGES[code];
    super(`${syscall} failed: ${code}${detail ? ` (${detail})` : ""}`);
    this.name = "SyscallError";
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
  }
}
