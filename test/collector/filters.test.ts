// SocketFilter's destination exclusion over inet_diag_msg bytes laid out as the kernel
// sends them: addresses, CIDR prefixes of both families, IPv4-mapped IPv6 peers.
import { describe, expect, test } from "bun:test";
import { parseAddress } from "../../src/diag/address.ts";
import { AF_INET, AF_INET6 } from "../../src/diag/constants.ts";
import { DST_ADDR_OFFSET, INET_DIAG_MSG_SIZE, SRC_ADDR_OFFSET } from "../../src/diag/layouts.ts";
import { parseIpPrefix, SocketFilter } from "../../src/collector/filters.ts";

/** An inet_diag_msg from 192.0.2.1 (or 2001:db8::1) port 40000 to `dst` port 443, at offset 8. */
function message(dst: string): { buf: Uint8Array; idm: number } {
  const d = parseAddress(dst);
  if (d === null) throw new Error(`bad test address ${dst}`);
  const idm = 8;
  const buf = new Uint8Array(idm + INET_DIAG_MSG_SIZE);
  buf[idm] = d.family;
  buf[idm + 4] = 40000 >> 8;
  buf[idm + 5] = 40000 & 0xff;
  buf[idm + 7] = 443;
  buf.set(parseAddress(d.family === AF_INET ? "192.0.2.1" : "2001:db8::1")!.bytes.subarray(0, d.family === AF_INET ? 4 : 16), idm + SRC_ADDR_OFFSET);
  buf.set(d.bytes.subarray(0, d.family === AF_INET ? 4 : 16), idm + DST_ADDR_OFFSET);
  return { buf, idm };
}

function kept(exclude: string[], dst: string): boolean {
  const { buf, idm } = message(dst);
  return new SocketFilter({ includeLocal: false, excludeSrcPorts: [], excludeDstIps: exclude }).accepts(buf, idm);
}

describe("--exclude-dstip prefixes", () => {
  test("an IPv4 prefix excludes what it covers and nothing else", () => {
    expect(kept(["10.0.0.0/8"], "10.255.1.2")).toBe(false);
    expect(kept(["10.0.0.0/8"], "11.0.0.1")).toBe(true);
    expect(kept(["10.0.0.0/8"], "9.255.255.255")).toBe(true);
    // A prefix length that is not a whole number of bytes.
    expect(kept(["198.51.100.0/22"], "198.51.103.255")).toBe(false);
    expect(kept(["198.51.100.0/22"], "198.51.104.0")).toBe(true);
    expect(kept(["198.51.100.0/22"], "198.51.99.255")).toBe(true);
  });

  test("a single address is a full-length prefix", () => {
    expect(kept(["203.0.113.7"], "203.0.113.7")).toBe(false);
    expect(kept(["203.0.113.7"], "203.0.113.8")).toBe(true);
    expect(kept(["2001:db8::7"], "2001:db8::7")).toBe(false);
    expect(kept(["2001:db8::7"], "2001:db8::8")).toBe(true);
  });

  test("an IPv6 prefix excludes what it covers and nothing else", () => {
    expect(kept(["2001:db8::/32"], "2001:db8:ffff::1")).toBe(false);
    expect(kept(["2001:db8::/32"], "2001:db9::1")).toBe(true);
    expect(kept(["2001:db8:8000::/33"], "2001:db8:8000::1")).toBe(false);
    expect(kept(["2001:db8:8000::/33"], "2001:db8:7fff::1")).toBe(true);
  });

  test("an IPv4 prefix matches IPv4-mapped IPv6 peers; a mapped IPv6 prefix matches IPv4 peers", () => {
    expect(kept(["10.0.0.0/8"], "::ffff:10.1.2.3")).toBe(false);
    expect(kept(["10.0.0.0/8"], "::ffff:11.1.2.3")).toBe(true);
    // Not mapped: ::a01:203 carries the same last 4 bytes but is a plain IPv6 address.
    expect(kept(["10.0.0.0/8"], "::10.1.2.3")).toBe(true);
    expect(kept(["::ffff:10.0.0.0/104"], "10.9.9.9")).toBe(false);
    expect(kept(["::ffff:10.0.0.0/104"], "11.9.9.9")).toBe(true);
  });

  test("families never cross otherwise; /0 covers its whole family", () => {
    expect(kept(["::/0"], "192.0.2.9")).toBe(true);
    expect(kept(["::/0"], "2001:db8::9")).toBe(false);
    expect(kept(["0.0.0.0/0"], "2001:db8::9")).toBe(true);
    expect(kept(["0.0.0.0/0"], "192.0.2.9")).toBe(false);
  });

  test("several prefixes: any match excludes", () => {
    const ex = ["10.0.0.0/8", "2001:db8::/32", "192.168.0.0/16"];
    expect(kept(ex, "192.168.4.4")).toBe(false);
    expect(kept(ex, "2001:db8::5")).toBe(false);
    expect(kept(ex, "172.16.0.1")).toBe(true);
  });
});

describe("parseIpPrefix", () => {
  test("accepts addresses and prefixes of both families, zeroing host bits", () => {
    expect(parseIpPrefix("10.1.2.3/8")).toMatchObject({ family: AF_INET, bits: 8 });
    expect([...parseIpPrefix("10.1.2.3/8")!.bytes.subarray(0, 4)]).toEqual([10, 0, 0, 0]);
    expect(parseIpPrefix("192.0.2.1")).toMatchObject({ family: AF_INET, bits: 32 });
    expect(parseIpPrefix("::1/128")).toMatchObject({ family: AF_INET6, bits: 128 });
    expect(parseIpPrefix("2001:db8::/32")).toMatchObject({ family: AF_INET6, bits: 32 });
  });

  test("rejects what is not one", () => {
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "/8", "300.0.0.0/8", "10.0.0.0/x", "host/8", ""]) {
      expect(parseIpPrefix(bad)).toBeNull();
    }
  });
});
