// Shared by the archive tests: M-Lab's published test data (read-only; test/fixtures is
// the repository's copy of ../shared/testdata) and tmp folders.
import { decompress } from "zstd-napi";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttributeIndex } from "../../src/diag/attributes.ts";
import { newSplitState, splitMessages } from "../../src/diag/netlink-messages.ts";
import { encodeMessage } from "../../src/archive/record.ts";
import { formatTime } from "../../src/archive/time.ts";

export const TESTDATA = join(import.meta.dir, "..", "fixtures");
export const SEGMENT_183 = join(TESTDATA, "ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");

export function readZst(name: string): Buffer {
  return decompress(readFileSync(join(TESTDATA, name)));
}

/** A fresh folder under the system tmp dir; `cleanup` removes it. */
export function tmpFolder(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `archive-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a command, returning its exit code, stdout (bytes) and stderr (text). */
export function run(cmd: string[], stdin?: Uint8Array): { code: number; stdout: Buffer; stderr: string } {
  const p = Bun.spawnSync({ cmd, stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: Buffer.from(p.stdout), stderr: Buffer.from(p.stderr).toString() };
}

let captured: { raw: Uint8Array; msgs: [number, number][]; attrs: AttributeIndex } | null = null;

/** A real ArchivalRecord line (message i of M-Lab's kernel capture) taken at `ms`. */
export function mlabLine(i: number, ms: number): string {
  if (captured === null) {
    const raw = new Uint8Array(readZst("raw-netlink-messages.bin.zst"));
    const msgs: [number, number][] = [];
    splitMessages(raw, raw.byteLength, (_b, off, len) => msgs.push([off, len]), newSplitState());
    captured = { raw, msgs, attrs: new AttributeIndex() };
  }
  const [off, len] = captured.msgs[i % captured.msgs.length];
  return encodeMessage(formatTime(ms), captured.raw, off, len, captured.attrs)!;
}
