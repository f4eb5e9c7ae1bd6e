// Attributes longer than the struct this collector decodes (a newer kernel's), counted
// per archived snapshot as M-Lab's large_netlink_total counts them per decoded message:
// a sign that the decoder lags the kernel. The archive keeps every byte either way.
import type { AttributeIndex } from "../diag/attributes.ts";
import { Attr } from "../diag/constants.ts";
import { BBR_INFO, DCTCP_INFO, MEM_INFO, SK_MEM_INFO, TCP_INFO, VEGAS_INFO } from "../diag/layouts.ts";
import { layoutSize, type StructLayout } from "../diag/struct.ts";
import type { LargeNetlinkType } from "../model/counted.ts";

const KNOWN: readonly (readonly [number, number, LargeNetlinkType])[] = (
  [
    [Attr.INFO, TCP_INFO, "TCPInfo"],
    [Attr.MEMINFO, MEM_INFO, "MemInfo"],
    [Attr.SKMEMINFO, SK_MEM_INFO, "SocketMemInfo"],
    [Attr.VEGASINFO, VEGAS_INFO, "VegasInfo"],
    [Attr.DCTCPINFO, DCTCP_INFO, "DCTCPInfo"],
    [Attr.BBRINFO, BBR_INFO, "BBRInfo"],
  ] as const
).map(([type, l, name]) => [type, layoutSize(l as StructLayout), name] as const);

/** Counts into `counts` each attribute of the indexed message longer than its struct. */
export function countOversize(attrs: AttributeIndex, counts: Map<LargeNetlinkType, number>): void {
  for (const [type, size, name] of KNOWN) {
    if (attrs.offset[type] >= 0 && attrs.length[type] > size) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
}
