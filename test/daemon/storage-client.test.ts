// The poll thread's copy of each archived message into the cycle's batch, read back from
// the files the real storage worker writes: every line in order and byte for byte what
// the encoder makes of the message, whether the message's buffer is word-aligned (as
// netlink's are, copied as words) or not (copied byte by byte).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeRecord } from "../../src/archive/record.ts";
import { formatTimeNs } from "../../src/archive/time.ts";
import { StorageClient } from "../../src/daemon/storage-client.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../../src/diag/layouts.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { message } from "../helpers/recorded-message.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-storage-client-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("messages reach the archive intact and in order, from aligned and unaligned buffers", async () => {
  const dbPath = join(dir, "index.sqlite");
  ConnectionIndex.open(dbPath).close();
  const output = join(dir, "data");
  const client = await StorageClient.start({ outputDir: output, rotateMinutes: 0, flushMs: 60_000, maxBufferedBytes: 32 << 20, dbPath, indexBatchMs: 100, indexRetentionMs: 3_600_000 }, () => {});
  const uuid = "host_1700000000_unsafe_0000000000000001";
  const sink = client.open(uuid, 1_700_000_000_000);
  const attrs = new AttributeIndex();
  const expected: string[] = [];
  for (let i = 0; i < 40; i++) {
    let m = message(1n, { acked: 1000n + BigInt(i) });
    // Every other one ends in a one-byte INET_DIAG_MARK attribute without its padding: a length
    // that is not a multiple of 4, which the batch pads so the next message stays aligned.
    if (i % 2 === 1) {
      const longer = new Uint8Array(m.byteLength + 5);
      longer.set(m);
      longer.set([5, 0, Attr.MARK, 0, 0x20 + i], m.byteLength);
      new DataView(longer.buffer).setUint32(0, longer.byteLength, true);
      m = longer;
    }
    // Every third one sits at an odd offset of a bigger buffer: no word view of it.
    const shift = i % 3 === 0 ? 1 : 0;
    const buf = new Uint8Array(m.byteLength + 8).subarray(shift);
    buf.set(m);
    const idm = NLMSG_HDRLEN;
    expect(attrs.index(buf, idm + INET_DIAG_MSG_SIZE, m.byteLength)).toBe(true);
    expect(attrs.has(Attr.MARK)).toBe(i % 2 === 1);
    const time = { sec: 1_700_000_000 + i, nsec: 123_456_789, text: formatTimeNs(1_700_000_000 + i, 123_456_789) };
    expect(sink.appendRecord(time, buf, idm, attrs, 1_700_000_000_000 + i * 10)).toBe(true);
    expected.push(encodeRecord(time.text, buf, idm, attrs));
    // Several cycles, as the poll loop sends them.
    if (i % 7 === 6) client.flushDue();
  }
  client.closeLater(uuid, 1_700_000_001_000);
  await client.shutdown(10_000, new AbortController().signal);
  const files = (readdirSync(output, { recursive: true }) as string[]).filter((p) => p.endsWith(".jsonl.zst"));
  expect(files.length).toBe(1);
  const lines = new TextDecoder().decode(Bun.zstdDecompressSync(readFileSync(join(output, files[0])))).split("\n").filter((l) => l.includes('"RawIDM"'));
  expect(lines.map((l) => `${l}\n`)).toEqual(expected.map((e) => (e.endsWith("\n") ? e : `${e}\n`)));
});
