// `csv` as a user runs it: input that is not an archive is one clear error and exit 1;
// --unique-columns gives a header without csvtool's duplicate name.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { compress } from "zstd-napi";
import { ROOT, runCliSync } from "../helpers/run-cli.ts";
import { SEGMENT_183, tmpFolder } from "../archive/helpers.ts";

let tmp: ReturnType<typeof tmpFolder>;
let sqlite: string;
let zstdText: string;

beforeAll(() => {
  tmp = tmpFolder("cli-csv");
  sqlite = join(tmp.dir, "index.sqlite");
  const db = new Database(sqlite);
  db.run("CREATE TABLE t (x INTEGER)");
  db.run("INSERT INTO t VALUES (1)");
  db.close();
  zstdText = join(tmp.dir, "notes.txt.zst");
  writeFileSync(zstdText, compress(Buffer.from("just some notes\nnot an archive\n")));
});
afterAll(() => tmp.cleanup());

const stderrLines = (text: string): string[] => text.split("\n").filter((l) => l !== "");

describe("input that is not an archive", () => {
  test("README.md, an SQLite file, zstd text: exit 1, one line naming the file and why, no CSV", () => {
    const readme = join(ROOT, "README.md");
    for (const [file, why] of [
      [readme, "neither zstd-compressed nor M-Lab JSONL"],
      [sqlite, "neither zstd-compressed nor M-Lab JSONL"],
      [zstdText, "zstd data, but not M-Lab JSONL inside"],
    ] as const) {
      const r = runCliSync(["csv", file]);
      expect({ file, code: r.code }).toEqual({ file, code: 1 });
      const lines = stderrLines(r.stderr);
      expect(lines.length).toBe(1);
      expect(lines[0].startsWith(`${file}: not a tcp-info archive: ${why} (line 1: `)).toBe(true);
      expect(r.stdout).toBe("");
    }
  });

  test("beside a real archive: the archive's rows are still written, the status is 1", () => {
    const r = runCliSync(["csv", SEGMENT_183, join(ROOT, "README.md")]);
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split("\n").length).toBe(151);
    expect(stderrLines(r.stderr)).toEqual([expect.stringContaining("README.md: not a tcp-info archive")]);
  });

  test("a real archive alone exits 0 with nothing on stderr", () => {
    const r = runCliSync(["csv", SEGMENT_183]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });
});

describe("--unique-columns", () => {
  const header = (args: string[]): string[] => runCliSync(["csv", ...args, SEGMENT_183]).stdout.split("\n")[0].split(",");

  test("by default the header repeats TCP.LastDataRecv, as csvtool's does", () => {
    expect(header([]).filter((c) => c === "TCP.LastDataRecv").length).toBe(2);
  });

  test("with it every column name is unique; the second TCP.LastDataRecv is TCP.LastAckRecv", () => {
    const plain = header([]);
    const unique = header(["--unique-columns"]);
    expect(new Set(unique).size).toBe(unique.length);
    expect(unique.length).toBe(plain.length);
    const second = plain.lastIndexOf("TCP.LastDataRecv");
    expect(unique[second]).toBe("TCP.LastAckRecv");
    expect(unique.filter((c, i) => c !== plain[i])).toEqual(["TCP.LastAckRecv"]);
  });

  test("only the header changes", () => {
    const plain = runCliSync(["csv", SEGMENT_183]).stdout.split("\n");
    const unique = runCliSync(["csv", "--unique-columns", SEGMENT_183]).stdout.split("\n");
    expect(unique.slice(1)).toEqual(plain.slice(1));
    expect(unique.length).toBe(152);
  });
});
