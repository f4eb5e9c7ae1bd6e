// The command line as a user meets it: the real program as a child process, its exit
// statuses, --version, the bin entry and the help text's width and colour.
import { describe, expect, test } from "bun:test";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUN, ROOT, runCliSync } from "../helpers/run-cli.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; bin: Record<string, string> };
const COMMANDS = ["collector", "snapshot", "csv", "query", "sidecar"];
/** Longest line, in characters as a terminal shows them (code points). */
const widest = (text: string): number => Math.max(...text.split("\n").map((l) => [...l].length));

describe("exit statuses", () => {
  test("no command: the help on stderr, exit 1", () => {
    const r = runCliSync([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Usage: tcp-info-bun <command>");
    for (const c of COMMANDS) expect(r.stderr).toContain(`  ${c} `);
    expect(r.stdout).toBe("");
  });

  test("usage errors exit 2 with a message naming the problem", () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["--frobnicate"], /unknown option '--frobnicate'/],
      [["sidecar"], /--eventsocket PATH is required/],
      [["snapshot", "extra"], /unexpected argument 'extra'/],
      [["snapshot", "--include-local", "yes"], /unexpected argument 'yes'/],
      [["query", "--db", "/nonexistent/index.sqlite", "stray"], /unexpected argument 'stray'/],
      [["sidecar", "--eventsocket", "/nonexistent.sock", "stray"], /unexpected argument 'stray'/],
      [["collector", "--listen", "off", "stray"], /unexpected argument 'stray'/],
      [["snapshot", "--port", "65536"], /--port must be from 0 to 65535/],
      [["snapshot", "--family", "5"], /--family must be one of 4, 6/],
      [["snapshot", "--state", "half-open"], /unknown state 'half-open'.*established/],
      [["snapshot", "--state", "listen", "--all"], /--all and --state/],
      [["snapshot", "--bogus"], /unknown option '--bogus'/],
      [["csv", "--bogus"], /unknown option '--bogus'/],
      [["--version", "extra"], /--version takes no arguments/],
    ];
    for (const [args, message] of cases) {
      const r = runCliSync(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain("--help' for usage.");
      expect(r.stdout).toBe("");
    }
  });

  test("a bad query parameter is a usage error even when the index is missing; a missing index alone exits 1", () => {
    const bad = runCliSync(["query", "--port", "x", "--db", "/nonexistent/index.sqlite"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^--port: /);
    const missing = runCliSync(["query", "--db", "/nonexistent/index.sqlite"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("cannot open index /nonexistent/index.sqlite: no such file");
  });
});

describe("--version and the bin entry", () => {
  test("--version prints package.json's version and nothing else", () => {
    for (const flag of ["--version", "-V"]) {
      const r = runCliSync([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
      expect(r.stderr).toBe("");
    }
  });

  test("package.json names one program, an executable with a bun shebang, and the help uses its name", () => {
    const names = Object.keys(pkg.bin);
    expect(names).toEqual(["tcp-info-bun"]);
    const target = join(ROOT, pkg.bin[names[0]]);
    expect(readFileSync(target, "utf8").split("\n")[0]).toBe("#!/usr/bin/env bun");
    accessSync(target, constants.X_OK);
    // Run as a shell would run the installed program: through its shebang, bun on PATH.
    const r = Bun.spawnSync([target, "--version"], { env: { ...process.env, PATH: `${dirname(BUN)}:${process.env.PATH ?? ""}` } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe(`${pkg.version}\n`);
    const help = runCliSync(["--help"]).stdout;
    expect(help.startsWith(`${names[0]} ${pkg.version}: `)).toBe(true);
    expect(help).not.toMatch(/\btcp-info (?!compatible)/);
  });
});

describe("help", () => {
  const helps = (): [string, string][] => [
    ["--help", runCliSync(["--help"]).stdout],
    ["(none)", runCliSync([]).stderr],
    ...COMMANDS.map((c): [string, string] => [`${c} --help`, runCliSync([c, "--help"]).stdout]),
  ];

  test("fits 100 columns and has no escape codes when piped", () => {
    for (const [what, text] of helps()) {
      expect({ what, long: text.length > 200 }).toEqual({ what, long: true });
      expect({ what, widest: widest(text) <= 100 }).toEqual({ what, widest: true });
      expect({ what, escape: text.includes("\x1b") }).toEqual({ what, escape: false });
    }
  });

  test("each command's help lists its flags and exits 0", () => {
    const r = runCliSync(["snapshot", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--port P", "--state STATE[,STATE]", "--all", "--include-local", "--family 4|6"]) expect(r.stdout).toContain(flag);
    expect(runCliSync(["csv", "--help"]).stdout).toContain("--unique-columns");
    expect(runCliSync(["collector", "--help"]).stdout).toContain("--exclude-dstip IP[/BITS]");
  });

  // `script` gives the child a terminal, so colour can be seen to switch on, and off again.
  test.skipIf(Bun.which("script") === null)("colour only on a terminal, and never with NO_COLOR", () => {
    const onTty = (env: Record<string, string>): string => {
      const cmd = `'${BUN}' '${join(ROOT, "src", "index.ts")}' snapshot --help`;
      const base: Record<string, string | undefined> = { ...process.env, TERM: "xterm" };
      delete base.NO_COLOR;
      const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: { ...base, ...env } });
      expect(r.exitCode).toBe(0);
      return r.stdout.toString();
    };
    const coloured = onTty({});
    expect(coloured).toContain("\x1b[");
    expect(coloured).toContain("--state");
    expect(onTty({ NO_COLOR: "1" })).not.toContain("\x1b");
    expect(onTty({ TERM: "dumb" })).not.toContain("\x1b");
  });
});

test("the command table loads no Arrow IPC, Parquet or unused prom-client code: only the export command loads them", () => {
  // Every process that loads them (the collector too, were it eager) holds ~25 MiB more;
  // prom-client's index would add its Pushgateway, default metrics and cluster (~10 MiB).
  const modulesAfter = (argv: string[]): string[] => {
    const script = `process.argv = [process.argv[0], "x", ...${JSON.stringify(argv)}]; process.on("exit", () => console.log(JSON.stringify(Object.keys(require.cache)))); await import(${JSON.stringify(join(ROOT, "src", "index.ts"))});`;
    const r = Bun.spawnSync([BUN, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const last = r.stdout.toString().trim().split("\n").at(-1) ?? "[]";
    return JSON.parse(last) as string[];
  };
  const heavy = (mods: string[]) => mods.filter((m) => /node_modules\/(apache-arrow|flatbuffers|parquet-wasm)\//.test(m));
  const help = modulesAfter(["--version"]);
  expect(help.some((m) => m.endsWith(join("src", "index.ts")))).toBe(true);
  expect(heavy(help)).toEqual([]);
  const prom = help.filter((m) => m.includes("node_modules/prom-client/")).map((m) => m.split("node_modules/prom-client/")[1]);
  expect(prom).toContain("lib/counter.js");
  expect(prom.filter((m) => /pushgateway|defaultMetrics|cluster|^index\.js$/.test(m))).toEqual([]);
  // The check itself sees them once the export code is loaded (an empty index: nothing to export).
  const dir = mkdtempSync(join(tmpdir(), "cli-lazy-"));
  try {
    ConnectionIndex.open(join(dir, "index.sqlite")).close();
    expect(heavy(modulesAfter(["export", "--out", join(dir, "out"), "--output", dir])).length).toBeGreaterThan(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
