// Every kind of error, lost line and oversize message the collector can count, named
// once. Metrics export each at 0 from the start (so `rate()` over them is 0, not empty),
// and the counting code takes these types, so a new kind cannot be counted without
// being listed here.

/** `tcpinfo_error_total{type}` counted by the poll thread. */
export const COLLECTOR_ERRORS = [
  "malformed_dump",
  "dump_timeout",
  "dump_failed",
  "destroy_overrun",
  "malformed_destroy",
  "destroy_failed",
  "short_message",
  "malformed_attribute",
  "poll_exception",
  "report_exception",
  "idle_exception",
  "index_backlog_dropped",
  "index_write",
  "netns_enter",
] as const;
export type CollectorError = (typeof COLLECTOR_ERRORS)[number];

/**
 * Archive errors (`tcpinfo_error_total{type="archive_<type>"}`): the errno name of a
 * failed file call, or one of ours. Errno names are open-ended: these are the ones a
 * disk, a quota, permissions or a removed folder give; any other still counts under its
 * own name.
 */
export const ARCHIVE_ERRORS = [
  "ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EIO", "ENOENT", "EMFILE", "ENFILE", "io",
  "exists", "closed", "dropped", "compact",
] as const;

/** `tcpinfo_archive_lines_lost_total{reason}`: ours, then the write errors above that lose lines. */
export const LOST_REASONS = [
  "backpressure", "shutdown_timeout", "closed", "malformed", "worker_stopped",
  "ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EIO", "ENOENT", "EMFILE", "ENFILE", "io", "exists",
] as const;

/**
 * `large_netlink_total{type}` (M-Lab's): an attribute longer than the struct the decoder
 * knows, by the struct's name as M-Lab labels it.
 */
export const LARGE_NETLINK_TYPES = ["TCPInfo", "MemInfo", "SocketMemInfo", "VegasInfo", "DCTCPInfo", "BBRInfo"] as const;
export type LargeNetlinkType = (typeof LARGE_NETLINK_TYPES)[number];

/** `netlink_skipped_total{type}`: dump messages not archived because they could not be read. */
export const NETLINK_SKIPPED_TYPES = ["short_message", "malformed_attribute", "malformed_dump"] as const;
