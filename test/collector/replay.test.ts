// The Collector over recorded kernel messages (a KernelSource replaying real
// inet_diag messages from M-Lab's test data, patched per step): the paths a live socket
// can rarely be made to take on demand - a dump that fails, a socket that vanishes, a
// destroy event carrying the final snapshot, a connection resumed from an earlier run.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { readArchiveSync } from "../../src/archive/reader.ts";
import { Collector, type CollectorOptions, type ResumeInfo } from "../../src/collector/collector.ts";
import type { ArchiveSink } from "../../src/collector/archive-sink.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { Attr, NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE, TCPI_BYTES_ACKED_OFFSET } from "../../src/diag/layouts.ts";
import { DumpTimeoutError } from "../../src/ffi/netlink-socket.ts";
import { listFiles } from "../helpers/archives.ts";
import { replaySource, type DumpStep } from "../helpers/replay-source.ts";
import { CLOSE, ESTABLISHED, message } from "../helpers/recorded-message.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-replay-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function collector(steps: DumpStep[], extra: Partial<CollectorOptions> = {}) {
  const r = replaySource(steps, extra.destroyEvents ?? true);
  const opts: CollectorOptions = {
    uuidPrefix: "replay_1_unsafe", includeLocal: true, excludeSrcPorts: [], excludeDstIps: [], anonymize: "none",
    destroyEvents: true, vanishGraceMs: 250, ...extra,
  };
  return { c: new Collector(opts, new ArchiveSet({ outputDir: dir }), r.source), ...r };
}

/** Every snapshot line of every archive: [uuid, seq, TCP state, bytes_acked]. */
function archived(): { uuid: string; seq: number; state: number; acked: bigint }[] {
  const out: { uuid: string; seq: number; state: number; acked: bigint }[] = [];
  for (const f of listFiles(dir).filter((p) => p.endsWith(".jsonl.zst")).sort()) {
    let uuid = "";
    let seq = -1;
    for (const e of readArchiveSync(join(dir, f))) {
      if (e.kind === "metadata") {
        uuid = e.metadata.uuid;
        seq = e.metadata.sequence;
        continue;
      }
      const info = e.attributes[Attr.INFO];
      const acked = info ? new DataView(info.buffer, info.byteOffset).getBigUint64(TCPI_BYTES_ACKED_OFFSET, true) : -1n;
      out.push({ uuid, seq, state: e.rawIdm[1], acked });
    }
  }
  return out;
}

test("a changed socket is archived again, a failed dump ends nothing, a socket missing past the grace ends as vanished", () => {
  const { c, dump } = collector([
    [message(0x11n, { acked: 100n })],
    [message(0x11n, { acked: 100n })], // unchanged: not archived
    [message(0x11n, { acked: 200n })],
    new DumpTimeoutError(5000),
    [], // missing: waits for a destroy event
    [],
  ]);
  const t = 1_700_000_000_000;
  const r1 = c.poll(t);
  expect(r1.opened.map((o) => o.cookie)).toEqual([0x11n]);
  const uuid = r1.opened[0].uuid;
  expect(c.poll(t + 10).updated).toEqual([]);
  expect(c.poll(t + 20).updated.map((u) => [u.uuid, u.bytesAcked])).toEqual([[uuid, 200n]]);
  const failed = c.poll(t + 30);
  expect(failed.closed).toEqual([]);
  expect(c.stats.errors.get("dump_timeout")).toBe(1);
  expect(dump.resets).toBe(1);
  expect(c.tracked).toBe(1);
  expect(c.poll(t + 40).closed).toEqual([]);
  const gone = c.poll(t + 40 + 250);
  expect(gone.closed.map((x) => [x.uuid, x.reason, x.bytesAcked])).toEqual([[uuid, "vanished", 200n]]);
  c.shutdown(t + 300);
  expect(archived().map((a) => [a.uuid, a.state, a.acked])).toEqual([[uuid, ESTABLISHED, 100n], [uuid, ESTABLISHED, 200n]]);
});

test("a destroy event ends the connection with the kernel's final snapshot, and a later dump entry of it is not a new connection", () => {
  const { c, destroy } = collector([[message(0x22n, { acked: 5n })], [], [message(0x22n, { acked: 5n })]]);
  const t = 1_700_000_000_000;
  const uuid = c.poll(t).opened[0].uuid;
  destroy.queue.push(message(0x22n, { state: CLOSE, acked: 9n }));
  const r = c.poll(t + 10);
  expect(r.closed.map((x) => [x.uuid, x.reason, x.state, x.bytesAcked])).toEqual([[uuid, "destroy", CLOSE, 9n]]);
  const again = c.poll(t + 20);
  expect(again.opened).toEqual([]);
  expect(c.stats.remnants).toBe(1);
  c.shutdown(t + 30);
  expect(archived().map((a) => [a.state, a.acked])).toEqual([[ESTABLISHED, 5n], [CLOSE, 9n]]);
});

test("without destroy events a missing socket ends at once as vanished", () => {
  const { c } = collector([[message(0x33n)], []], { destroyEvents: false });
  const t = 1_700_000_000_000;
  c.poll(t);
  expect(c.poll(t + 10).closed.map((x) => x.reason)).toEqual(["vanished"]);
  c.shutdown(t + 20);
});

test("a connection left open by an earlier run resumes: same UUID, next file sequence; one not found is handed back", () => {
  const resume = new Map<bigint, ResumeInfo>([
    [0x44n, { uuid: "replay_1_unsafe_0000000000000044", startMs: 1_699_999_000_000, startSubMs: 123_456, nextSeq: 3, snapshots: 7 }],
    [0x55n, { uuid: "replay_1_unsafe_0000000000000055", startMs: 1_699_999_000_000, startSubMs: 0, nextSeq: 1, snapshots: 2 }],
  ]);
  const { c } = collector([[message(0x44n, { acked: 1n })]], { resume });
  const t = 1_700_000_000_000;
  const r = c.poll(t);
  expect(r.opened.map((o) => [o.uuid, o.resumed === true])).toEqual([["replay_1_unsafe_0000000000000044", true]]);
  expect(c.takeUnresumed().map((x) => x.uuid)).toEqual(["replay_1_unsafe_0000000000000055"]);
  c.shutdown(t + 10);
  expect(archived().map((a) => [a.uuid, a.seq])).toEqual([["replay_1_unsafe_0000000000000044", 3]]);
});

test("a snapshot the archive refused (back-pressure) is taken again at the next poll, though nothing changed", () => {
  const steps = [[message(0x33n, { acked: 7n })], [message(0x33n, { acked: 7n })], [message(0x33n, { acked: 7n })], [message(0x33n, { acked: 7n })]];
  const r = replaySource(steps, true);
  const set = new ArchiveSet({ outputDir: dir });
  let refuse = 2;
  const retakeFlags: boolean[] = [];
  // The archive, refusing the first line as a storage worker over its in-flight bound does.
  const sink: ArchiveSink = Object.create(set) as ArchiveSink;
  const open: ArchiveSink["open"] = (uuid, startMs, firstSeq, startSubMs) => {
    const inner = set.open(uuid, startMs, firstSeq, startSubMs);
    return {
      appendRecord: (time, msg, idm, attrs, now, retake) => {
        retakeFlags.push(retake === true);
        return refuse-- > 0 ? false : inner.appendRecord(time, msg, idm, attrs, now);
      },
    };
  };
  sink.open = open;
  const opts: CollectorOptions = { uuidPrefix: "replay_1_unsafe", includeLocal: true, excludeSrcPorts: [], excludeDstIps: [], anonymize: "none", destroyEvents: true, vanishGraceMs: 250 };
  const c = new Collector(opts, sink, r.source);
  const t = 1_700_000_000_000;
  c.poll(t);
  c.poll(t + 10);
  expect(c.stats.retakes).toBe(2);
  expect(c.stats.snapshots).toBe(0);
  expect(c.poll(t + 20).updated.map((u) => u.snapshots)).toEqual([1]);
  // The sink heard which attempts were retakes (a refused retake is not a second loss).
  expect(retakeFlags).toEqual([false, true, true]);
  // Archived once it was taken in: then unchanged snapshots are not archived again.
  expect(c.poll(t + 30).updated).toEqual([]);
  c.shutdown(t + 40);
  expect(archived().map((a) => a.acked)).toEqual([7n]);
});

test("namespaces: a failed dump spares only its namespace's connections; a namespace found gone is polled once more and ends its own as netns_gone", () => {
  const { c } = collector([[message(0x41n)], [message(0x41n)], [message(0x41n)], [message(0x41n)]], {});
  const other = replaySource([[message(0x42n, { acked: 1n })], new DumpTimeoutError(5000), [message(0x42n, { acked: 2n })], []], true);
  c.addNamespace({ inode: 4026532999, name: "other" }, other.source);
  const t = 1_700_000_000_000;
  const first = c.poll(t);
  expect(first.opened.map((o) => [o.cookie, o.netns?.inode])).toEqual([[0x41n, expect.any(Number)], [0x42n, 4026532999]]);
  expect(first.opened[1].netns?.name).toBe("other");
  // The other namespace's dump fails: its connection is not ended, and nothing else is.
  const failed = c.poll(t + 300);
  expect(failed.closed).toEqual([]);
  expect(c.stats.errors.get("dump_timeout")).toBe(1);
  expect(c.stats.lastError).toContain("netns 4026532999");
  expect(c.tracked).toBe(2);
  // Found gone: the next poll still reads it (its last snapshot archived), then ends its connection.
  expect(c.removeNamespace(4026532999)).toBe(true);
  const gone = c.poll(t + 600);
  expect(gone.closed.map((x) => [x.reason, x.bytesAcked])).toEqual([["netns_gone", 2n]]);
  expect(c.namespaceCount).toBe(1);
  expect(c.tracked).toBe(1);
  expect(c.poll(t + 900).closed).toEqual([]);
  c.shutdown(t + 1000);
});
