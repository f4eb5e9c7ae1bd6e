// /healthz in the API worker reads the poll thread's status numbers from shared memory:
// a real Worker reads what this thread writes, with no message in between.
import { expect, test } from "bun:test";
import { createStatus, healthReport, recordPoll, SharedStatusNumbers } from "../../src/api/status.ts";

test("a view follows every later write, null poll time included", () => {
  const s = createStatus(1_700_000_000_000);
  const shared = new SharedStatusNumbers();
  shared.write(s);
  const view = shared.view();
  expect(view.lastPollAt).toBeNull();
  expect(healthReport(view, s.startedAt + 10, 5_000).status).toBe("starting");
  recordPoll(s, s.startedAt + 20);
  s.errors = 3;
  shared.write(s);
  expect({ startedAt: view.startedAt, lastPollAt: view.lastPollAt, cycles: view.cycles, errors: view.errors }).toEqual({ startedAt: s.startedAt, lastPollAt: s.startedAt + 20, cycles: 1, errors: 3 });
  expect(healthReport(view, s.startedAt + 30, 5_000).status).toBe("ok");
  expect(healthReport(view, s.startedAt + 10_000, 5_000).status).toBe("stale");
});

test("another thread sees the numbers as they are written", async () => {
  const shared = new SharedStatusNumbers();
  const s = createStatus(1_700_000_000_000);
  shared.write(s);
  const src = `self.onmessage = (e) => { const v = new Float64Array(e.data.buffer); if (e.data.ask) postMessage([v[1], v[2], v[3]]); };`;
  const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
  const w = new Worker(url);
  try {
    const ask = () =>
      new Promise<number[]>((resolve) => {
        w.onmessage = (e: MessageEvent<number[]>) => resolve(e.data);
        w.postMessage({ buffer: shared.buffer, ask: true });
      });
    expect((await ask())[1]).toBe(0);
    for (let i = 0; i < 5; i++) recordPoll(s, s.startedAt + i);
    s.errors = 2;
    shared.write(s);
    expect(await ask()).toEqual([s.startedAt + 4, 5, 2]);
  } finally {
    w.terminate();
    URL.revokeObjectURL(url);
  }
});
