// M-Lab's rule for whether a snapshot differs enough from the previous one to archive,
// byte for byte on two messages. The cache decides through digest.ts, which covers the
// same bytes; this is the reference its tests hold it to.
import type { AttributeIndex } from "../diag/attributes.ts";
import { Attr } from "../diag/constants.ts";
import { TCPI_BUSY_TIME_OFFSET, TCPI_LAST_DATA_SENT_OFFSET, TCPI_PMTU_OFFSET } from "../diag/layouts.ts";
import { rangeEqual, type Bytes } from "./bytes.ts";

/** Why a snapshot was significant (M-Lab's ChangeType), 0 when it was not. */
export const enum Change {
  None = 0,
  StateChange = 1,
  NoTcpInfo = 2,
  NewAttribute = 3,
  LostAttribute = 4,
  AttributeLength = 5,
  CounterChange = 6,
  First = 8,
  Other = 9,
}

const STATE_OFFSET = 1;

/**
 * Compares tcp_info byte range [from, to) of two payloads, each clipped to its own length
 * (older kernels send shorter structs). Different clipped lengths count as a difference.
 */
function tcpInfoRangeEqual(a: Bytes, aOff: number, aLen: number, b: Bytes, bOff: number, bLen: number, from: number, to: number): boolean {
  const aEnd = Math.min(to, aLen);
  const bEnd = Math.min(to, bLen);
  if (aEnd !== bEnd) return false;
  return aEnd <= from || rangeEqual(a, aOff + from, b, bOff + from, aEnd - from);
}

/**
 * `prev`/`cur` hold an inet_diag_msg at `prevIdm`/`curIdm`, with attributes already
 * indexed in `prevAttrs`/`curAttrs` over the same buffers.
 */
export function classifyChange(prev: Bytes, prevIdm: number, prevAttrs: AttributeIndex, cur: Bytes, curIdm: number, curAttrs: AttributeIndex): Change {
  if (prev.u8[prevIdm + STATE_OFFSET] !== cur.u8[curIdm + STATE_OFFSET]) return Change.StateChange;

  const pInfo = prevAttrs.offset[Attr.INFO];
  const cInfo = curAttrs.offset[Attr.INFO];
  if (pInfo < 0 || cInfo < 0) return Change.NoTcpInfo;
  const pLen = prevAttrs.length[Attr.INFO];
  const cLen = curAttrs.length[Attr.INFO];
  // Counters (bytes, segments, rtt, cwnd...) first: they are what usually changes.
  if (!tcpInfoRangeEqual(prev, pInfo, pLen, cur, cInfo, cLen, TCPI_PMTU_OFFSET, TCPI_BUSY_TIME_OFFSET)) return Change.CounterChange;
  if (!tcpInfoRangeEqual(prev, pInfo, pLen, cur, cInfo, cLen, 0, TCPI_LAST_DATA_SENT_OFFSET)) return Change.CounterChange;

  if (prevAttrs.maxType < curAttrs.maxType) return Change.NewAttribute;
  if (prevAttrs.maxType > curAttrs.maxType) return Change.LostAttribute;
  for (let t = 0; t <= prevAttrs.maxType; t++) {
    if (t === Attr.INFO) continue;
    const po = prevAttrs.offset[t];
    const co = curAttrs.offset[t];
    if (po < 0 && co < 0) continue;
    if (po < 0) return Change.NewAttribute;
    if (co < 0) return Change.LostAttribute;
    const len = prevAttrs.length[t];
    if (len !== curAttrs.length[t]) return Change.AttributeLength;
    if (!rangeEqual(prev, po, cur, co, len)) return Change.Other;
  }
  return Change.None;
}
