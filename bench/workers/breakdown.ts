// Diagnostic worker (runs inside nsA): where a poll cycle's time goes, phase by phase.
// Takes one real dump of the sockets present, then times, per cycle over that captured
// dump (no kernel involved), successively larger slices of the collector's per-socket
// work, each the same code the collector runs:
//   split      memcpy of the chunks into the receive buffer + splitMessages, empty visitor
//   +filter    + SocketFilter.accepts
//   +index     + AttributeIndex.index of the rtattrs
//   +observe   + SnapshotCache.observe (cookie key, Map lookup, re-index of the cached
//              copy, classifyChange; with --changed every socket differs, so it also copies)
//   poll       the whole Collector.poll() over the same replayed dump
// and, for the active case (--changed), what archiving costs per record:
//   encode     encodeRecord of every socket
//   append     ArchiveWriter.append of those lines (buffering only)
//   flush      compress + write of 100 lines per connection (as a 1 s flush at 10 ms polls)
// Finally the kernel's share: the real SockDiagDumper.dump (empty visitor) and the real
// Collector.poll, for comparison with the replayed figures.
// --changed works on an idle population too (the counters are moved on in the captured
// copy), which keeps load.c from competing for the CPU while the phases are timed.
// Args: --out DIR [--cycles N] [--changed] [--from FILE]
//   --from FILE  use a dump saved by archive-ceiling --capture instead of taking one, and
//                skip the real-dump figures (the sockets may be gone).
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { encodeRecord } from "../../src/archive/record.ts";
import { formatTime } from "../../src/archive/time.ts";
import { COLLECTOR_STATES } from "../../src/collector/collector.ts";
import { SockDiagDumper } from "../../src/collector/dumper.ts";
import { SocketFilter } from "../../src/collector/filters.ts";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { NLMSG_HDRLEN } from "../../src/diag/constants.ts";
import { INET_DIAG_MSG_SIZE } from "../../src/diag/layouts.ts";
import { newSplitState, splitMessages, type MessageVisitor } from "../../src/diag/netlink-messages.ts";
import { bytesOf } from "../../src/diff/bytes.ts";
import { SnapshotCache } from "../../src/diff/snapshot-cache.ts";
import { makeCollector } from "../lib/collector-setup.ts";
import { CapturedDump, capturedSource } from "../lib/replay.ts";
import { median } from "../lib/stats.ts";
import { argFlag, argNumber, argString, emitResult, runWorker } from "../lib/worker-io.ts";

const RECEIVE = 64 * 1024;

runWorker("breakdown", () => {
  const cycles = argNumber("cycles", 30);
  const changed = argFlag("changed");
  const out = argString("out");
  const from = argString("from", "");
  const dump = from !== "" ? CapturedDump.load(from) : CapturedDump.capture(COLLECTOR_STATES);
  const n = dump.messages;
  const buffer = new Uint8Array(RECEIVE);
  const rx = bytesOf(buffer);
  const split = newSplitState();
  const replay = (visit: MessageVisitor): void => {
    for (const c of dump.chunks) {
      buffer.set(c.bytes.subarray(0, c.length));
      splitMessages(buffer, c.length, visit, split);
    }
  };
  const filter = new SocketFilter({ includeLocal: false, excludeSrcPorts: [], excludeDstIps: [] });
  const attrs = new AttributeIndex();
  const cache = new SnapshotCache<undefined>();

  /** Median ms per cycle of `body`, after 3 untimed cycles; `before` runs untimed each cycle. */
  const time = (body: () => void, before?: () => void): number => {
    const ms: number[] = [];
    for (let i = 0; i < cycles + 3; i++) {
      before?.();
      const t = performance.now();
      body();
      if (i >= 3) ms.push(performance.now() - t);
    }
    return median(ms);
  };
  const advance = changed ? () => dump.advance(100) : undefined;

  const phases: Record<string, number> = {};
  phases.split = time(() => replay(() => {}), advance);
  phases.filter = time(() => replay((b, off) => void filter.accepts(b, off + NLMSG_HDRLEN)), advance);
  phases.index = time(
    () =>
      replay((b, off, len) => {
        const idm = off + NLMSG_HDRLEN;
        if (filter.accepts(b, idm)) attrs.index(b, idm + INET_DIAG_MSG_SIZE, off + len);
      }),
    advance,
  );
  const observeVisit: MessageVisitor = (b, off, len) => {
    const idm = off + NLMSG_HDRLEN;
    if (!filter.accepts(b, idm)) return;
    attrs.index(b, idm + INET_DIAG_MSG_SIZE, off + len);
    cache.observe(rx, idm, off + len, attrs);
  };
  replay(observeVisit); // fill the cache: every later observe compares
  phases.observe = time(() => {
    cache.beginCycle();
    replay(observeVisit);
  }, advance);

  // The whole poll over the same replayed dump.
  {
    const { collector } = makeCollector({ outputDir: `${out}/poll`, destroyEvents: false, source: capturedSource(dump) });
    let now = Date.now();
    collector.poll(now);
    phases.poll = time(() => {
      now += 10;
      collector.poll(now);
    }, advance);
    collector.shutdown(now);
  }

  if (changed) {
    // Encoding every socket's line.
    const ts = formatTime(Date.now());
    const lines: string[] = [];
    const encodeVisit: MessageVisitor = (b, off, len) => {
      const idm = off + NLMSG_HDRLEN;
      attrs.index(b, idm + INET_DIAG_MSG_SIZE, off + len);
      lines.push(encodeRecord(ts, b, idm, attrs));
    };
    phases.indexOnly = time(() => replay((b, off, len) => void attrs.index(b, off + NLMSG_HDRLEN + INET_DIAG_MSG_SIZE, off + len)), advance);
    phases.encode = time(() => {
      lines.length = 0;
      replay(encodeVisit);
    }, advance);
    // Appending (buffering) and flushing (zstd + write), 100 lines per connection.
    // Bounds raised so that append only buffers (no flush forced by a bound) and flush
    // is timed on its own.
    const set = new ArchiveSet({ outputDir: `${out}/archive`, flushIntervalMs: 1_000_000, flushBytes: 2 ** 30, maxPendingBytes: 2 ** 30, maxTotalPendingBytes: 2 ** 40 });
    const start = Date.now();
    const writers = Array.from({ length: lines.length }, (_, i) => set.open(`bench_1700000000_unsafe_${i.toString(16).padStart(16, "0")}`, start));
    const sample = lines.slice();
    const appendCycle = (t: number): void => {
      for (let i = 0; i < writers.length; i++) writers[i]?.append(sample[i] ?? "", t);
    };
    // First flush creates the files; not timed.
    appendCycle(start);
    for (const w of writers) w.flush(start);
    const appendMs: number[] = [];
    for (let k = 0; k < 100; k++) {
      const t = performance.now();
      appendCycle(start + k);
      appendMs.push(performance.now() - t);
    }
    phases.append = median(appendMs);
    const t = performance.now();
    for (const w of writers) w.flush(start + 200);
    // Per cycle equivalent: one flush of 100 lines per connection serves 100 cycles.
    phases.flush100PerCycle = (performance.now() - t) / 100;
    set.closeAll(start + 300);
  }

  // The kernel's share, for comparison: real dumps.
  if (from === "") {
    const dumper = new SockDiagDumper(undefined, COLLECTOR_STATES);
    phases.realDump = time(() => void dumper.dump(() => {}));
    dumper.close();
    const { collector } = makeCollector({ outputDir: `${out}/real`, destroyEvents: true });
    collector.poll(Date.now());
    phases.realPoll = time(() => void collector.poll(Date.now()));
    collector.shutdown(Date.now());
  }
  const perSocketUs: Record<string, number> = {};
  for (const [k, v] of Object.entries(phases)) perSocketUs[k] = (v * 1000) / n;
  emitResult({ sockets: n, changed, cycles, msPerCycle: phases, usPerSocket: perSocketUs });
});
