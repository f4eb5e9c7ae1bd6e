// Numbers from include/uapi/linux/{netlink,sock_diag,inet_diag,tcp_states}.h.

export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;

export const SOCK_DIAG_BY_FAMILY = 20;
/**
 * The older inet_diag request (struct inet_diag_req). The kernel answers it with one walk
 * of the socket tables for every family (its family field is ignored), where
 * SOCK_DIAG_BY_FAMILY walks them once per family.
 */
export const TCPDIAG_GETSOCK = 18;
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;

/** Multicast groups (enum sknetlink_groups) for destroyed sockets. */
export const SKNLGRP_INET_TCP_DESTROY = 1;
export const SKNLGRP_INET6_TCP_DESTROY = 3;
/** The bind() group mask that receives both IPv4 and IPv6 TCP destroy events. */
export const TCP_DESTROY_GROUPS = (1 << (SKNLGRP_INET_TCP_DESTROY - 1)) | (1 << (SKNLGRP_INET6_TCP_DESTROY - 1));

/** rtattr types of a SOCK_DIAG_BY_FAMILY reply (enum INET_DIAG_*). */
export const enum Attr {
  NONE = 0,
  MEMINFO = 1,
  INFO = 2,
  VEGASINFO = 3,
  CONG = 4,
  TOS = 5,
  TCLASS = 6,
  SKMEMINFO = 7,
  SHUTDOWN = 8,
  DCTCPINFO = 9,
  PROTOCOL = 10,
  SKV6ONLY = 11,
  LOCALS = 12,
  PEERS = 13,
  PAD = 14,
  MARK = 15,
  BBRINFO = 16,
  CLASS_ID = 17,
  MD5SIG = 18,
  ULP_INFO = 19,
  SK_BPF_STORAGES = 20,
  CGROUP_ID = 21,
  SOCKOPT = 22,
}
/** One past the highest attribute type we index; higher types are kept as raw bytes. */
export const ATTR_TABLE_SIZE = 32;

/** TCP states (include/net/tcp_states.h), index = kernel value. */
export const TCP_STATES = [
  "INVALID", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
  "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE",
] as const;

export function tcpStateName(state: number): string {
  return TCP_STATES[state] ?? `UNKNOWN_${state}`;
}

/** Bit mask of all TCP states, for idiag_states. */
export const ALL_TCP_STATES = 0xffffffff;
