// A real inet_diag message (from M-Lab's test data: an established socket with tcp_info)
// with its cookie, TCP state and counters replaced, for replaying chosen histories.
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE, TCPI_BYTES_ACKED_OFFSET } from "../../src/diag/layouts.ts";
import { rawMessages } from "./testdata.ts";

const COOKIE_AT = NLMSG_HDRLEN + 44;
export const ESTABLISHED = 1;
export const CLOSE = 7;

/** The first recorded message of an established socket with tcp_info. */
function recordedEstablished(): Uint8Array {
  const all = rawMessages();
  const attrs = new AttributeIndex();
  for (let off = 0; off + NLMSG_HDRLEN <= all.byteLength; ) {
    const len = new DataView(all.buffer, all.byteOffset + off).getUint32(0, true);
    const idm = off + NLMSG_HDRLEN;
    if (all[idm + 1] === ESTABLISHED && attrs.index(all, idm + INET_DIAG_MSG_SIZE, off + len) && attrs.has(Attr.INFO)) {
      return all.slice(off, off + len);
    }
    off += (len + 3) & ~3;
  }
  throw new Error("no established message with tcp_info in the test data");
}

const BASE = recordedEstablished();

/** The recorded message with its cookie, TCP state and tcpi_bytes_acked replaced. */
export function message(cookie: bigint, opts: { state?: number; acked?: bigint } = {}): Uint8Array {
  const m = BASE.slice();
  const v = new DataView(m.buffer);
  v.setBigUint64(COOKIE_AT, cookie, true);
  if (opts.state !== undefined) m[NLMSG_HDRLEN + 1] = opts.state;
  if (opts.acked !== undefined) {
    const attrs = new AttributeIndex();
    attrs.index(m, NLMSG_HDRLEN + INET_DIAG_MSG_SIZE, m.byteLength);
    v.setBigUint64(attrs.offset[Attr.INFO] + TCPI_BYTES_ACKED_OFFSET, opts.acked, true);
  }
  return m;
}

