// Bad input: truncated headers, lengths past the end, zero and huge lengths, random
// bytes and random mutations of real messages. The parser reports or skips; it never
// throws and never loops forever.
import { expect, test } from "bun:test";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { NLMSG_DONE, NLMSG_ERROR } from "../../src/diag/constants.ts";
import { newSplitState, SplitStatus, splitMessages } from "../../src/diag/netlink-messages.ts";
import { decodeMessage } from "../../src/diag/snapshot.ts";
import { rawMessages } from "../helpers/testdata.ts";

const opts = { timestamp: "t", uuidPrefix: "p" };

/** Splits and fully decodes every message; returns the status and messages visited. */
function parseAll(buf: Uint8Array): { status: SplitStatus; visited: number } {
  const attrs = new AttributeIndex();
  const state = newSplitState();
  let visited = 0;
  const status = splitMessages(buf, buf.byteLength, (b, off, len) => {
    visited++;
    decodeMessage(b, off, len, attrs, opts);
  }, state);
  return { status, visited };
}

function header(len: number, type: number): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, len, true);
  dv.setUint16(4, type, true);
  return b;
}

/** Deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("a truncated header is reported as malformed", () => {
  const real = rawMessages();
  expect(parseAll(real.subarray(0, 10)).status).toBe(SplitStatus.Malformed);
  expect(parseAll(new Uint8Array(0)).status).toBe(SplitStatus.More);
});

test("lengths of zero, below the header, past the end and huge are malformed", () => {
  for (const len of [0, 1, 15, 17 + 4096, 0xffffffff]) {
    const r = parseAll(header(len, 20));
    expect(r.status).toBe(SplitStatus.Malformed);
    expect(r.visited).toBe(0);
  }
});

test("a message too short for an inet_diag_msg is visited but not decoded", () => {
  const attrs = new AttributeIndex();
  expect(decodeMessage(header(16, 20), 0, 16, attrs, opts)).toBeNull();
});

test("NLMSG_DONE ends the dump and NLMSG_ERROR reports its errno", () => {
  const state = newSplitState();
  expect(splitMessages(header(16, NLMSG_DONE), 16, () => {}, state)).toBe(SplitStatus.Done);
  const err = new Uint8Array(20);
  err.set(header(20, NLMSG_ERROR));
  new DataView(err.buffer).setInt32(16, -1, true); // -EPERM
  expect(splitMessages(err, 20, () => {}, state)).toBe(SplitStatus.Error);
  expect(state.errno).toBe(1);
  // error 0 is an acknowledgement, not a failure
  new DataView(err.buffer).setInt32(16, 0, true);
  expect(splitMessages(err, 20, () => {}, state)).toBe(SplitStatus.More);
});

test("attribute lengths past the end or below the rtattr header mark the message malformed", () => {
  const real = rawMessages();
  const len = new DataView(real.buffer, real.byteOffset).getUint32(0, true);
  const msg = real.slice(0, len);
  const firstAttr = 16 + 72;
  const attrs = new AttributeIndex();
  for (const bad of [0, 3, 0xffff, len]) {
    const m = msg.slice();
    new DataView(m.buffer).setUint16(firstAttr, bad, true);
    expect(decodeMessage(m, 0, m.byteLength, attrs, opts)).not.toBeNull();
    expect(attrs.malformed).toBe(true);
  }
});

test("random bytes never throw", () => {
  const next = rng(1);
  for (let i = 0; i < 2000; i++) {
    const buf = new Uint8Array(Math.floor(next() * 2048));
    for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(next() * 256);
    // Make some of them look like netlink: a plausible first length.
    if (buf.length >= 16 && i % 2 === 0) new DataView(buf.buffer).setUint32(0, 16 + Math.floor(next() * (buf.length - 16)), true);
    expect(() => parseAll(buf)).not.toThrow();
  }
});

test("random mutations of the real messages never throw and always terminate", () => {
  const real = rawMessages();
  const next = rng(2);
  let malformed = 0;
  for (let i = 0; i < 3000; i++) {
    const m = real.slice();
    const edits = 1 + Math.floor(next() * 8);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * m.length);
      // Bias mutations towards length fields, which steer the walk.
      m[at] = next() < 0.5 ? Math.floor(next() * 256) : next() < 0.5 ? 0 : 0xff;
    }
    const cut = next() < 0.3 ? Math.floor(next() * m.length) : m.length;
    const r = parseAll(m.subarray(0, cut));
    if (r.status === SplitStatus.Malformed) malformed++;
    expect(r.visited).toBeLessThanOrEqual(420);
  }
  expect(malformed).toBeGreaterThan(0);
  // 3,000 full parses of 290 messages: seconds on a slow machine. The bound only
  // guards against a walk that never ends.
}, 60_000);
