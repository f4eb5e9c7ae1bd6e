// Scenario 1 worker (runs inside nsA): SockDiagDumper.dump with an empty visitor, i.e.
// ffi send/recv + splitting into messages and nothing else, interleaved with the C floor
// making the same dumps (same families, same state mask, same extensions).
// Args: --floor BIN --rounds K --reps R [--states MASK]
import { SockDiagDumper } from "../../src/collector/dumper.ts";
import { interleave } from "../lib/interleave.ts";
import { argNumber, argString, emitResult, runWorker } from "../lib/worker-io.ts";

runWorker("dump-split", () => {
  const states = argNumber("states", 0xffffffff) >>> 0;
  const dumper = new SockDiagDumper(undefined, states);
  const visit = (): void => {};
  let messages = 0;
  let bytes = 0;
  let chunks = 0;
  const cycle = (): void => {
    const r = dumper.dump(visit);
    messages = r.messages;
    bytes = r.bytes;
    chunks = r.chunks;
  };
  // Warm-up: let the JIT compile the loop before anything is timed.
  for (let i = 0; i < 5; i++) cycle();
  const res = interleave({
    floorBin: argString("floor"),
    floor: { states },
    rounds: argNumber("rounds"),
    reps: argNumber("reps"),
    cycle,
  });
  dumper.close();
  emitResult({ ...res, sockets: messages, bytes, chunks });
});
