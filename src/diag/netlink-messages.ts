// Splits a netlink receive buffer into messages. Pure: bounds-checked, never throws on
// bad input, and always advances, so a corrupt buffer cannot loop forever.
import { AF_INET, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN } from "./constants.ts";

export const enum SplitStatus {
  /** The chunk held only data messages: more chunks follow. */
  More = 0,
  /** NLMSG_DONE was seen: the dump is complete. */
  Done = 1,
  /** NLMSG_ERROR with a non-zero error: the dump failed (see `errno`). */
  Error = 2,
  /** A header was truncated or claimed a length past the end; the rest was skipped. */
  Malformed = 3,
}

/** Called for each data message: `offset`/`length` cover the whole message, header included. */
export type MessageVisitor = (buf: Uint8Array, offset: number, length: number, type: number) => void;

export interface SplitState {
  /** errno (positive) from the last NLMSG_ERROR, else 0. */
  errno: number;
  /** Data messages visited by the last call. */
  messages: number;
  /** Of those, inet_diag replies for IPv4 sockets (idiag_family, the payload's first byte). */
  inet: number;
}

export function newSplitState(): SplitState {
  return { errno: 0, messages: 0, inet: 0 };
}

const align4 = (n: number): number => (n + 3) & ~3;

/**
 * Walks `buf[0, length)` and hands every data message to `visit`. Control messages
 * (NOOP, DONE, ERROR, OVERRUN) are handled here.
 */
export function splitMessages(buf: Uint8Array, length: number, visit: MessageVisitor, state: SplitState): SplitStatus {
  const dv = new DataView(buf.buffer, buf.byteOffset, Math.min(length, buf.byteLength));
  const end = dv.byteLength;
  state.errno = 0;
  state.messages = 0;
  state.inet = 0;
  let off = 0;
  while (off + NLMSG_HDRLEN <= end) {
    const len = dv.getUint32(off, true);
    if (len < NLMSG_HDRLEN || len > end - off) return SplitStatus.Malformed;
    const type = dv.getUint16(off + 4, true);
    if (type === NLMSG_DONE) return SplitStatus.Done;
    if (type === NLMSG_ERROR) {
      // struct nlmsgerr { int error; struct nlmsghdr msg; }: error 0 is an ACK.
      const err = len >= NLMSG_HDRLEN + 4 ? dv.getInt32(off + NLMSG_HDRLEN, true) : -22;
      if (err !== 0) {
        state.errno = -err;
        return SplitStatus.Error;
      }
    } else if (type !== NLMSG_NOOP && type !== NLMSG_OVERRUN) {
      state.messages++;
      if (len > NLMSG_HDRLEN && buf[off + NLMSG_HDRLEN] === AF_INET) state.inet++;
      visit(buf, off, len, type);
    }
    off += align4(len);
  }
  // Leftover bytes too short for a header mean a truncated message.
  return off < end ? SplitStatus.Malformed : SplitStatus.More;
}
