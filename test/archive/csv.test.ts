// CSV in M-Lab csvtool's columns over M-Lab's real segment, cross-checked against the raw
// bytes decoded independently here.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compress } from "zstd-napi";
import { csvColumnNames, csvField, csvHeader, csvLines, csvRow, mlabAddress } from "../../src/archive/csv.ts";
import { runCsv } from "../../src/cli/csv.ts";
import { readArchiveAll, type SnapshotEntry } from "../../src/archive/reader.ts";
import { SEGMENT_183, readZst, tmpFolder } from "./helpers.ts";

function sink(): { write: (s: string) => boolean; text: () => string } {
  let acc = "";
  return { write: (s: string) => ((acc += s), true), text: () => acc };
}

const COLUMNS = csvColumnNames();

/** Every "Timestamp" of an archive as the file has it: `zstd -dc` and a regex, not our reader. */
function zstdTimestamps(path: string): string[] {
  const p = Bun.spawnSync({ cmd: ["zstd", "-dc", path], stdout: "pipe", stderr: "pipe" });
  expect(p.exitCode).toBe(0);
  return [...Buffer.from(p.stdout).toString().matchAll(/"Timestamp":"([^"]*)"/g)].map((m) => m[1]);
}

function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split("\n");
  expect(lines.pop()).toBe(""); // ends with a newline
  const [h, ...rows] = lines;
  return { header: h.split(","), rows: rows.map((r) => r.split(",")) };
}

test("header: csvtool's names and order", () => {
  // Indices M-Lab's own csvtool test checks (minus its Metadata row's shift), and the whole shape.
  expect(COLUMNS[0]).toBe("Timestamp");
  expect(COLUMNS[3]).toBe("IDM.Family");
  expect(COLUMNS[7]).toBe("IDM.SockID.SPort");
  expect(COLUMNS[12]).toBe("IDM.SockID.Cookie");
  expect(COLUMNS.length).toBe(105);
  expect(COLUMNS.slice(0, 25)).toEqual([
    "Timestamp", "Observed", "NotFullyParsed", "IDM.Family", "IDM.State", "IDM.Timer", "IDM.Retrans",
    "IDM.SockID.SPort", "IDM.SockID.DPort", "IDM.SockID.Src", "IDM.SockID.Dst", "IDM.SockID.Interface", "IDM.SockID.Cookie",
    "IDM.Expires", "IDM.Rqueue", "IDM.Wqueue", "IDM.UID", "IDM.Inode",
    "CongestionAlgorithm", "TOS", "TClass", "ClassID", "Shutdown", "Protocol", "Mark",
  ]);
  expect(COLUMNS.slice(25, 27)).toEqual(["TCP.State", "TCP.CAState"]);
  expect(COLUMNS.filter((c) => c === "TCP.LastDataRecv").length).toBe(2); // M-Lab's duplicate tag
  expect(csvColumnNames({ distinctNames: true })).toContain("TCP.LastAckRecv");
  expect(COLUMNS).toContain("SKMemInfo.Sndbug");
  expect(COLUMNS.slice(-4)).toEqual(["BBR.BW", "BBR.MinRTT", "BBR.PacingGain", "BBR.CwndGain"]);
  expect(csvHeader()).toBe(COLUMNS.join(","));
});

test("runCsv over the testdata archive: 150 rows cross-checked with the raw bytes", async () => {
  const out = sink();
  const err = sink();
  const res = await runCsv([SEGMENT_183], out, { err });
  expect(res).toEqual({ rows: 150, malformed: 0, failedFiles: 0, exitCode: 0 });
  expect(err.text()).toBe("");
  const { header, rows } = parseCsv(out.text());
  expect(header).toEqual(COLUMNS);
  expect(rows.length).toBe(150);
  const col = (name: string) => header.indexOf(name);

  const { entries } = await readArchiveAll(SEGMENT_183);
  const meta = entries[0];
  if (meta.kind !== "metadata") throw new Error("no metadata");
  const uuidCookie = BigInt("0x" + meta.metadata.uuid.split("_").pop());
  const snaps = entries.slice(1) as SnapshotEntry[];
  const fileTimes = zstdTimestamps(SEGMENT_183).slice(1); // the first is the Metadata line's
  expect(fileTimes.length).toBe(150);

  rows.forEach((r, i) => {
    const s = snaps[i];
    const idm = Buffer.from(s.rawIdm);
    const info = Buffer.from(s.attributes[2]!);
    expect(r.length).toBe(COLUMNS.length);
    expect(r[col("Timestamp")]).toBe(fileTimes[i]); // the file's text, verbatim
    // Cookie: upper-case hex without padding, equal to the UUID's suffix.
    expect(BigInt("0x" + r[col("IDM.SockID.Cookie")])).toBe(uuidCookie);
    expect(r[col("IDM.SockID.Cookie")]).toBe("3E8");
    // Ports are big-endian in the sock id.
    expect(r[col("IDM.SockID.SPort")]).toBe(String(idm.readUInt16BE(4)));
    expect(r[col("IDM.SockID.DPort")]).toBe(String(idm.readUInt16BE(6)));
    expect(r[col("IDM.Family")]).toBe(String(idm[0]));
    expect(r[col("IDM.Inode")]).toBe(String(idm.readUInt32LE(68)));
    expect(r[col("TCP.RTT")]).toBe(String(info.readUInt32LE(68)));
    expect(r[col("TCP.BytesAcked")]).toBe(String(info.readBigInt64LE(120)));
    expect(r[col("TCP.MaxPacingRate")]).toBe(String(info.readBigInt64LE(112)));
    expect(r[col("TCP.WScale")]).toBe(String(info[6]));
    expect(r[col("SKMemInfo.Rcvbuf")]).toBe(String(Buffer.from(s.attributes[7]!).readUInt32LE(4)));
    expect(r[col("CongestionAlgorithm")]).toBe("cubic");
    expect(r[col("Vegas.Enabled")]).toBe(""); // attribute absent
    expect(r[col("Mark")]).toBe("0");
  });
  const first = rows[0];
  expect(first[col("IDM.SockID.SPort")]).toBe("9091"); // values M-Lab's csvtool test checks
  expect(first[col("IDM.SockID.Src")]).toBe("192.168.14.134"); // v4-mapped, printed as Go does
  expect(first[col("Observed")]).toBe(String(1 + 2 + 8 + 16 + 32 + 64 + 128)); // types 1,2,4..8
  expect(first[col("TCP.MaxPacingRate")]).toBe("-1"); // int64 in M-Lab's struct
  // This 2019 kernel sent 224 bytes of tcp_info: fields past them read 0, as Go's zero-padded copy does.
  expect(snaps[0].attributes[2]!.byteLength).toBe(224);
  expect(first[col("NotFullyParsed")]).toBe("0");
  expect(first[col("TCP.SndWnd")]).toBe("0");
});

test("NotFullyParsed: attributes longer than M-Lab's structs, a Mark of the wrong size, types it does not decode", () => {
  const idm = new Uint8Array(72);
  idm[0] = 2;
  const info = new Uint8Array(280).fill(1); // today's kernels: 280 bytes > 232
  const entry: SnapshotEntry = {
    kind: "snapshot", line: 1, timestamp: 0, timestampSubMs: 0, timestampText: "1970-01-01T00:00:00Z", rawIdm: idm,
    attributes: [null, null, info, null, null, null, null, null, null, null, null, new Uint8Array([1]), null, null, null, new Uint8Array(3)],
  };
  const cells = csvRow(entry).split(",");
  const col = (name: string) => COLUMNS.indexOf(name);
  expect(cells[col("Observed")]).toBe(String(2 + 1024 + 16384));
  expect(cells[col("NotFullyParsed")]).toBe(String(2 + 1024 + 16384));
  expect(cells[col("TCP.SndWnd")]).toBe(String(0x01010101)); // the first 232 bytes are used
  expect(cells[col("Mark")]).toBe("0");
  expect(cells[col("IDM.SockID.Src")]).toBe("0.0.0.0");
});

test("stdin, several files, and failures: one header, every row, errors reported not thrown", async () => {
  const tmp = tmpFolder("csv");
  try {
    const plain = join(tmp.dir, "seg.jsonl");
    writeFileSync(plain, readZst("ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst").toString() + "{broken\n");
    async function* stdin(): AsyncGenerator<Uint8Array> {
      yield compress(readZst("ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst"));
    }
    const viaStdin = sink();
    expect((await runCsv([], viaStdin, { stdin: stdin(), err: sink() })).rows).toBe(150);
    const direct = sink();
    await runCsv([SEGMENT_183], direct, { err: sink() });
    expect(viaStdin.text()).toBe(direct.text());

    const out = sink();
    const err = sink();
    const res = await runCsv([SEGMENT_183, join(tmp.dir, "missing.jsonl.zst"), plain], out, { err });
    expect(res).toEqual({ rows: 300, malformed: 1, failedFiles: 1, exitCode: 1 });
    expect(out.text().split("\n").filter((l) => l.startsWith("Timestamp,")).length).toBe(1);
    expect(err.text()).toMatch(/missing\.jsonl\.zst: .*ENOENT|no such file/i);
    expect(err.text()).toMatch(/seg\.jsonl: line 152: not JSON/);
  } finally {
    tmp.cleanup();
  }
});

test("pure helpers: rows from entries, Go's CSV quoting, M-Lab's address text", async () => {
  const { entries } = await readArchiveAll(SEGMENT_183);
  const lines = [...csvLines(entries)];
  expect(lines.length).toBe(151);
  expect(lines[1]).toBe(csvRow(entries[1] as SnapshotEntry));
  expect(csvField("")).toBe("");
  expect(csvField("a,b")).toBe('"a,b"');
  expect(csvField('say "hi"')).toBe('"say ""hi"""');
  expect(csvField(" lead")).toBe('" lead"');
  expect(csvField("\\.")).toBe('"\\."');
  expect(csvField("cubic")).toBe("cubic");
  const a = new Uint8Array(16);
  a.set([10, 0, 0, 1]);
  expect(mlabAddress(a, 0)).toBe("10.0.0.1");
  a.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  expect(mlabAddress(a, 0)).toBe("2001:db8::1");
  a.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
  expect(mlabAddress(a, 0)).toBe("1.2.3.4");
});

test("Timestamp as csvtool prints it: the file's text, offset and nanoseconds kept", async () => {
  const tmp = tmpFolder("csv-times");
  try {
    // Go's MarshalText of what it parsed: Go-written times come back verbatim, whatever the offset.
    const times = [
      "2019-04-02T16:12:37.511999999+02:00", "2019-04-02T16:12:37.000000001+02:00", "2019-04-02T16:12:38+02:00",
      "2019-04-02T10:12:38.123456789-04:00", "2019-04-02T14:12:38.9Z", "2019-04-03T00:12:38.987654321+10:00",
    ];
    const idm = Buffer.alloc(72);
    idm[0] = 2;
    const line = (t: string): string => `{"Timestamp":"${t}","RawIDM":"${idm.toString("base64")}","Attributes":[null]}`;
    const meta = `{"Timestamp":"0001-01-01T00:00:00Z","Metadata":{"UUID":"u","Sequence":0,"StartTime":"2019-04-02T16:12:37.511999999+02:00"}}`;
    const plain = join(tmp.dir, "offsets.jsonl");
    writeFileSync(plain, [meta, ...times.map(line)].join("\n") + "\n");
    const out = sink();
    expect((await runCsv([plain], out, { err: sink() })).rows).toBe(times.length);
    const { rows } = parseCsv(out.text());
    expect(rows.map((r) => r[0])).toEqual(times);
    // Independently of our reader: the strings in the file itself.
    const fileTimes = [...Buffer.from(readFileSync(plain)).toString().matchAll(/"Timestamp":"([^"]*)"/g)].map((m) => m[1]);
    expect(rows.map((r) => r[0])).toEqual(fileTimes.slice(1));

    // Times Go did not write are printed as Go would after parsing them.
    const odd = ["2019-04-02T14:12:37.510Z", "2019-04-02T14:12:37+00:00", "2019-04-02t14:12:37.1234567891z"];
    const other = join(tmp.dir, "odd.jsonl");
    writeFileSync(other, odd.map(line).join("\n") + "\n");
    const out2 = sink();
    await runCsv([other], out2, { err: sink() });
    expect(parseCsv(out2.text()).rows.map((r) => r[0])).toEqual([
      "2019-04-02T14:12:37.51Z", "2019-04-02T14:12:37Z", "2019-04-02T14:12:37.123456789Z",
    ]);
  } finally {
    tmp.cleanup();
  }
});

test("Timestamp column over M-Lab's archiveRecords file equals its strings verbatim", async () => {
  const tmp = tmpFolder("csv-records");
  try {
    // Its lines have no Metadata line; they are records of many connections, read as one file.
    const path = join(tmp.dir, "records.jsonl.zst");
    writeFileSync(path, compress(readZst("archiveRecords.jsonl.zst")));
    const fileTimes = zstdTimestamps(path);
    const out = sink();
    const res = await runCsv([path], out, { err: sink() });
    const { rows } = parseCsv(out.text());
    expect(res.rows).toBe(fileTimes.length - res.malformed);
    expect(rows.length).toBeGreaterThan(100);
    const { entries } = await readArchiveAll(path);
    const kept = entries.filter((e) => e.kind === "snapshot").map((e) => e.line);
    expect(rows.map((r) => r[0])).toEqual(kept.map((l) => fileTimes[l - 1]));
  } finally {
    tmp.cleanup();
  }
});
