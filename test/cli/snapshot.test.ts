// `snapshot` as a user runs it, on real loopback sockets: repeated --port, --state, and
// TIME_WAIT hidden unless asked for (as ss does).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { loopbackPair, type LoopbackPair } from "../helpers/loopback.ts";
import { runCliSync } from "../helpers/run-cli.ts";

interface Row {
  state: string;
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
}

function snapshot(args: string[]): Row[] {
  const r = runCliSync(["snapshot", "--include-local", ...args]);
  if (r.code !== 0) throw new Error(`snapshot ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Row);
}

const touches = (rows: Row[], port: number): Row[] => rows.filter((s) => s.src.port === port || s.dst.port === port);

describe("--port and --state", () => {
  let a: LoopbackPair;
  let b: LoopbackPair;
  beforeAll(async () => {
    a = await loopbackPair("127.0.0.1");
    b = await loopbackPair("::1");
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  test("two --port flags find the sockets of both ports, and only those", () => {
    const rows = snapshot(["--port", String(a.port), `--port=${b.port}`]);
    for (const pair of [a, b]) {
      // Listener, client and accepted socket of each pair.
      expect(touches(rows, pair.port).map((s) => s.state).sort()).toEqual(["ESTABLISHED", "ESTABLISHED", "LISTEN"]);
    }
    expect(rows.every((s) => [a.port, b.port].some((p) => s.src.port === p || s.dst.port === p))).toBe(true);
  });

  test("--state listen shows only listeners, ours among them", () => {
    const rows = snapshot(["--state", "listen"]);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rows.map((s) => s.state))).toEqual(new Set(["LISTEN"]));
    expect(rows.some((s) => s.src.port === a.port)).toBe(true);
    expect(rows.some((s) => s.src.port === b.port)).toBe(true);
  });

  test("states combine, comma-separated or repeated, in ss's spelling", () => {
    for (const args of [["--state", "listen,established"], ["--state", "listen", "--state", "established"]]) {
      const rows = touches(snapshot([...args, "--port", String(a.port)]), a.port);
      expect(rows.map((s) => s.state).sort()).toEqual(["ESTABLISHED", "ESTABLISHED", "LISTEN"]);
    }
    expect(touches(snapshot(["--state", "established", "--port", String(a.port)]), a.port).map((s) => s.state)).toEqual(["ESTABLISHED", "ESTABLISHED"]);
  });
});

describe("TIME_WAIT", () => {
  let server: Server;
  let port: number;
  let clientPort: number;

  beforeAll(async () => {
    // The client closes first, so its socket ends in TIME_WAIT once the server's FIN is in.
    server = createServer((s: Socket) => {
      s.on("error", () => {});
      s.on("end", () => s.end());
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as { port: number }).port;
    const client = connect(port, "127.0.0.1");
    client.on("error", () => {});
    await once(client, "connect");
    clientPort = client.localPort!;
    client.end();
    await once(client, "close");
  });
  afterAll(async () => {
    server?.close();
    if (server) await once(server, "close").catch(() => {});
  });

  const timeWait = (rows: Row[]): Row[] => rows.filter((s) => s.state === "TIME_WAIT" && s.src.port === clientPort && s.dst.port === port);

  test("it is there: --all and --state time-wait show the client's socket", () => {
    expect(timeWait(snapshot(["--all", "--port", String(port)])).length).toBe(1);
    const only = snapshot(["--state", "time-wait", "--port", String(port)]);
    expect(timeWait(only).length).toBe(1);
    expect(only.every((s) => s.state === "TIME_WAIT")).toBe(true);
  });

  test("hidden by default, as ss hides it", () => {
    const rows = snapshot(["--port", String(port)]);
    expect(rows.some((s) => s.state === "TIME_WAIT")).toBe(false);
    // The listener is still shown: only TIME_WAIT is left out.
    expect(rows.some((s) => s.state === "LISTEN" && s.src.port === port)).toBe(true);
  });
});
