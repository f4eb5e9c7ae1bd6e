// Who may connect to the eventsocket: its file is 0600 unless --eventsocket-mode says
// otherwise, and has that mode from the moment it appears at its path (bound in a private
// folder first), with nothing left beside it.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { EventSocketServer } from "../../src/api/eventsocket.ts";
import { listenPrivately } from "../../src/api/unix-socket.ts";
import { parseSocketMode } from "../../src/cli/collector-options.ts";
import { UsageError } from "../../src/cli/validate.ts";
import { eventClient } from "../helpers/collector-proc.ts";
import { startCollector } from "../helpers/collector-run.ts";
import { runCliSync, type CliRun } from "../helpers/run-cli.ts";

let dir = "";
const running: CliRun[] = [];
const servers: EventSocketServer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tcpinfo-esmode-"));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  for (const r of running.splice(0)) {
    r.proc.kill("SIGKILL");
    await r.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Connects a client and resolves once the server has accepted it. */
async function connects(path: string): Promise<void> {
  const c = eventClient(path);
  try {
    await c.connected;
  } finally {
    c.sock.destroy();
  }
}

describe("EventSocketServer", () => {
  test("the socket file is 0600 by default, serves clients, and leaves nothing beside it", async () => {
    const path = join(dir, "events.sock");
    servers.push(await EventSocketServer.start(path));
    expect(statSync(path).isSocket()).toBe(true);
    expect(modeOf(path)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["events.sock"]);
    await connects(path);
  });

  test("the mode asked for, whatever the umask", async () => {
    const path = join(dir, "events.sock");
    const old = process.umask(0o077);
    try {
      servers.push(await EventSocketServer.start(path, { mode: 0o660 }));
    } finally {
      process.umask(old);
    }
    expect(modeOf(path)).toBe(0o660);
    await connects(path);
  });

  test("while bound, the socket is reachable only through a 0700 folder and not yet at its path", () => {
    const path = join(dir, "events.sock");
    let seen: { folderMode: number; atPath: boolean; folder: string } | null = null;
    const listener = listenPrivately(path, 0o640, (at) => {
      const l = Bun.listen({ unix: at, socket: { data() {} } });
      seen = { folderMode: modeOf(dirname(at)), atPath: existsSync(path), folder: basename(dirname(at)) };
      return l;
    }, (l) => l.stop(true));
    try {
      expect(seen).not.toBeNull();
      expect(seen!.folderMode).toBe(0o700);
      expect(seen!.atPath).toBe(false);
      expect(modeOf(path)).toBe(0o640);
      expect(readdirSync(dir)).toEqual(["events.sock"]); // the private folder is gone
    } finally {
      listener.stop(true);
    }
  });

  test("a file that appears at the path meanwhile is not replaced, and nothing is left behind", () => {
    const path = join(dir, "events.sock");
    let stopped = 0;
    expect(() =>
      listenPrivately(path, 0o600, (at) => {
        const l = Bun.listen({ unix: at, socket: { data() {} } });
        writeFileSync(path, "someone else's"); // before the link
        return l;
      }, (l) => {
        stopped++;
        l.stop(true);
      }),
    ).toThrow(/appeared while the eventsocket was starting/);
    expect(stopped).toBe(1);
    expect(readdirSync(dir)).toEqual(["events.sock"]);
    expect(statSync(path).isFile()).toBe(true);
  });
});

describe("--eventsocket-mode", () => {
  test.each([
    ["0600", "600"], ["0660", "660"], ["660", "660"], ["0o640", "640"], ["0", "0"], ["0777", "777"], [" 0644 ", "644"],
  ])("'%s' is octal %s", (text, octal) => {
    expect(parseSocketMode("--eventsocket-mode", text).toString(8)).toBe(octal);
  });

  test.each(["", "0778", "8", "01000", "1777", "rw-rw----", "0x1b0", "-600", "6 0 0", "0660x"])("'%s' is refused", (text) => {
    expect(() => parseSocketMode("--eventsocket-mode", text)).toThrow(UsageError);
  });

  const socketOf = async (args: string[], env: Record<string, string> = {}) => {
    const path = join(dir, "events.sock");
    const c = await startCollector(["--output", join(dir, "out"), "--eventsocket", path, ...args], env);
    running.push(c.run);
    await connects(path);
    return path;
  };

  test("a running collector's socket is 0600 by default", async () => {
    const path = await socketOf([]);
    expect(modeOf(path)).toBe(0o600);
  });

  test("--eventsocket-mode 0660 makes it 0660", async () => {
    const path = await socketOf(["--eventsocket-mode", "0660"]);
    expect(modeOf(path)).toBe(0o660);
  });

  test("TCPINFO_EVENTSOCKET_MODE=0640 makes it 0640", async () => {
    const path = await socketOf([], { TCPINFO_EVENTSOCKET_MODE: "0640" });
    expect(modeOf(path)).toBe(0o640);
  });

  test.each([
    ["--eventsocket-mode 0778", ["--eventsocket-mode", "0778"], {}, /--eventsocket-mode must be octal permissions from 0 to 0777.*'0778'/],
    ["--eventsocket-mode u+rw", ["--eventsocket-mode", "u+rw"], {}, /--eventsocket-mode must be octal/],
    ["TCPINFO_EVENTSOCKET_MODE=1777", [], { TCPINFO_EVENTSOCKET_MODE: "1777" }, /TCPINFO_EVENTSOCKET_MODE must be octal/],
  ] as [string, string[], Record<string, string>, RegExp][])("%s: exit 2 before anything is created", (_what, args, env, message) => {
    const out = join(dir, "out");
    const r = runCliSync(["collector", "--output", out, "--eventsocket", join(dir, "events.sock"), "--listen", "127.0.0.1:0", "--reps", "1", ...args], env);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, "events.sock"))).toBe(false);
  });
});
