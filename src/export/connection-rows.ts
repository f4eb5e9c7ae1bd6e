// Index rows as the `connections` table: every index column, the host, the file list.
import type { ConnectionWithFiles } from "../index-db/index.ts";
import { builders, sliceOf, type TableSlice } from "./table-slice.ts";
import type { ColumnBuilder } from "./column-builder.ts";
import { CONNECTION_COLUMNS } from "./columns.ts";

const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;

export class ConnectionRows {
  private readonly cols: ColumnBuilder[] = builders(CONNECTION_COLUMNS, 256);
  private readonly at = new Map(CONNECTION_COLUMNS.map((c, i) => [c.name, i]));

  get length(): number {
    return this.cols[0].length;
  }

  private col(name: string): ColumnBuilder {
    return this.cols[this.at.get(name)!];
  }

  add(c: ConnectionWithFiles, host: string): void {
    const str = (name: string, v: string | null | undefined) => (v === null || v === undefined ? this.col(name).pushNull() : this.col(name).pushString(v));
    const big = (name: string, v: bigint | null | undefined) => (v === null || v === undefined ? this.col(name).pushNull() : this.col(name).pushBig(v));
    str("uuid", c.uuid);
    big("cookie", c.cookie);
    str("host", host);
    big("netns_inode", c.netns === undefined ? null : BigInt(c.netns.inode));
    str("netns_name", c.netns?.name);
    str("container", c.netns?.container);
    str("pod", c.netns?.pod);
    this.col("family").push(c.family);
    str("src_ip", c.src.ip);
    this.col("src_port").push(c.src.port);
    str("dst_ip", c.dst.ip);
    this.col("dst_port").push(c.dst.port);
    this.col("interface").push(c.interface);
    this.col("uid").push(c.uid);
    this.col("inode").push(c.inode);
    big("first_seen", ns(c.firstSeen));
    big("last_seen", ns(c.lastSeen));
    big("closed_at", c.closedAt === null ? null : ns(c.closedAt));
    str("end_reason", c.endReason);
    this.col("first_state").push(c.firstState);
    this.col("last_state").push(c.lastState);
    big("bytes_sent", c.bytesSent);
    big("bytes_received", c.bytesReceived);
    big("bytes_acked", c.bytesAcked);
    this.col("snapshots").push(c.snapshots);
    str("files", c.files.map((f) => f.path).join(" "));
  }

  /** The rows as a slice for the Parquet writer, valid until the next push. */
  table(): TableSlice {
    return sliceOf(this.cols);
  }
}
