// M-Lab's change rule on raw bytes: synthetic edits in every byte range of tcp_info and
// the inet_diag_msg, attributes appearing and vanishing, and real successive snapshots
// from M-Lab's archive. The cache's digest must always agree with the byte-for-byte rule.
import { expect, test } from "bun:test";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE, TCPI_BUSY_TIME_OFFSET, TCPI_LAST_DATA_SENT_OFFSET, TCPI_PMTU_OFFSET } from "../../src/diag/layouts.ts";
import { newSplitState, splitMessages } from "../../src/diag/netlink-messages.ts";
import { bytesOf } from "../../src/diff/bytes.ts";
import { Change, classifyChange } from "../../src/diff/change-rule.ts";
import { SnapshotCache } from "../../src/diff/snapshot-cache.ts";
import { Digest } from "../../src/diff/digest.ts";
import { readArchiveAll } from "../../src/archive/reader.ts";
import type { SnapshotEntry } from "../../src/archive/parse-line.ts";
import { rawMessages, TESTDATA } from "../helpers/testdata.ts";
import { join } from "node:path";
import { SockDiagDumper } from "../../src/collector/dumper.ts";
import { destPort, sourcePort } from "../../src/diag/sock-id.ts";
import { loopbackPair } from "../helpers/loopback.ts";

/** A payload (inet_diag_msg + attributes) in its own aligned buffer. */
function payloads(): Uint8Array[] {
  const raw = rawMessages();
  const out: Uint8Array[] = [];
  splitMessages(raw, raw.byteLength, (b, off, len) => out.push(b.slice(off + NLMSG_HDRLEN, off + len)), newSplitState());
  return out;
}

/** The full rule, each side indexed from scratch. */
function fullRule(prev: Uint8Array, cur: Uint8Array): Change {
  const pa = new AttributeIndex();
  const ca = new AttributeIndex();
  pa.index(prev, INET_DIAG_MSG_SIZE, prev.byteLength);
  ca.index(cur, INET_DIAG_MSG_SIZE, cur.byteLength);
  return classifyChange(bytesOf(prev), 0, pa, bytesOf(cur), 0, ca);
}

/** What the cache decides for `cur` after having seen `prev` (the digest path). */
function cacheRule(prev: Uint8Array, cur: Uint8Array): Change {
  const cache = new SnapshotCache<undefined>();
  const attrs = new AttributeIndex();
  const p = bytesOf(prev.slice());
  attrs.index(p.u8, INET_DIAG_MSG_SIZE, p.u8.byteLength);
  cache.beginCycle();
  expect(cache.observe(p, 0, p.u8.byteLength, attrs)).toBe(Change.First);
  const c = bytesOf(cur.slice());
  // Same cookie, so the cache compares against the stored copy.
  c.u8.set(p.u8.subarray(44, 52), 44);
  attrs.index(c.u8, INET_DIAG_MSG_SIZE, c.u8.byteLength);
  cache.beginCycle();
  return cache.observe(c, 0, c.u8.byteLength, attrs);
}

function both(prev: Uint8Array, cur: Uint8Array): Change {
  const a = fullRule(prev, cur);
  const b = cacheRule(prev, cur);
  // The kind may differ between the two; significant or not must not.
  expect(b === Change.None).toBe(a === Change.None);
  return a;
}

function infoOffset(p: Uint8Array): { off: number; len: number } {
  const a = new AttributeIndex();
  a.index(p, INET_DIAG_MSG_SIZE, p.byteLength);
  return { off: a.offset[Attr.INFO], len: a.length[Attr.INFO] };
}

const MSGS = payloads();

/** Payloads of the live sockets with `port` at either end. */
function takeRawMessages(port: number): Uint8Array[] {
  const d = new SockDiagDumper();
  const out: Uint8Array[] = [];
  try {
    d.dump((b, off, len) => {
      const idm = off + NLMSG_HDRLEN;
      // Established only: an old TIME_WAIT socket on a reused port has no tcp_info.
      if (b[idm + 1] === 1 && (sourcePort(b, idm) === port || destPort(b, idm) === port)) out.push(b.slice(idm, off + len));
    });
  } finally {
    d.close();
  }
  return out;
}

test("an identical snapshot is not a change", () => {
  for (const p of MSGS) expect(both(p, p.slice())).toBe(Change.None);
});

test("every byte of tcp_info: significant before last_data_sent and in pmtu..busy_time, ignored elsewhere", async () => {
  // A live socket's message: this kernel's tcp_info runs well past busy_time.
  const pair = await loopbackPair("127.0.0.1");
  const live = takeRawMessages(pair.clients[0].localPort!);
  await pair.close();
  const p = live[0];
  const { off, len } = infoOffset(p);
  expect(len).toBeGreaterThan(TCPI_BUSY_TIME_OFFSET);
  for (let i = 0; i < len; i++) {
    const c = p.slice();
    c[off + i] ^= 0x5a;
    const significant = i < TCPI_LAST_DATA_SENT_OFFSET || (i >= TCPI_PMTU_OFFSET && i < TCPI_BUSY_TIME_OFFSET);
    expect([i, both(p, c) !== Change.None]).toEqual([i, significant]);
  }
});

test("the inet_diag_msg: only the TCP state counts (expires, queues and the rest are ignored)", () => {
  const p = MSGS[0];
  for (let i = 0; i < INET_DIAG_MSG_SIZE; i++) {
    if (i >= 44 && i < 52) continue; // the cookie: a different socket, not a change
    const c = p.slice();
    c[i] ^= 0x01;
    expect([i, both(p, c)]).toEqual([i, i === 1 ? Change.StateChange : Change.None]);
  }
});

test("any byte of any other attribute is significant", () => {
  const p = MSGS[0];
  const a = new AttributeIndex();
  a.index(p, INET_DIAG_MSG_SIZE, p.byteLength);
  let checked = 0;
  for (let t = 0; t <= a.maxType; t++) {
    if (t === Attr.INFO || a.offset[t] < 0) continue;
    for (let i = 0; i < a.length[t]; i++) {
      const c = p.slice();
      c[a.offset[t] + i] ^= 0x80;
      expect(both(p, c)).not.toBe(Change.None);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(20);
});

test("attributes appearing, vanishing or changing length are significant; a missing tcp_info always is", () => {
  const p = MSGS[0];
  const a = new AttributeIndex();
  a.index(p, INET_DIAG_MSG_SIZE, p.byteLength);
  // Drop the last attribute: shorter payload, lower max type.
  let lastStart = INET_DIAG_MSG_SIZE;
  for (let t = 0; t <= a.maxType; t++) if (a.offset[t] >= 0 && a.offset[t] - 4 > lastStart) lastStart = a.offset[t] - 4;
  const dropped = p.slice(0, lastStart);
  expect(both(p, dropped)).toBe(Change.LostAttribute);
  expect(both(dropped, p)).toBe(Change.NewAttribute);
  // Rename tcp_info to an unused type: no tcp_info.
  const noInfo = p.slice();
  new DataView(noInfo.buffer).setUint16(a.offset[Attr.INFO] - 2, 30, true);
  expect(both(p, noInfo)).toBe(Change.NoTcpInfo);
  expect(both(noInfo, noInfo.slice())).toBe(Change.NoTcpInfo);
});

test("real successive snapshots of one connection from M-Lab's archive are classified by the rule", async () => {
  const { entries } = await readArchiveAll(join(TESTDATA, "ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst"));
  const snaps = entries.filter((e): e is SnapshotEntry => e.kind === "snapshot");
  expect(snaps.length).toBe(150);
  // Rebuild each payload (inet_diag_msg + rtattrs) from the archived record.
  const rebuilt = snaps.map((s) => {
    const parts: Uint8Array[] = [s.rawIdm.subarray(0, INET_DIAG_MSG_SIZE)];
    s.attributes.forEach((v, t) => {
      if (v === null) return;
      const h = new Uint8Array(((4 + v.byteLength + 3) & ~3));
      new DataView(h.buffer).setUint16(0, 4 + v.byteLength, true);
      new DataView(h.buffer).setUint16(2, t, true);
      h.set(v, 4);
      parts.push(h);
    });
    const out = new Uint8Array(parts.reduce((n, x) => n + x.byteLength, 0));
    let o = 0;
    for (const x of parts) { out.set(x, o); o += x.byteLength; }
    return out;
  });
  // The oracle: the rule as DESIGN.md states it, read off the differing byte positions.
  const oracle = (a: SnapshotEntry, b: SnapshotEntry): boolean => {
    if (a.rawIdm[1] !== b.rawIdm[1]) return true;
    const ai = a.attributes[Attr.INFO];
    const bi = b.attributes[Attr.INFO];
    if (!ai || !bi) return true;
    for (const [from, to] of [[0, TCPI_LAST_DATA_SENT_OFFSET], [TCPI_PMTU_OFFSET, TCPI_BUSY_TIME_OFFSET]]) {
      if (Math.min(to, ai.length) !== Math.min(to, bi.length)) return true;
      for (let k = from; k < Math.min(to, ai.length); k++) if (ai[k] !== bi[k]) return true;
    }
    const n = Math.max(a.attributes.length, b.attributes.length);
    for (let t = 0; t < n; t++) {
      if (t === Attr.INFO) continue;
      const x = a.attributes[t] ?? null;
      const y = b.attributes[t] ?? null;
      if ((x === null) !== (y === null)) return true;
      if (x && y && (x.length !== y.length || x.some((v, k) => v !== y[k]))) return true;
    }
    return false;
  };
  let significant = 0;
  let ignored = 0;
  for (let i = 1; i < rebuilt.length; i++) {
    const expected = oracle(snaps[i - 1], snaps[i]);
    expect([i, both(rebuilt[i - 1], rebuilt[i]) !== Change.None]).toEqual([i, expected]);
    if (expected) significant++;
    else ignored++;
  }
  // This 2019 segment holds both kinds: records that differ in counters, and records that
  // differ only in last_* times, busy_time and expires (which the rule ignores).
  expect(significant).toBeGreaterThan(0);
  expect(ignored).toBeGreaterThan(0);
  for (const r of rebuilt) expect(both(r, r.slice())).toBe(Change.None);
});

test("the digest depends on the message, not on where it sits in a buffer", () => {
  const d = new Digest();
  const attrs = new AttributeIndex();
  for (const p of MSGS.slice(0, 50)) {
    attrs.index(p, INET_DIAG_MSG_SIZE, p.byteLength);
    const info = attrs.offset[Attr.INFO];
    d.compute(bytesOf(p), 0, p.byteLength, info, attrs.length[Attr.INFO]);
    const [a1, a2] = [d.h1, d.h2];
    // The same bytes one byte into a bigger buffer: unaligned, read byte by byte.
    const shifted = new Uint8Array(p.byteLength + 1);
    shifted.set(p, 1);
    d.compute(bytesOf(shifted), 1, p.byteLength + 1, info + 1, attrs.length[Attr.INFO]);
    expect([d.h1, d.h2]).toEqual([a1, a2]);
  }
});

test("two words swapped (one in each of the digest's chains): the digest agrees with the rule", () => {
  let significant = 0;
  for (const p of MSGS.slice(0, 20)) {
    const whole = p.byteLength & ~3;
    for (let at = INET_DIAG_MSG_SIZE; at + 8 <= whole; at += 4) {
      const a = p.subarray(at, at + 4);
      const b = p.subarray(at + 4, at + 8);
      if (a.every((x, i) => x === b[i])) continue;
      const cur = p.slice();
      cur.set(b, at);
      cur.set(a, at + 4);
      if (both(p, cur) !== Change.None) significant++;
    }
  }
  expect(significant).toBeGreaterThan(100);
});

/** An aligned payload: `idm` (72 bytes) then the given attributes, each padded to 4 bytes. */
function withAttributes(idm: Uint8Array, attrs: [type: number, payload: Uint8Array][]): Uint8Array {
  const parts = attrs.map(([type, payload]) => {
    const a = new Uint8Array(4 + ((payload.byteLength + 3) & ~3));
    new DataView(a.buffer).setUint16(0, 4 + payload.byteLength, true);
    new DataView(a.buffer).setUint16(2, type, true);
    a.set(payload, 4);
    return a;
  });
  const out = new Uint8Array(INET_DIAG_MSG_SIZE + parts.reduce((n, p) => n + p.byteLength, 0));
  out.set(idm.subarray(0, INET_DIAG_MSG_SIZE));
  let at = INET_DIAG_MSG_SIZE;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

test("a tcp_info shorter than the ignored windows: every byte of the attributes after it still counts", () => {
  const base = MSGS[0];
  const cong = new TextEncoder().encode("cubic\0");
  const skmem = new Uint8Array(36).map((_, i) => i + 1);
  // Lengths below last_data_sent, between it and pmtu, and odd ones (padding inside the attribute).
  for (const infoLen of [8, 40, 41, 44, 50, 58, 60, 62]) {
    const info = new Uint8Array(infoLen).map((_, i) => 200 - i);
    const prev = withAttributes(base, [[Attr.INFO, info], [Attr.CONG, cong], [Attr.SKMEMINFO, skmem]]);
    expect(both(prev, prev.slice())).toBe(Change.None);
    // Every byte after tcp_info's attribute: the digest must agree with the rule on each,
    // and every payload byte of the other attributes is significant.
    const infoEnd = INET_DIAG_MSG_SIZE + 4 + ((infoLen + 3) & ~3);
    const congPayload = infoEnd + 4;
    const skmemPayload = congPayload + ((cong.byteLength + 3) & ~3) + 4;
    for (let at = infoEnd; at < prev.byteLength; at++) {
      const cur = prev.slice();
      cur[at] ^= 0x5a;
      // Edits to an rtattr length can make the message unparseable; the rule needs indexed attributes.
      if (!new AttributeIndex().index(cur, INET_DIAG_MSG_SIZE, cur.byteLength)) continue;
      // Alignment padding is in no attribute (always zero from the kernel); the digest
      // covers it, the rule does not, as the module says.
      if (at >= congPayload + cong.byteLength && at < skmemPayload - 4) continue;
      const change = both(prev, cur);
      const inPayload = (at >= congPayload && at < congPayload + cong.byteLength) || at >= skmemPayload;
      if (inPayload) expect(change).not.toBe(Change.None);
    }
    // And inside the short tcp_info every byte counts (all of it lies before last_data_sent or is clipped).
    for (let at = 0; at < Math.min(infoLen, TCPI_LAST_DATA_SENT_OFFSET); at++) {
      const cur = prev.slice();
      cur[INET_DIAG_MSG_SIZE + 4 + at] ^= 0x5a;
      expect(both(prev, cur)).not.toBe(Change.None);
    }
  }
});
