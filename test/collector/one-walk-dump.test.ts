// The default dump asks for IPv4 and IPv6 sockets in one walk of the kernel's tables
// (TCPDIAG_GETSOCK). It must return exactly what one SOCK_DIAG_BY_FAMILY walk per family
// returns: the same sockets, the same attributes, the same state filter; and a kernel
// that refuses it must leave the collector dumping per family, saying why. Real netlink
// sockets, real loopback connections over both families.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SockDiagDumper } from "../../src/collector/dumper.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { AF_INET, AF_INET6, AF_UNSPEC, NLMSG_HDRLEN, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK } from "../../src/diag/constants.ts";
import { COOKIE_OFFSET, INET_DIAG_MSG_SIZE } from "../../src/diag/layouts.ts";
import { loopbackPair, type LoopbackPair } from "../helpers/loopback.ts";

const TCP_ESTABLISHED = 1;
const TCP_LISTEN = 10;

interface Seen {
  family: number;
  state: number;
  type: number;
  /** Attribute types present, in order. */
  attrs: string;
}

let v4: LoopbackPair;
let v6: LoopbackPair;
beforeAll(async () => {
  // Enough sockets that the kernel answers in several chunks.
  v4 = await loopbackPair("127.0.0.1", 120);
  v6 = await loopbackPair("::1", 120);
});
afterAll(async () => {
  await v4?.close();
  await v6?.close();
});

/** This test's own sockets (by its listeners' ports), by cookie. */
function dumpOurs(d: SockDiagDumper): Map<bigint, Seen> {
  const ports = new Set([v4.port, v6.port]);
  const attrs = new AttributeIndex();
  const seen = new Map<bigint, Seen>();
  d.dump((buf, off, len, type) => {
    const dv = new DataView(buf.buffer, buf.byteOffset + off + NLMSG_HDRLEN);
    if (!ports.has(dv.getUint16(4, false)) && !ports.has(dv.getUint16(6, false))) return;
    attrs.index(buf, off + NLMSG_HDRLEN + INET_DIAG_MSG_SIZE, off + len);
    const present: number[] = [];
    for (let t = 0; t <= attrs.maxType; t++) if (attrs.offset[t] >= 0) present.push(t);
    seen.set(dv.getBigUint64(COOKIE_OFFSET, true), { family: dv.getUint8(0), state: dv.getUint8(1), type, attrs: present.join(",") });
  });
  return seen;
}

function byFamily(seen: Map<bigint, Seen>): Record<string, number> {
  const n: Record<string, number> = {};
  for (const s of seen.values()) n[`${s.family}/${s.state}`] = (n[`${s.family}/${s.state}`] ?? 0) + 1;
  return n;
}

test("one walk returns the same sockets, states and attributes as one walk per family", () => {
  const one = new SockDiagDumper();
  const each = new SockDiagDumper(undefined, undefined, undefined, {}, { perFamily: true });
  try {
    const a = dumpOurs(one);
    const b = dumpOurs(each);
    expect(one.walks).toEqual([AF_UNSPEC]);
    expect(each.walks).toEqual([AF_INET6, AF_INET]);
    // 120 clients and 120 accepted per family, and each listener.
    expect(byFamily(a)).toEqual({ [`${AF_INET}/${TCP_ESTABLISHED}`]: 240, [`${AF_INET}/${TCP_LISTEN}`]: 1, [`${AF_INET6}/${TCP_ESTABLISHED}`]: 240, [`${AF_INET6}/${TCP_LISTEN}`]: 1 });
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [cookie, s] of a) {
      expect(s.type).toBe(TCPDIAG_GETSOCK);
      const t = b.get(cookie)!;
      expect(t.type).toBe(SOCK_DIAG_BY_FAMILY);
      expect({ family: s.family, state: s.state, attrs: s.attrs }).toEqual({ family: t.family, state: t.state, attrs: t.attrs });
    }
    // Per-family counts come from the replies themselves; one time for the one walk.
    expect(one.lastMessages[one.families.indexOf(AF_INET)]).toBeGreaterThanOrEqual(241);
    expect(one.lastMessages[one.families.indexOf(AF_INET6)]).toBeGreaterThanOrEqual(241);
    expect(one.lastSeconds.length).toBe(1);
    expect(one.fallback).toBeNull();
  } finally {
    one.close();
    each.close();
  }
});

test("the state mask reaches the kernel in the one-walk request", () => {
  const established = new SockDiagDumper(undefined, 1 << TCP_ESTABLISHED);
  try {
    const seen = dumpOurs(established);
    expect(byFamily(seen)).toEqual({ [`${AF_INET}/${TCP_ESTABLISHED}`]: 240, [`${AF_INET6}/${TCP_ESTABLISHED}`]: 240 });
  } finally {
    established.close();
  }
});

test("a kernel that refuses the one-walk request leaves the dumper walking per family, saying why", () => {
  // Message type 30 is no sock_diag request: the kernel answers EINVAL, as an old or
  // stripped-down kernel would answer TCPDIAG_GETSOCK.
  const refused = new SockDiagDumper(undefined, undefined, undefined, {}, { walkType: 30 });
  const each = new SockDiagDumper(undefined, undefined, undefined, {}, { perFamily: true });
  try {
    const a = dumpOurs(refused);
    expect(refused.fallback).toMatch(/refused the one-walk dump request.*EINVAL/);
    expect(refused.walks).toEqual([AF_INET6, AF_INET]);
    expect(refused.lastSeconds.length).toBe(2);
    expect([...a.keys()].sort()).toEqual([...dumpOurs(each).keys()].sort());
    expect(a.size).toBe(482);
    // And it stays that way: the next dump does not ask again.
    expect(dumpOurs(refused).size).toBe(482);
    expect(refused.walks).toEqual([AF_INET6, AF_INET]);
  } finally {
    refused.close();
    each.close();
  }
});
