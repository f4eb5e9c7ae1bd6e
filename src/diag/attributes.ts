// Indexes the rtattrs that follow an inet_diag_msg: for each attribute type, where its
// payload starts and how long it is. The index object is reused across messages.
import { ATTR_TABLE_SIZE } from "./constants.ts";

const RTA_HDRLEN = 4;
const align4 = (n: number): number => (n + 3) & ~3;

export class AttributeIndex {
  /** Payload offset (into the buffer last indexed) by type, -1 when absent. */
  readonly offset = new Int32Array(ATTR_TABLE_SIZE).fill(-1);
  /** Payload length by type (no rtattr header). */
  readonly length = new Int32Array(ATTR_TABLE_SIZE);
  /** Highest type present, -1 when none. */
  maxType = -1;
  /** Attributes of a type >= ATTR_TABLE_SIZE, which are skipped. */
  unknown = 0;
  /** True when the attribute area ended with a truncated or overlong attribute. */
  malformed = false;
  /** Where the indexed area ends in the buffer (its message's end), once index() succeeded. */
  end = 0;

  /** Indexes attributes in `buf[start, end)`. Returns false if the area is malformed. */
  index(buf: Uint8Array, start: number, end: number): boolean {
    this.reset();
    const limit = Math.min(end, buf.byteLength);
    let off = start;
    while (off + RTA_HDRLEN <= limit) {
      // Byte reads rather than a DataView: this runs for every socket of every poll.
      const len = buf[off] | (buf[off + 1] << 8);
      if (len < RTA_HDRLEN || len > limit - off) {
        this.malformed = true;
        return false;
      }
      // NLA_F_NESTED and NLA_F_NET_BYTEORDER live in the top bits of the type.
      const type = (buf[off + 2] | (buf[off + 3] << 8)) & 0x3fff;
      if (type < ATTR_TABLE_SIZE) {
        this.offset[type] = off + RTA_HDRLEN;
        this.length[type] = len - RTA_HDRLEN;
        if (type > this.maxType) this.maxType = type;
      } else {
        this.unknown++;
      }
      off += align4(len);
    }
    // Fewer than 4 bytes left over is only padding.
    this.end = limit;
    return true;
  }

  has(type: number): boolean {
    return this.offset[type] >= 0;
  }

  /** A view (no copy) of the payload of `type` in `buf`, or null. */
  view(buf: Uint8Array, type: number): Uint8Array | null {
    const o = this.offset[type];
    return o < 0 ? null : buf.subarray(o, o + this.length[type]);
  }

  reset(): void {
    // A loop, not fill(): a native call costs more than the ~20 slots a message uses.
    const offset = this.offset;
    for (let t = 0; t <= this.maxType; t++) offset[t] = -1;
    this.maxType = -1;
    this.unknown = 0;
    this.malformed = false;
  }
}
