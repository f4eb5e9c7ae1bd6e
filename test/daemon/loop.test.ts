// The poll loop outlives any exception: a poll or a report hand-over that throws is
// counted, logged with its cycle (recurring ones at most every 10 s), and the next cycle
// runs. A real Collector over the real kernel; the faults are injected at its edges.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { Collector } from "../../src/collector/collector.ts";
import { runLoop, sleepMs } from "../../src/daemon/loop.ts";
import type { CycleReport } from "../../src/model/report.ts";

let dir: string;
let collector: Collector;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-loop-"));
  collector = new Collector(
    { uuidPrefix: "loop_1_unsafe", includeLocal: false, excludeSrcPorts: [], excludeDstIps: [], anonymize: "none", destroyEvents: true, vanishGraceMs: 250 },
    new ArchiveSet({ outputDir: dir }),
  );
});
afterEach(() => {
  collector.shutdown(Date.now());
  rmSync(dir, { recursive: true, force: true });
});

test("exceptions in a poll or in recording its report are counted and logged; every cycle still runs", async () => {
  const realPoll = collector.poll.bind(collector);
  let calls = 0;
  collector.poll = (now, time) => {
    calls++;
    if (calls === 2 || calls === 3) throw new Error(`injected poll fault ${calls}`);
    return realPoll(now, time);
  };
  const reports: CycleReport[] = [];
  const sink = {
    onReport(r: CycleReport) {
      if (r.cycle === 4) throw new TypeError("injected sink fault");
      reports.push(r);
    },
  };
  const log: string[] = [];
  await runLoop(collector, sink, { intervalMs: 5, reps: 8, statusSeconds: 0, log: (l) => log.push(l) }, new AbortController().signal);
  expect(collector.stats.cycles).toBe(8);
  expect(calls).toBe(8);
  expect(collector.stats.errors.get("poll_exception")).toBe(2);
  expect(collector.stats.errors.get("report_exception")).toBe(1);
  // Six polls succeeded; one of their reports was lost to the sink's fault.
  expect(reports.length).toBe(5);
  // The first of a kind is logged with its cycle and where it came from; the repeat within 10 s is not.
  const pollLines = log.filter((l) => l.startsWith("poll failed"));
  expect(pollLines.length).toBe(1);
  expect(pollLines[0]).toMatch(/^poll failed in cycle 2: injected poll fault 2 at .*loop\.test\.ts.*; continuing$/);
  expect(log.filter((l) => l.startsWith("recording the cycle's report failed in cycle")).length).toBe(1);
});

test("a stop request ends the loop between cycles", async () => {
  const stop = new AbortController();
  const sink = {
    onReport(r: CycleReport) {
      if (r.cycle === 3) stop.abort();
    },
  };
  await runLoop(collector, sink, { intervalMs: 5, reps: 0, statusSeconds: 0, log: () => {} }, stop.signal);
  expect(collector.stats.cycles).toBe(3);
});

test("the wait between cycles sleeps whole milliseconds, at least one: never a fraction that Bun's timers cut to nothing", () => {
  // Bun.sleep(0.6) returns at once and Bun.sleep(5.6) after 5 ms: either made the loop spin
  // on the event loop until the deadline.
  for (const [left, ms] of [[0.01, 1], [0.6, 1], [1, 1], [1.2, 2], [5.6, 6], [9.99, 10], [10, 10], [37, 10]] as const) {
    expect(sleepMs(left)).toBe(ms);
  }
});
