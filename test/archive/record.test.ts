// ArchivalRecord lines must equal, byte for byte, what M-Lab's Go code wrote for the same
// 420 real kernel messages; Metadata lines follow Go's encoding/json.
import { expect, test } from "bun:test";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { newSplitState, SplitStatus, splitMessages } from "../../src/diag/netlink-messages.ts";
import { encodeMessage, encodeMetadata, encodeRecord, goJsonString, warmEncoder } from "../../src/archive/record.ts";
import { GO_ZERO_TIME } from "../../src/archive/time.ts";
import { readZst } from "./helpers.ts";

function encodeAll(raw: Uint8Array): string[] {
  const attrs = new AttributeIndex();
  const lines: string[] = [];
  const status = splitMessages(raw, raw.byteLength, (buf, off, len) => {
    const line = encodeMessage(GO_ZERO_TIME, buf, off, len, attrs);
    if (line === null) throw new Error(`message at ${off} not encoded`);
    lines.push(line);
  }, newSplitState());
  expect(status).toBe(SplitStatus.More);
  return lines;
}

test("420 raw messages encode to M-Lab's archiveRecords.jsonl, byte for byte", () => {
  const raw = new Uint8Array(readZst("raw-netlink-messages.bin.zst"));
  const expected = readZst("archiveRecords.jsonl.zst").toString("utf8");
  const want = expected.split("\n");
  expect(want.pop()).toBe(""); // the file ends with a newline
  const got = encodeAll(raw);
  expect(got.length).toBe(420);
  expect(want.length).toBe(420);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) throw new Error(`line ${i + 1} differs:\n got ${got[i]}\nwant ${want[i]}`);
  }
  expect(got.join("\n") + "\n").toBe(expected);
});

test("the encoder does not depend on the buffer it saw before (view cache)", () => {
  const raw = new Uint8Array(readZst("raw-netlink-messages.bin.zst"));
  const first = encodeAll(raw);
  // The same bytes at a different offset of a different buffer give the same lines.
  const shifted = new Uint8Array(raw.byteLength + 8);
  shifted.set(raw, 8);
  const again = encodeAll(shifted.subarray(8));
  expect(again).toEqual(first);
});

// A message built by hand: inet_diag_msg (72 bytes, pattern) then the given rtattrs.
function message(attrs: { type: number; payload: number[] }[]): Uint8Array {
  const body: number[] = [];
  for (const a of attrs) {
    const len = 4 + a.payload.length;
    body.push(len & 0xff, len >> 8, a.type & 0xff, a.type >> 8, ...a.payload);
    while (body.length % 4) body.push(0);
  }
  const total = 16 + 72 + body.length;
  const msg = new Uint8Array(total);
  new DataView(msg.buffer).setUint32(0, total, true);
  new DataView(msg.buffer).setUint16(4, 20, true);
  for (let i = 0; i < 72; i++) msg[16 + i] = i;
  msg.set(body, 88);
  return msg;
}

const IDM_B64 = Buffer.from(Array.from({ length: 72 }, (_, i) => i)).toString("base64");

test("no attribute at all gives [null], as Go's length-1 slice does", () => {
  const msg = message([]);
  expect(encodeMessage("T", msg, 0, msg.byteLength, new AttributeIndex())).toBe(`{"Timestamp":"T","RawIDM":"${IDM_B64}","Attributes":[null]}`);
});

test("an empty attribute is \"\", absent ones null, up to the highest type present", () => {
  const msg = message([{ type: 5, payload: [] }, { type: 2, payload: [1, 2, 3] }]);
  const attrs = new AttributeIndex();
  expect(encodeMessage("T", msg, 0, msg.byteLength, attrs)).toBe(`{"Timestamp":"T","RawIDM":"${IDM_B64}","Attributes":[null,null,"AQID",null,null,""]}`);
  // encodeRecord over the same index gives the same line.
  expect(encodeRecord("T", msg, 16, attrs)).toBe(`{"Timestamp":"T","RawIDM":"${IDM_B64}","Attributes":[null,null,"AQID",null,null,""]}`);
});

test("a truncated message or a malformed attribute area gives no record, as in M-Lab", () => {
  const short = message([]).subarray(0, 80);
  new DataView(short.buffer).setUint32(0, 80, true);
  expect(encodeMessage("T", short, 0, 80, new AttributeIndex())).toBeNull();
  const bad = message([{ type: 1, payload: [1, 2, 3, 4] }]);
  new DataView(bad.buffer).setUint16(88, 200, true); // rta_len past the end
  expect(encodeMessage("T", bad, 0, bad.byteLength, new AttributeIndex())).toBeNull();
});

test("Metadata line: Go's zero time, key order, integer sequence", () => {
  expect(encodeMetadata("ndt-jdczh_1553815964_00000000000003E8", 183, "2019-04-01T07:42:37.371Z")).toBe(
    '{"Timestamp":"0001-01-01T00:00:00Z","Metadata":{"UUID":"ndt-jdczh_1553815964_00000000000003E8","Sequence":183,"StartTime":"2019-04-01T07:42:37.371Z"}}',
  );
  expect(encodeMetadata("h_1_unsafe_0000000000000001", 0, "2024-01-02T03:04:05Z")).toBe(
    '{"Timestamp":"0001-01-01T00:00:00Z","Metadata":{"UUID":"h_1_unsafe_0000000000000001","Sequence":0,"StartTime":"2024-01-02T03:04:05Z"}}',
  );
});

test("the Metadata line of the testdata segment is reproduced exactly", () => {
  const first = readZst("ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst").toString("utf8").split("\n")[0];
  expect(encodeMetadata("ndt-jdczh_1553815964_00000000000003E8", 183, "2019-04-01T07:42:37.371Z")).toBe(first);
});

test("strings are escaped like Go's encoding/json", () => {
  expect(goJsonString('a"b\\c')).toBe('"a\\"b\\\\c"');
  expect(goJsonString("<x&y>")).toBe('"\\u003cx\\u0026y\\u003e"');
  expect(goJsonString("\u2028")).toBe('"\\u2028"');
  expect(goJsonString("\n")).toBe('"\\n"');
  expect(goJsonString("<a>")).toBe('"\\u003ca\\u003e"'); // twice in a row: no regex state leak
});

test("the encoder warm-up's made-up message indexes and encodes every round", () => {
  const attrs = new AttributeIndex();
  expect(warmEncoder(attrs, 50)).toBe(50);
  // INFO, MEMINFO and CONG are where warmEncoder put them.
  expect(attrs.maxType).toBe(4);
  expect(attrs.length[2]).toBe(232);
  expect(attrs.length[1]).toBe(16);
  expect(attrs.has(3)).toBe(false);
});
