// The exported tables' columns, described once: the snapshot table's decoded columns are
// generated from the kernel struct field tables of src/diag/layouts.ts, named as the
// kernel names them (tcp_info's tcpi_*, inet_diag_meminfo's idiag_*, ...). The Parquet
// writer, the docs (docs/parquet.md, generated) and the tests all read this list.
import { Attr } from "../diag/constants.ts";
import { BBR_INFO, DCTCP_INFO, MEM_INFO, SK_MEM_INFO, SOCKOPT, TCP_INFO, VEGAS_INFO } from "../diag/layouts.ts";
import type { Field, FieldType, StructLayout } from "../diag/struct.ts";

/** Column types, as Arrow (and Parquet) types: unsigned stay unsigned, u64 is UINT64 (never a float). */
export type ColumnType = "u8" | "u16" | "u32" | "u64" | "i32" | "i64" | "utf8" | "timestamp_ns";

export interface ColumnDef {
  name: string;
  type: ColumnType;
  /** Never null. */
  required?: boolean;
  doc: string;
}

/** A column read from one attribute's struct. */
export interface StructColumn extends ColumnDef {
  attr: Attr;
  field: Field;
}

const ARROW_OF: Record<FieldType, ColumnType> = { u8: "u8", u16: "u16", u32: "u32", u64: "u64", s32: "i32", be16: "u16", be32: "u32" };

function snake(camel: string): string {
  return camel.replace(/[A-Z][0-9]*/g, (m) => `_${m.toLowerCase()}`);
}

function structColumns(attr: Attr, layout: StructLayout, prefix: string, what: string): StructColumn[] {
  return layout.map((field) => ({ name: prefix + snake(field.name), type: ARROW_OF[field.type], attr, field, doc: `${what} ${field.name}` }));
}

/** Every decoded struct field, in attribute order; null when the kernel did not send it (or a shorter struct). */
export const STRUCT_COLUMNS: readonly StructColumn[] = [
  ...structColumns(Attr.INFO, TCP_INFO, "tcpi_", "struct tcp_info"),
  ...structColumns(Attr.MEMINFO, MEM_INFO, "idiag_", "struct inet_diag_meminfo"),
  ...structColumns(Attr.SKMEMINFO, SK_MEM_INFO, "sk_meminfo_", "SK_MEMINFO_* (INET_DIAG_SKMEMINFO)"),
  ...structColumns(Attr.VEGASINFO, VEGAS_INFO, "tcpv_", "struct tcpvegas_info"),
  ...structColumns(Attr.DCTCPINFO, DCTCP_INFO, "dctcp_", "struct tcp_dctcp_info"),
  ...structColumns(Attr.BBRINFO, BBR_INFO, "bbr_", "struct tcp_bbr_info"),
  ...structColumns(Attr.SOCKOPT, SOCKOPT, "sockopt_", "struct inet_diag_sockopt"),
];

/** Single-value attributes. */
export const SCALAR_COLUMNS: readonly (ColumnDef & { attr: Attr })[] = [
  { name: "congestion", type: "utf8", attr: Attr.CONG, doc: "INET_DIAG_CONG: congestion control algorithm" },
  { name: "tos", type: "u8", attr: Attr.TOS, doc: "INET_DIAG_TOS" },
  { name: "tclass", type: "u8", attr: Attr.TCLASS, doc: "INET_DIAG_TCLASS" },
  { name: "shutdown", type: "u8", attr: Attr.SHUTDOWN, doc: "INET_DIAG_SHUTDOWN: shutdown state bits" },
  { name: "mark", type: "u32", attr: Attr.MARK, doc: "INET_DIAG_MARK: socket mark (sent only to CAP_NET_ADMIN)" },
  { name: "class_id", type: "u32", attr: Attr.CLASS_ID, doc: "INET_DIAG_CLASS_ID" },
  { name: "cgroup_id", type: "u64", attr: Attr.CGROUP_ID, doc: "INET_DIAG_CGROUP_ID" },
];

/** Columns of every snapshot row before the decoded ones: identity, time, inet_diag_msg. */
export const SNAPSHOT_HEAD: readonly ColumnDef[] = [
  { name: "uuid", type: "utf8", required: true, doc: "connection UUID (as in the archive's name and the index)" },
  { name: "cookie", type: "u64", required: true, doc: "socket cookie" },
  { name: "timestamp", type: "timestamp_ns", required: true, doc: "snapshot time, nanoseconds, UTC" },
  { name: "snapshots", type: "u32", required: true, doc: "snapshots this row stands for: 1, or with --every the ones thinned into it (itself included)" },
  { name: "family", type: "u8", required: true, doc: "4 or 6" },
  { name: "state", type: "u8", required: true, doc: "TCP state number (inet_diag_msg idiag_state)" },
  { name: "src_ip", type: "utf8", required: true, doc: "source address (as the collector stores it; anonymized if the archive was)" },
  { name: "src_port", type: "u16", required: true, doc: "source port" },
  { name: "dst_ip", type: "utf8", required: true, doc: "destination address" },
  { name: "dst_port", type: "u16", required: true, doc: "destination port" },
  { name: "interface", type: "u32", required: true, doc: "inet_diag_sockid idiag_if" },
  { name: "timer", type: "u8", required: true, doc: "idiag_timer" },
  { name: "retrans", type: "u8", required: true, doc: "idiag_retrans" },
  { name: "expires", type: "u32", required: true, doc: "idiag_expires" },
  { name: "rqueue", type: "u32", required: true, doc: "idiag_rqueue" },
  { name: "wqueue", type: "u32", required: true, doc: "idiag_wqueue" },
  { name: "uid", type: "u32", required: true, doc: "idiag_uid" },
  { name: "inode", type: "u32", required: true, doc: "idiag_inode" },
];

export const SNAPSHOT_COLUMNS: readonly ColumnDef[] = [...SNAPSHOT_HEAD, ...STRUCT_COLUMNS, ...SCALAR_COLUMNS];

/** The connections table: every index column. */
export const CONNECTION_COLUMNS: readonly ColumnDef[] = [
  { name: "uuid", type: "utf8", required: true, doc: "connection UUID" },
  { name: "cookie", type: "u64", required: true, doc: "socket cookie" },
  { name: "host", type: "utf8", required: true, doc: "the host that collected it (also a partition key)" },
  { name: "netns_inode", type: "i64", doc: "network namespace inode" },
  { name: "netns_name", type: "utf8", doc: "its /var/run/netns name" },
  { name: "container", type: "utf8", doc: "container id of a process in the namespace" },
  { name: "pod", type: "utf8", doc: "Kubernetes pod UID of a process in the namespace" },
  { name: "family", type: "u8", required: true, doc: "4 or 6" },
  { name: "src_ip", type: "utf8", required: true, doc: "source address" },
  { name: "src_port", type: "u16", required: true, doc: "source port" },
  { name: "dst_ip", type: "utf8", required: true, doc: "destination address" },
  { name: "dst_port", type: "u16", required: true, doc: "destination port" },
  { name: "interface", type: "u32", required: true, doc: "interface index" },
  { name: "uid", type: "u32", required: true, doc: "owner uid" },
  { name: "inode", type: "u32", required: true, doc: "socket inode" },
  { name: "first_seen", type: "timestamp_ns", required: true, doc: "first seen (millisecond precision)" },
  { name: "last_seen", type: "timestamp_ns", required: true, doc: "last archived snapshot (millisecond precision)" },
  { name: "closed_at", type: "timestamp_ns", doc: "when it ended" },
  { name: "end_reason", type: "utf8", doc: "destroy, vanished, restart, netns_gone, shutdown" },
  { name: "first_state", type: "u8", required: true, doc: "TCP state when first seen" },
  { name: "last_state", type: "u8", required: true, doc: "TCP state of the last snapshot" },
  { name: "bytes_sent", type: "u64", doc: "tcpi_bytes_sent of the last snapshot" },
  { name: "bytes_received", type: "u64", doc: "tcpi_bytes_received of the last snapshot" },
  { name: "bytes_acked", type: "u64", doc: "tcpi_bytes_acked of the last snapshot" },
  { name: "snapshots", type: "u32", required: true, doc: "snapshots archived" },
  { name: "files", type: "utf8", required: true, doc: "its archive files, relative to the collector's output folder, space-separated in sequence order" },
];
