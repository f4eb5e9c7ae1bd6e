// A dump can never hang the collector: each wait for a chunk and the whole dump are
// bounded, and an abandoned dump's socket is replaced so its rest is never read as the
// next dump. Real netlink sockets, real loopback connections.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ChunkVerdict, DumpTimeoutError, NetlinkSocket } from "../../src/ffi/netlink-socket.ts";
import { SyscallError } from "../../src/ffi/errno.ts";
import { SockDiagDumper } from "../../src/collector/dumper.ts";
import { AF_INET } from "../../src/diag/constants.ts";
import { buildDumpRequest } from "../../src/diag/request.ts";
import { loopbackPair, type LoopbackPair } from "../helpers/loopback.ts";

let pair: LoopbackPair;
beforeAll(async () => {
  // Enough sockets that the kernel answers in several chunks.
  pair = await loopbackPair("127.0.0.1", 300);
});
afterAll(async () => {
  await pair.close();
});

test("a receive that gets nothing within the timeout fails with EAGAIN instead of blocking", () => {
  const sock = new NetlinkSocket();
  try {
    sock.setReceiveTimeout(120);
    const t0 = performance.now();
    let err: unknown = null;
    try {
      sock.receive(new Uint8Array(4096)); // no request sent: nothing will ever come
    } catch (e) {
      err = e;
    }
    const waited = performance.now() - t0;
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).code).toBe("EAGAIN");
    expect(waited).toBeGreaterThanOrEqual(100);
  } finally {
    sock.close();
  }
});

test("a dump past its deadline is abandoned after the chunk in hand", () => {
  const sock = new NetlinkSocket();
  try {
    let chunks = 0;
    const consume = () => {
      chunks++;
      return ChunkVerdict.More;
    };
    expect(() => sock.dump(buildDumpRequest({ family: AF_INET }), new Uint8Array(64 * 1024), consume, performance.now() - 1)).toThrow(DumpTimeoutError);
    // The deadline is checked before the chunk is handed on: nothing of a late dump is used.
    expect(chunks).toBe(0);
  } finally {
    sock.close();
  }
});

test("after an abandoned dump, reset() gives a socket whose next dump is whole", () => {
  const d = new SockDiagDumper([AF_INET]);
  try {
    const full = d.dump(() => {}).messages;
    expect(full).toBeGreaterThanOrEqual(601);
    // Abandon a dump midway the way the collector's bound does, then replace the socket.
    let seen = 0;
    expect(() =>
      d.dump(() => {
        if (++seen === 50) throw new DumpTimeoutError(1);
      }),
    ).toThrow(DumpTimeoutError);
    d.reset();
    const again = d.dump(() => {}).messages;
    // The unread rest of the abandoned dump would have shown up here as extra messages.
    expect(Math.abs(again - full)).toBeLessThan(20);
  } finally {
    d.close();
  }
});
