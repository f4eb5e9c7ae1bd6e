// A connection's archives read for analysis only: per snapshot line, its time and the
// few attributes the analysis uses (tcp_info, the socket memory info, the congestion
// control name), base64-decoded into one reused buffer. No JSON.parse, no decoded
// objects: the general reader spends ~50 µs a line building what a summary of 100,000
// snapshots never looks at. Lines it cannot read are skipped, as the general reader's
// lenient mode does.
import { readFile } from "node:fs/promises";
import { decompress } from "zstd-napi";
import { looksLikeZstd } from "./inflate.ts";

/** What a line hands its visitor; `attr(type)` is valid until the next line. */
export interface TrackLine {
  /** The Timestamp text (RFC 3339 UTC, up to nanoseconds). */
  timestamp: string;
  /** The attribute of `type` (only the types asked for are decoded), or null. */
  attr(type: number): Uint8Array | null;
}

const TS_HEAD = '{"Timestamp":"';
const ATTRS = '"Attributes":[';
const RAW = '"RawIDM":"';

/** Decoded attribute bytes, by type, for the current line. */
class LineAttrs implements TrackLine {
  timestamp = "";
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);
  private readonly start = new Int32Array(64);
  private readonly length = new Int32Array(64);

  constructor(private readonly wanted: readonly number[]) {}

  /** Indexes `line`'s Attributes array and decodes the wanted ones. False if malformed. */
  load(line: string): boolean {
    const at = line.indexOf(ATTRS);
    if (at < 0) return false;
    this.start.fill(-1);
    let pos = at + ATTRS.length;
    let used = 0;
    for (let type = 0; type < 64; type++) {
      if (line.startsWith("null", pos)) {
        pos += 4;
      } else if (line.charCodeAt(pos) === 0x22) {
        const end = line.indexOf('"', pos + 1);
        if (end < 0) return false;
        if (this.wanted.includes(type)) {
          const n = this.scratch.write(line.slice(pos + 1, end), used, "base64");
          this.start[type] = used;
          this.length[type] = n;
          used += n;
        }
        pos = end + 1;
      } else {
        return false;
      }
      const c = line.charCodeAt(pos);
      if (c === 0x5d) return true; // ]
      if (c !== 0x2c) return false; // ,
      pos++;
    }
    return false;
  }

  attr(type: number): Uint8Array | null {
    const s = this.start[type];
    return s < 0 ? null : this.scratch.subarray(s, s + this.length[type]);
  }
}

/**
 * Calls `visit` for every snapshot line of each file in order (Metadata lines and lines
 * that cannot be read are skipped). `types` are the attribute types to decode.
 */
export async function readTrackLines(paths: readonly string[], types: readonly number[], visit: (line: TrackLine) => void): Promise<void> {
  const attrs = new LineAttrs(types);
  const text = new TextDecoder();
  for (const path of paths) {
    const raw = new Uint8Array(await readFile(path));
    const body = text.decode(looksLikeZstd(raw) ? decompress(raw) : raw);
    let from = 0;
    while (from < body.length) {
      let nl = body.indexOf("\n", from);
      if (nl < 0) nl = body.length;
      const line = body.slice(from, nl);
      from = nl + 1;
      if (!line.startsWith(TS_HEAD) || !line.includes(RAW)) continue;
      const tsEnd = line.indexOf('"', TS_HEAD.length);
      if (tsEnd < 0) continue;
      attrs.timestamp = line.slice(TS_HEAD.length, tsEnd);
      if (attrs.load(line)) visit(attrs);
    }
  }
}
