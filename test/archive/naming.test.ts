// UUIDs and archive paths as M-Lab names them.
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostname } from "node:os";
import {
  archiveFileName, archivePath, datePath, defaultUuidPrefix, makeUuid, parseArchivePath, parseBootTime, readUuidPrefix,
} from "../../src/archive/naming.ts";
import { tmpFolder } from "./helpers.ts";

const tmp = tmpFolder("naming");
afterAll(tmp.cleanup);

test("UUID is <prefix>_<cookie as 16 upper-case hex digits>, as in the testdata file name", () => {
  expect(makeUuid("ndt-jdczh_1553815964", 1000n)).toBe("ndt-jdczh_1553815964_00000000000003E8");
  expect(makeUuid("p", 0xffffffffffffffffn)).toBe("p_FFFFFFFFFFFFFFFF");
  expect(defaultUuidPrefix("host", 1553815964)).toBe("host_1553815964_unsafe");
});

test("path is YYYY/MM/DD/<UUID>.<seq 5 digits>.jsonl.zst by UTC date", () => {
  const t = Date.parse("2019-04-01T23:59:59.999Z");
  expect(datePath(t)).toBe("2019/04/01");
  expect(datePath(t + 1)).toBe("2019/04/02");
  expect(archivePath("ndt-jdczh_1553815964_00000000000003E8", 183, Date.parse("2019-04-02T14:12:37Z"))).toBe(
    "2019/04/02/ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst",
  );
  expect(archiveFileName("u", 0)).toBe("u.00000.jsonl.zst");
  expect(archiveFileName("u", 123456)).toBe("u.123456.jsonl.zst"); // Go's %05d grows
});

test("paths parse back", () => {
  expect(parseArchivePath("/data/2019/04/02/ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst")).toEqual({
    date: "2019/04/02", uuid: "ndt-jdczh_1553815964_00000000000003E8", seq: 183,
  });
  expect(parseArchivePath("2019/04/02/x.0001.jsonl.zst")).toBeNull();
  expect(parseArchivePath("x.00001.jsonl.zst")).toBeNull();
});

test("boot time comes from /proc/stat's btime", () => {
  expect(parseBootTime("cpu  1 2 3\nintr 5\nbtime 1553815964\nprocesses 9\n")).toBe(1553815964);
  expect(parseBootTime("cpu 1\n")).toBeNull();
  const real = parseBootTime(readFileSync("/proc/stat", "utf8"));
  expect(real).toBeGreaterThan(1_000_000_000);
  expect(readUuidPrefix()).toBe(`${hostname()}_${real}_unsafe`);
});

test("a prefix file wins, trimmed; an empty one is refused", () => {
  const f = join(tmp.dir, "prefix");
  writeFileSync(f, "  ndt-jdczh_1553815964\n\n");
  expect(readUuidPrefix({ prefixFile: f })).toBe("ndt-jdczh_1553815964");
  writeFileSync(f, " \n");
  expect(() => readUuidPrefix({ prefixFile: f })).toThrow(/empty/);
  expect(() => readUuidPrefix({ prefixFile: join(tmp.dir, "missing") })).toThrow();
  const stat = join(tmp.dir, "stat");
  writeFileSync(stat, "cpu 0\nbtime 42\n");
  expect(readUuidPrefix({ procStatPath: stat, hostname: "h" })).toBe("h_42_unsafe");
});
