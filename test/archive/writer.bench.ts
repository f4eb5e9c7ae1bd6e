// Throughput of the archive writer: CONNS connections, each archiving one snapshot per
// simulated poll cycle, flushDue() every cycle, on a virtual clock (so flushes happen as
// in production, but the run goes as fast as the CPU and disk allow).
//   bun test/archive/writer.bench.ts [--conns 10000] [--records 30] [--cycle-ms 100] [--level=1] [--pad 0] [--encode]
// --encode also times encodeRecord (base64 + JSON) per record; otherwise lines are made
// beforehand and only the writer (buffering, zstd, file I/O) is timed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { newSplitState, splitMessages } from "../../src/diag/netlink-messages.ts";
import { ArchiveSet } from "../../src/archive/archive-set.ts";
import { encodeRecord } from "../../src/archive/record.ts";
import { formatTime } from "../../src/archive/time.ts";
import { readZst } from "./helpers.ts";

const { values } = parseArgs({
  options: {
    conns: { type: "string", default: "10000" },
    records: { type: "string", default: "30" },
    "cycle-ms": { type: "string", default: "100" },
    level: { type: "string", default: "1" }, // a negative level: --level=-1
    encode: { type: "boolean", default: false },
    // Extra attribute bytes per message, to model longer lines (today's kernels send
    // more than this 2019 capture: --pad 370 gives ~1 KB lines).
    pad: { type: "string", default: "0" },
    dir: { type: "string" },
  },
});
const CONNS = Number(values.conns);
const RECORDS = Number(values.records);
const CYCLE_MS = Number(values["cycle-ms"]);
const LEVEL = Number(values.level);

// Real messages from M-Lab's capture; each connection gets its own copy whose counters
// move every record, so lines differ the way a live connection's do.
const raw = new Uint8Array(readZst("raw-netlink-messages.bin.zst"));
const msgs: Uint8Array[] = [];
splitMessages(raw, raw.byteLength, (b, off, len) => msgs.push(b.slice(off, off + len)), newSplitState());

interface Conn {
  buf: Uint8Array;
  dv: DataView;
  attrs: AttributeIndex;
  info: number;
}
const PAD = Number(values.pad);

/** `msg` with one more rtattr (type 16) of `pad` bytes, length fields updated. */
function padded(msg: Uint8Array, pad: number): Uint8Array {
  if (pad === 0) return msg.slice();
  const extra = 4 + pad;
  const out = new Uint8Array(msg.byteLength + ((extra + 3) & ~3));
  out.set(msg);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, out.byteLength, true);
  dv.setUint16(msg.byteLength, extra, true);
  dv.setUint16(msg.byteLength + 2, 16, true);
  for (let i = 0; i < pad; i++) out[msg.byteLength + 4 + i] = (i * 31) & 0xff;
  return out;
}

const conns: Conn[] = Array.from({ length: CONNS }, (_, i) => {
  const buf = padded(msgs[i % msgs.length], PAD);
  const attrs = new AttributeIndex();
  attrs.index(buf, 16 + 72, buf.byteLength);
  new DataView(buf.buffer).setUint32(16 + 44, i, true); // distinct cookies
  return { buf, dv: new DataView(buf.buffer), attrs, info: attrs.offset[2] };
});

function step(c: Conn, r: number): void {
  const at = c.info;
  c.dv.setUint32(at + 44, (r * 37) & 0xffff, true); // last_data_sent
  c.dv.setUint32(at + 68, 20000 + ((r * 7919) % 5000), true); // rtt
  c.dv.setBigUint64(at + 120, BigInt(r) * 14480n + 1000n, true); // bytes_acked
  c.dv.setUint32(at + 136, r * 10 + 3, true); // segs_out
}

const t0 = Date.parse("2024-05-06T07:08:09Z");
let lines: string[][] | null = null;
if (!values.encode) {
  lines = conns.map((c) => Array.from({ length: RECORDS }, (_, r) => (step(c, r), encodeRecord(formatTime(t0 + r * CYCLE_MS), c.buf, 16, c.attrs))));
}

const dir = values.dir ?? mkdtempSync(join(tmpdir(), "archive-bench-"));
const set = new ArchiveSet({ outputDir: dir, compressionLevel: LEVEL });
const writers = conns.map((_, i) => set.open(`bench_${i.toString(16).toUpperCase().padStart(16, "0")}`, t0));

function lineFor(i: number, r: number, ts: string): string {
  if (lines) return lines[i][r];
  const c = conns[i];
  step(c, r);
  return encodeRecord(ts, c.buf, 16, c.attrs);
}

// Phase 1: every connection's first record, flushed: creates CONNS files. Timed apart,
// since in production files are created at the rate connections arrive (and rotate),
// while flushes run all the time.
let lineBytes = 0;
let now = t0;
const createStart = performance.now();
{
  const ts = formatTime(now);
  for (let i = 0; i < CONNS; i++) {
    const line = lineFor(i, 0, ts);
    lineBytes += line.length + 1;
    writers[i].append(line, now);
  }
  set.flushDue(now + 1000);
}
const createSeconds = (performance.now() - createStart) / 1000;
const afterCreate = set.stats();

// Phase 2: steady state, one record per connection per cycle, flushDue every cycle.
let rssMB = 0;
const started = performance.now();
for (let r = 1; r < RECORDS; r++) {
  now = t0 + 1000 + r * CYCLE_MS;
  const ts = formatTime(now);
  for (let i = 0; i < CONNS; i++) {
    const line = lineFor(i, r, ts);
    lineBytes += line.length + 1;
    writers[i].append(line, now);
  }
  set.flushDue(now);
  if (r === RECORDS - 1) rssMB = Math.round(process.memoryUsage().rss / 1e6);
}
set.closeAll(now + CYCLE_MS);
const seconds = (performance.now() - started) / 1000;

const s = set.stats();
const steady = CONNS * (RECORDS - 1);
const steadyIn = s.bytesIn - afterCreate.bytesIn;
console.log(JSON.stringify({
  conns: CONNS, recordsPerConn: RECORDS, cycleMs: CYCLE_MS, level: LEVEL, encodeTimed: values.encode, pad: PAD,
  avgLineBytes: Math.round(lineBytes / (CONNS * RECORDS)),
  createPhase: { files: afterCreate.filesCreated, seconds: +createSeconds.toFixed(3), filesPerSec: Math.round(CONNS / createSeconds) },
  steady: {
    records: steady, seconds: +seconds.toFixed(3), recordsPerSec: Math.round(steady / seconds),
    uncompressedMBps: +(steadyIn / 1e6 / seconds).toFixed(1),
    flushes: s.flushes - afterCreate.flushes,
    linesPerFrame: +(steady / (s.flushes - afterCreate.flushes)).toFixed(1),
    compressionRatio: +(steadyIn / (s.bytesWritten - afterCreate.bytesWritten)).toFixed(2),
  },
  overallRatio: +(s.bytesIn / s.bytesWritten).toFixed(2),
  rssMB,
  errors: s.errors,
}));
if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
