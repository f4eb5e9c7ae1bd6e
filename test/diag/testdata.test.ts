// M-Lab's real kernel messages: every one splits, parses and decodes, and the sock ids
// agree with the RawIDM that M-Lab's own code archived for the same messages.
import { expect, test } from "bun:test";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN, SOCK_DIAG_BY_FAMILY } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE, TCP_INFO } from "../../src/diag/layouts.ts";
import { newSplitState, SplitStatus, splitMessages } from "../../src/diag/netlink-messages.ts";
import { decodeMessage, parseInetDiagMsg } from "../../src/diag/snapshot.ts";
import { decodeStruct, fieldSize } from "../../src/diag/struct.ts";
import { archiveRecordLines, rawMessages } from "../helpers/testdata.ts";

const raw = rawMessages();

function collect(): { off: number; len: number; type: number }[] {
  const out: { off: number; len: number; type: number }[] = [];
  const state = newSplitState();
  const status = splitMessages(raw, raw.byteLength, (_b, off, len, type) => out.push({ off, len, type }), state);
  expect(status).toBe(SplitStatus.More);
  return out;
}

test("all 420 messages split, each a SOCK_DIAG_BY_FAMILY reply", () => {
  const msgs = collect();
  expect(msgs.length).toBe(420);
  for (const m of msgs) expect(m.type).toBe(SOCK_DIAG_BY_FAMILY);
  const last = msgs[msgs.length - 1];
  expect(last.off + last.len).toBe(raw.byteLength);
});

test("every message decodes, with a tcp_info whose fields past its end are absent", () => {
  const attrs = new AttributeIndex();
  const lengths = new Set<number>();
  for (const m of collect()) {
    const snap = decodeMessage(raw, m.off, m.len, attrs, { timestamp: "t", uuidPrefix: "p" });
    expect(snap).not.toBeNull();
    expect(attrs.malformed).toBe(false);
    const info = attrs.view(raw, Attr.INFO);
    expect(info).not.toBeNull();
    lengths.add(info!.byteLength);
    const decoded = decodeStruct(TCP_INFO, info!);
    expect(decoded.state).toBe(snap!.tcpInfo!.state);
    // The kernel's tcpi_state mirrors the inet_diag_msg state.
    expect(decoded.state).toBe(raw[m.off + NLMSG_HDRLEN + 1]);
    for (const f of TCP_INFO) {
      const fits = f.offset + fieldSize(f) <= info!.byteLength;
      expect(f.name in decoded).toBe(fits);
    }
  }
  // These 2019 captures come from a kernel older than ours: a shorter struct.
  for (const l of lengths) expect(l).toBeLessThan(280);
});

test("sock ids agree with the RawIDM M-Lab archived for the same messages", () => {
  const lines = archiveRecordLines();
  const msgs = collect();
  expect(lines.length).toBe(msgs.length);
  msgs.forEach((m, i) => {
    const rec = JSON.parse(lines[i]) as { RawIDM: string };
    const archived = new Uint8Array(Buffer.from(rec.RawIDM, "base64"));
    expect(archived.byteLength).toBe(INET_DIAG_MSG_SIZE);
    const ours = parseInetDiagMsg(raw, m.off + NLMSG_HDRLEN)!;
    const theirs = parseInetDiagMsg(archived, 0)!;
    expect(ours).toEqual(theirs);
    expect([2, 10]).toContain(ours.family);
    expect(ours.cookie).toBeGreaterThan(0n);
  });
});
