// Kernel structs (include/uapi/linux/inet_diag.h, tcp.h, sock_diag.h) as field tables.
// Offsets are those of x86-64 and every other Linux ABI: these structs have no padding
// that differs between architectures.
import { layout } from "./struct.ts";

/** struct inet_diag_msg (72 bytes), the fixed part of every SOCK_DIAG_BY_FAMILY reply. */
export const INET_DIAG_MSG = layout([
  ["family", 0, "u8"],
  ["state", 1, "u8"],
  ["timer", 2, "u8"],
  ["retrans", 3, "u8"],
  // struct inet_diag_sockid: ports and interface are big-endian, the cookie host order.
  ["sport", 4, "be16"],
  ["dport", 6, "be16"],
  // src: 8..24, dst: 24..40 (16 bytes each; IPv4 uses the first 4)
  ["interface", 40, "be32"],
  ["cookieLo", 44, "u32"],
  ["cookieHi", 48, "u32"],
  ["expires", 52, "u32"],
  ["rqueue", 56, "u32"],
  ["wqueue", 60, "u32"],
  ["uid", 64, "u32"],
  ["inode", 68, "u32"],
]);
export const INET_DIAG_MSG_SIZE = 72;
export const SRC_ADDR_OFFSET = 8;
export const DST_ADDR_OFFSET = 24;
export const COOKIE_OFFSET = 44;

/** struct tcp_info as of Linux 6.18 (280 bytes). Older kernels send a prefix of it. */
export const TCP_INFO = layout([
  ["state", 0, "u8"],
  ["caState", 1, "u8"],
  ["retransmits", 2, "u8"],
  ["probes", 3, "u8"],
  ["backoff", 4, "u8"],
  ["options", 5, "u8"],
  ["sndWscale", 6, "u8", 0, 4],
  ["rcvWscale", 6, "u8", 4, 4],
  ["deliveryRateAppLimited", 7, "u8", 0, 1],
  ["fastopenClientFail", 7, "u8", 1, 2],
  ["rto", 8, "u32"],
  ["ato", 12, "u32"],
  ["sndMss", 16, "u32"],
  ["rcvMss", 20, "u32"],
  ["unacked", 24, "u32"],
  ["sacked", 28, "u32"],
  ["lost", 32, "u32"],
  ["retrans", 36, "u32"],
  ["fackets", 40, "u32"],
  ["lastDataSent", 44, "u32"],
  ["lastAckSent", 48, "u32"],
  ["lastDataRecv", 52, "u32"],
  ["lastAckRecv", 56, "u32"],
  ["pmtu", 60, "u32"],
  ["rcvSsthresh", 64, "u32"],
  ["rtt", 68, "u32"],
  ["rttvar", 72, "u32"],
  ["sndSsthresh", 76, "u32"],
  ["sndCwnd", 80, "u32"],
  ["advmss", 84, "u32"],
  ["reordering", 88, "u32"],
  ["rcvRtt", 92, "u32"],
  ["rcvSpace", 96, "u32"],
  ["totalRetrans", 100, "u32"],
  ["pacingRate", 104, "u64"],
  ["maxPacingRate", 112, "u64"],
  ["bytesAcked", 120, "u64"],
  ["bytesReceived", 128, "u64"],
  ["segsOut", 136, "u32"],
  ["segsIn", 140, "u32"],
  ["notsentBytes", 144, "u32"],
  ["minRtt", 148, "u32"],
  ["dataSegsIn", 152, "u32"],
  ["dataSegsOut", 156, "u32"],
  ["deliveryRate", 160, "u64"],
  ["busyTime", 168, "u64"],
  ["rwndLimited", 176, "u64"],
  ["sndbufLimited", 184, "u64"],
  ["delivered", 192, "u32"],
  ["deliveredCe", 196, "u32"],
  ["bytesSent", 200, "u64"],
  ["bytesRetrans", 208, "u64"],
  ["dsackDups", 216, "u32"],
  ["reordSeen", 220, "u32"],
  ["rcvOoopack", 224, "u32"],
  ["sndWnd", 228, "u32"],
  ["rcvWnd", 232, "u32"],
  ["rehash", 236, "u32"],
  ["totalRto", 240, "u16"],
  ["totalRtoRecoveries", 242, "u16"],
  ["totalRtoTime", 244, "u32"],
  ["receivedCe", 248, "u32"],
  ["deliveredE1Bytes", 252, "u32"],
  ["deliveredE0Bytes", 256, "u32"],
  ["deliveredCeBytes", 260, "u32"],
  ["receivedE1Bytes", 264, "u32"],
  ["receivedE0Bytes", 268, "u32"],
  ["receivedCeBytes", 272, "u32"],
  ["ecnMode", 276, "u32", 0, 2],
  ["accecnOptSeen", 276, "u32", 2, 2],
  ["accecnFailMode", 276, "u32", 4, 4],
  ["options2", 276, "u32", 8, 24],
]);

// Byte ranges of tcp_info that M-Lab's change rule compares (see src/diff).
export const TCPI_LAST_DATA_SENT_OFFSET = 44;
export const TCPI_PMTU_OFFSET = 60;
export const TCPI_BUSY_TIME_OFFSET = 168;
// Counters the index keeps as a connection's final figures.
export const TCPI_BYTES_ACKED_OFFSET = 120;
export const TCPI_BYTES_RECEIVED_OFFSET = 128;
export const TCPI_BYTES_SENT_OFFSET = 200;

/** struct inet_diag_meminfo (INET_DIAG_MEMINFO). */
export const MEM_INFO = layout([
  ["rmem", 0, "u32"],
  ["wmem", 4, "u32"],
  ["fmem", 8, "u32"],
  ["tmem", 12, "u32"],
]);

/** u32[SK_MEMINFO_VARS] (INET_DIAG_SKMEMINFO), as `ss -m` shows it. */
export const SK_MEM_INFO = layout([
  ["rmemAlloc", 0, "u32"],
  ["rcvbuf", 4, "u32"],
  ["wmemAlloc", 8, "u32"],
  ["sndbuf", 12, "u32"],
  ["fwdAlloc", 16, "u32"],
  ["wmemQueued", 20, "u32"],
  ["optmem", 24, "u32"],
  ["backlog", 28, "u32"],
  ["drops", 32, "u32"],
]);

/** struct tcpvegas_info (INET_DIAG_VEGASINFO). */
export const VEGAS_INFO = layout([
  ["enabled", 0, "u32"],
  ["rttcnt", 4, "u32"],
  ["rtt", 8, "u32"],
  ["minrtt", 12, "u32"],
]);

/** struct tcp_dctcp_info (INET_DIAG_DCTCPINFO). */
export const DCTCP_INFO = layout([
  ["enabled", 0, "u16"],
  ["ceState", 2, "u16"],
  ["alpha", 4, "u32"],
  ["abEcn", 8, "u32"],
  ["abTot", 12, "u32"],
]);

/** struct tcp_bbr_info (INET_DIAG_BBRINFO); bandwidth is bwLo | bwHi << 32 bytes/s. */
export const BBR_INFO = layout([
  ["bwLo", 0, "u32"],
  ["bwHi", 4, "u32"],
  ["minRtt", 8, "u32"],
  ["pacingGain", 12, "u32"],
  ["cwndGain", 16, "u32"],
]);

/** struct inet_diag_sockopt (INET_DIAG_SOCKOPT): one u16 of flag bits. */
export const SOCKOPT = layout([
  ["recverr", 0, "u16", 0, 1],
  ["isIcsk", 0, "u16", 1, 1],
  ["freebind", 0, "u16", 2, 1],
  ["hdrincl", 0, "u16", 3, 1],
  ["mcLoop", 0, "u16", 4, 1],
  ["transparent", 0, "u16", 5, 1],
  ["mcAll", 0, "u16", 6, 1],
  ["nodefrag", 0, "u16", 7, 1],
  ["bindAddressNoPort", 0, "u16", 8, 1],
  ["recverrRfc4884", 0, "u16", 9, 1],
  ["deferConnect", 0, "u16", 10, 1],
]);
