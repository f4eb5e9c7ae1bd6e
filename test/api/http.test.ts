import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseListen } from "../../src/api/http.ts";
import { recordError, recordPoll } from "../../src/api/status.ts";
import { formatApiTime, formatRfc3339 } from "../../src/api/time.ts";
import { ConnectionIndex } from "../../src/index-db/index.ts";
import { opened, report, tempDir } from "../index-db/helpers.ts";
import { BIG, CLI, seed, SSH, startFixture, T0, WEB, type Fixture } from "./helpers.ts";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx.close();
});

async function list(query: string): Promise<{ status: number; text: string; body: { connections: Record<string, unknown>[]; next: string | null } }> {
  const res = await fx.get(`/connections${query}`);
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

const uuids = (b: { connections: Record<string, unknown>[] }) => b.connections.map((c) => c.uuid);

describe("GET /connections", () => {
  test("lists newest first with the documented shape", async () => {
    const r = await list("");
    expect(r.status).toBe(200);
    expect(uuids(r.body)).toEqual([CLI.uuid, SSH.uuid, WEB.uuid]);
    expect(r.body.next).toBeNull();
    const web = r.body.connections[2];
    expect(web).toMatchObject({
      uuid: WEB.uuid,
      cookie: "000000000000F00D",
      family: 4,
      src: { ip: "192.0.2.1", port: 443 },
      dst: { ip: "198.51.100.7", port: 50000 },
      state: "open",
      firstSeen: "2024-05-01T12:00:00.000Z",
      lastSeen: "2024-05-01T12:00:05.000Z",
      closedAt: null,
      endReason: null,
      firstState: "ESTABLISHED",
      lastState: "ESTABLISHED",
      snapshots: 4,
    });
    const ssh = r.body.connections[1];
    expect(ssh).toMatchObject({ cookie: "8000000000000022", state: "closed", closedAt: "2024-05-01T12:00:03.120Z", endReason: "destroy", lastState: "CLOSE" });
  });

  test("byte counters are exact JSON integers, even past 2^63", async () => {
    const r = await list("?port=443");
    expect(r.text).toContain(`"bytesSent":${BIG}`);
    expect(r.text).toContain(`"bytesAcked":${BIG - 1n}`);
    expect(r.text).toContain(`"bytesReceived":7,`);
  });

  test("filters", async () => {
    expect(uuids((await list("?port=443")).body)).toEqual([WEB.uuid]);
    expect(uuids((await list("?port=80")).body)).toEqual([CLI.uuid]);
    expect(uuids((await list("?sport=443")).body)).toEqual([WEB.uuid]);
    expect(uuids((await list("?dport=443")).body)).toEqual([]);
    expect(uuids((await list("?ip=192.0.2.1")).body)).toEqual([CLI.uuid, WEB.uuid]);
    expect(uuids((await list("?src=192.0.2.1&dport=80")).body)).toEqual([CLI.uuid]);
    expect(uuids((await list("?dst=203.0.113.5")).body)).toEqual([CLI.uuid]);
    // Any spelling of an IPv6 address finds the canonical one.
    expect(uuids((await list("?ip=2001:DB8:0:0:0:0:0:99")).body)).toEqual([SSH.uuid]);
    expect(uuids((await list("?ip=%5B2001:db8::1%5D")).body)).toEqual([SSH.uuid]);
    expect(uuids((await list("?state=closed")).body)).toEqual([SSH.uuid]);
    expect(uuids((await list("?state=open")).body)).toEqual([CLI.uuid, WEB.uuid]);
  });

  test("since/until accept RFC 3339 (any offset) and unix ms alike", async () => {
    // SSH closed at T0+3120: a window starting after that excludes it.
    const after = T0 + 3121;
    expect(uuids((await list(`?since=${after}`)).body)).toEqual([CLI.uuid, WEB.uuid]);
    expect(uuids((await list("?since=2024-05-01T12:00:03.121Z")).body)).toEqual([CLI.uuid, WEB.uuid]);
    expect(uuids((await list("?since=2024-05-01T14:00:03.121000001%2B02:00")).body)).toEqual([CLI.uuid, WEB.uuid]);
    expect(uuids((await list("?since=2024-05-01T12:00:03.12Z")).body)).toEqual([CLI.uuid, SSH.uuid, WEB.uuid]);
    expect(uuids((await list(`?until=${T0 + 999}`)).body)).toEqual([WEB.uuid]);
    expect(uuids((await list("?since=2024-05-01T12:00:01Z&until=2024-05-01T12:00:01Z")).body)).toEqual([SSH.uuid, WEB.uuid]);
  });

  test("pagination follows next to the end", async () => {
    const p1 = await list("?limit=2");
    expect(uuids(p1.body)).toEqual([CLI.uuid, SSH.uuid]);
    expect(typeof p1.body.next).toBe("string");
    const p2 = await list(`?limit=2&cursor=${encodeURIComponent(p1.body.next!)}`);
    expect(uuids(p2.body)).toEqual([WEB.uuid]);
    expect(p2.body.next).toBeNull();
  });

  const bad: [string, string][] = [
    ["port=abc", "port"],
    ["port=70000", "port"],
    ["port=-1", "port"],
    ["port=1e3", "port"],
    ["sport=", "sport"],
    ["dport=80.0", "dport"],
    ["ip=999.1.1.1", "ip"],
    ["src=not-an-ip", "src"],
    ["dst=2001:db8:::1", "dst"],
    ["state=half", "state"],
    ["state=OPEN", "state"],
    ["since=yesterday", "since"],
    ["since=2024-02-30T00:00:00Z", "since"],
    ["until=2024-05-01T25:00:00Z", "until"],
    ["since=2000&until=1000", "until"],
    ["limit=0", "limit"],
    ["limit=5000", "limit"],
    ["limit=ten", "limit"],
    ["cursor=garbage!", "cursor"],
    ["cursor=Zm9v", "cursor"],
    ["prot=443", "prot"],
    ["port=1&port=2", "port"],
  ];
  for (const [q, parameter] of bad) {
    test(`400 for ${q}`, async () => {
      const res = await fx.get(`/connections?${q}`);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = (await res.json()) as { error: string; parameter: string };
      expect(body.parameter).toBe(parameter);
      expect(body.error.length).toBeGreaterThan(0);
    });
  }
});

describe("IPv4 addresses and their IPv4-mapped IPv6 form", () => {
  // An IPv6 socket talking to an IPv4 peer: the index stores ::ffff:a.b.c.d.
  const MAPPED = opened(0x6n, { family: 6, src: { ip: "::ffff:192.0.2.1", port: 8080 }, dst: { ip: "::ffff:203.0.113.5", port: 5555 }, firstSeen: T0 + 1500 });

  test("ip, src and dst match both spellings, whichever is asked for, across pages", async () => {
    const tmp = tempDir();
    const idx = ConnectionIndex.open(join(tmp.dir, "i.sqlite"));
    seed(idx);
    idx.applyCycle(report({ opened: [MAPPED] }));
    const f = await startFixture({ index: idx });
    const ask = async (q: string) => {
      const res = await f.get(`/connections?${q}`);
      expect(res.status).toBe(200);
      return uuids((await res.json()) as { connections: Record<string, unknown>[] });
    };
    try {
      const both = [CLI.uuid, MAPPED.uuid, WEB.uuid];
      expect(await ask("ip=192.0.2.1")).toEqual(both);
      expect(await ask("ip=::ffff:192.0.2.1")).toEqual(both);
      expect(await ask("ip=::ffff:c000:201")).toEqual(both);
      expect(await ask("src=192.0.2.1&sport=8080")).toEqual([MAPPED.uuid]);
      expect(await ask("dst=::ffff:203.0.113.5")).toEqual([CLI.uuid, MAPPED.uuid]);
      expect(await ask("dst=203.0.113.5&port=5555")).toEqual([MAPPED.uuid]);
      expect(await ask("ip=203.0.113.5&port=80")).toEqual([CLI.uuid]);
      // One row per page: the keyset cursor walks the merged forms without loss or repeats.
      const seen: unknown[] = [];
      let q = "ip=::ffff:192.0.2.1&limit=1";
      for (let guard = 0; guard < 10; guard++) {
        const body = (await (await f.get(`/connections?${q}`)).json()) as { connections: Record<string, unknown>[]; next: string | null };
        seen.push(...uuids(body));
        if (!body.next) break;
        q = `ip=::ffff:192.0.2.1&limit=1&cursor=${encodeURIComponent(body.next)}`;
      }
      expect(seen).toEqual(both);
      // An IPv6 address that is not IPv4-mapped still matches only itself.
      expect(await ask("ip=2001:db8::1")).toEqual([SSH.uuid]);
    } finally {
      await f.close();
      tmp.cleanup();
    }
  });
});

describe("API times", () => {
  test("are RFC 3339 UTC with exactly 3 fraction digits, so text order is time order", async () => {
    const times: string[] = [];
    for (const c of (await list("")).body.connections) times.push(...([c.firstSeen, c.lastSeen, c.closedAt].filter((t) => t !== null) as string[]));
    const detail = (await (await fx.get(`/connections/${WEB.uuid}`)).json()) as { files: { openedAt: string; closedAt: string | null }[] };
    for (const file of detail.files) times.push(...([file.openedAt, file.closedAt].filter((t) => t !== null) as string[]));
    // SSH's lastSeen (…:03) and closedAt (…:03.120): trimmed, "…:03.12Z" sorted before "…:03Z".
    expect(times).toContain("2024-05-01T12:00:03.000Z");
    expect(times).toContain("2024-05-01T12:00:03.120Z");
    for (const t of times) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const byText = [...times].sort();
    const byTime = [...times].sort((a, b) => Date.parse(a) - Date.parse(b));
    expect(byText).toEqual(byTime);
  });

  test("formatApiTime pads every millisecond; formatRfc3339 keeps the archives' trimmed style", () => {
    expect(formatApiTime(Date.UTC(2026, 10, 30, 23, 31, 32))).toBe("2026-11-30T23:31:32.000Z");
    expect(formatApiTime(T0 + 3120)).toBe("2024-05-01T12:00:03.120Z");
    expect(formatApiTime(T0 + 7)).toBe("2024-05-01T12:00:00.007Z");
    expect(formatRfc3339(T0 + 3120)).toBe("2024-05-01T12:00:03.12Z");
    expect(formatRfc3339(T0)).toBe("2024-05-01T12:00:00Z");
  });
});

describe("GET /connections/:uuid", () => {
  test("returns the connection with its files in seq order", async () => {
    const res = await fx.get(`/connections/${WEB.uuid}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.uuid).toBe(WEB.uuid);
    expect(text).toContain(`"bytesSent":${BIG}`);
    expect(body.files).toEqual([
      { path: "2024/05/01/web.00000.jsonl.zst", seq: 0, openedAt: "2024-05-01T12:00:00.000Z", closedAt: "2024-05-01T12:10:00.000Z", records: 3 },
      { path: "2024/05/01/web.00001.jsonl.zst", seq: 1, openedAt: "2024-05-01T12:10:00.000Z", closedAt: null, records: 1 },
    ]);
  });

  test("404 for an unknown uuid", async () => {
    const res = await fx.get("/connections/host_1_unsafe_00000000DEADBEEF");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no such connection" });
  });

  test("400 for broken percent-encoding in the uuid", async () => {
    const res = await fx.get("/connections/%E0%A4%A");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { parameter: string }).parameter).toBe("uuid");
  });
});

describe("GET /connections/:uuid/snapshots", () => {
  test("streams NDJSON from readSnapshots over the connection's files (absolute, from the index)", async () => {
    const res = await fx.get(`/connections/${WEB.uuid}/snapshots`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const text = await res.text();
    const lines = text.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.length).toBe(2);
    expect(JSON.parse(lines[0])).toMatchObject({ uuid: WEB.uuid, state: "ESTABLISHED" });
    // bigint fields of a snapshot stay exact.
    expect(lines[1]).toContain(`"cgroupId":${BIG}`);
    expect(res.headers.get("x-missing-files")).toBe("0");
    // One file at a time, in seq order.
    expect(fx.snapshotCalls.slice(-2)).toEqual([[join(fx.outputDir, "2024/05/01/web.00000.jsonl.zst")], [join(fx.outputDir, "2024/05/01/web.00001.jsonl.zst")]]);
  });

  test("a connection without files streams nothing", async () => {
    const calls = fx.snapshotCalls.length;
    const res = await fx.get(`/connections/${CLI.uuid}/snapshots`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    expect(fx.snapshotCalls.length).toBe(calls);
  });

  test("400 naming an unknown query parameter, as /connections does", async () => {
    for (const [q, parameter] of [["since=1", "since"], ["fomat=csv", "fomat"], ["x=1&y=2", "x"], ["=", ""]]) {
      const calls = fx.snapshotCalls.length;
      const res = await fx.get(`/connections/${WEB.uuid}/snapshots?${q}`);
      expect(`${q} ${res.status}`).toBe(`${q} 400`);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = (await res.json()) as { error: string; parameter: string };
      expect(body.parameter).toBe(parameter);
      expect(body.error).toContain("unknown parameter");
      expect(fx.snapshotCalls.length).toBe(calls);
    }
    const one = await fx.get(`/connections/${WEB.uuid}?port=443`);
    expect(one.status).toBe(400);
    expect(await one.json()).toMatchObject({ parameter: "port" });
    // An empty query string is no parameter at all.
    expect((await fx.get(`/connections/${WEB.uuid}/snapshots?`)).status).toBe(200);
  });

  test("404 for an unknown uuid, without calling readSnapshots", async () => {
    const calls = fx.snapshotCalls.length;
    const res = await fx.get("/connections/nope/snapshots");
    expect(res.status).toBe(404);
    expect(fx.snapshotCalls.length).toBe(calls);
  });
});

describe("routing", () => {
  test("404 for unknown routes", async () => {
    // "/" and /connection/:uuid are the web pages (test/web); these are neither.
    for (const p of ["/index.htm", "/connection", "/connection/a/b", "/assets/nope.js", "/connections/", "/connections/a/b", "/connections/a/snapshots/x", "/metrics/x"]) {
      const res = await fx.get(p);
      expect(`${p} ${res.status}`).toBe(`${p} 404`);
    }
  });

  test("405 for other methods on known routes", async () => {
    for (const [method, p] of [["POST", "/connections"], ["DELETE", `/connections/${WEB.uuid}`], ["PUT", "/healthz"], ["POST", "/metrics"]]) {
      const res = await fx.get(p, { method });
      expect(`${method} ${p} ${res.status}`).toBe(`${method} ${p} 405`);
      expect(res.headers.get("allow")).toBe("GET");
    }
  });

  test("no odd input yields a 500", async () => {
    const odd = [
      "/connections?port=%ZZ",
      "/connections?ip=%00",
      `/connections?ip=${"1".repeat(5000)}`,
      `/connections?cursor=${"A".repeat(10000)}`,
      "/connections?since=99999999999999999999",
      "/connections?since=275760-09-13T00:00:00Z",
      "/connections?until=9999-12-31T23:59:60Z",
      "/connections?port=%F0%9F%92%A9",
      `/connections/${"%F0%9F%92%A9".repeat(100)}`,
      "/connections/..%2F..%2Fetc%2Fpasswd/snapshots",
      "/connections?limit=1&limit=2",
      "/connections?=",
      "/connections?&&&",
    ];
    for (const p of odd) {
      const res = await fx.get(p);
      expect(`${p.slice(0, 60)} ${res.status < 500}`).toBe(`${p.slice(0, 60)} true`);
    }
    expect(fx.logged).toEqual([]);
  });
});

describe("/healthz and /metrics", () => {
  test("healthz reports the collector status", async () => {
    let res = await fx.get("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "starting", lastPoll: null, cycles: 0, errors: 0, lastError: null });
    recordPoll(fx.status, T0);
    recordPoll(fx.status, Date.now());
    recordError(fx.status, new Error("netlink: EBUSY"), T0 + 1);
    res = await fx.get("/healthz");
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status: "ok", cycles: 2, errors: 1, lastError: { at: "2024-05-01T12:00:00.001Z", message: "netlink: EBUSY" } });
    expect(body.lastPoll).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(body.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test("healthz is 503 when polling stalled", async () => {
    const stale = await startFixture({ staleAfterMs: 1000 });
    try {
      recordPoll(stale.status, Date.now() - 5000);
      const res = await stale.get("/healthz");
      expect(res.status).toBe(503);
      expect(((await res.json()) as { status: string }).status).toBe("stale");
    } finally {
      await stale.close();
    }
  });

  test("metrics carry M-Lab's names, process metrics and request counts by route and status", async () => {
    fx.metrics.snapshots.inc(3);
    fx.metrics.errors.inc({ type: "netlink" });
    fx.metrics.flowEvents.inc({ type: "open" });
    fx.metrics.pollingInterval.observe(0.005);
    fx.metrics.connectionCount.observe(12, "ipv4");
    await fx.get("/connections?port=443");
    await fx.get("/connections?port=abc");
    await fx.get("/nowhere");
    const res = await fx.get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    for (const line of [
      "tcpinfo_snapshot_total 3",
      'tcpinfo_error_total{type="netlink"} 1',
      'tcpinfo_flow_events_total{type="open"} 1',
      "# TYPE tcpinfo_polling_interval_histogram histogram",
      'tcpinfo_polling_interval_histogram_bucket{le="0.005"} 1',
      'tcpinfo_connection_count_histogram_bucket{le="12.5",af="ipv4"} 1',
      "# HELP tcpinfo_new_file_total Number of files created.",
      "# TYPE tcpinfo_syscall_time_histogram histogram",
      "# TYPE tcpinfo_cache_count_histogram histogram",
      "# TYPE tcpinfo_index_write_seconds histogram",
      "# TYPE tcpinfo_index_rows gauge",
      "# TYPE tcpinfo_eventsocket_clients gauge",
      "# TYPE tcpinfo_eventsocket_dropped_clients_total counter",
      'tcpinfo_api_requests_total{route="/connections",status="400"}',
      'tcpinfo_api_requests_total{route="unmatched",status="404"}',
      "process_cpu_seconds_total",
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toMatch(/tcpinfo_api_requests_total\{route="\/connections",status="200"\} [1-9]/);
  });
});

describe("internal errors", () => {
  test("a failing index gives 500 and is logged; its message does not leak", async () => {
    const tmp = tempDir();
    const broken = ConnectionIndex.open(join(tmp.dir, "i.sqlite"));
    const f = await startFixture({ index: broken });
    try {
      broken.db.exec("DROP TABLE connections");
      const res = await f.get("/connections?port=1");
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "internal error" });
      expect(f.logged.length).toBe(1);
      expect(await (await f.get("/metrics")).text()).toContain('tcpinfo_api_requests_total{route="/connections",status="500"} 1');
    } finally {
      await f.close();
      tmp.cleanup();
    }
  });
});

describe("parseListen", () => {
  test("HOST:PORT and [v6]:PORT", () => {
    expect(parseListen("127.0.0.1:9990")).toEqual({ hostname: "127.0.0.1", port: 9990 });
    expect(parseListen("localhost:0")).toEqual({ hostname: "localhost", port: 0 });
    expect(parseListen("[::1]:80")).toEqual({ hostname: "::1", port: 80 });
    for (const bad of ["9990", "::1:80", "host:70000", "host:", ":80", "a b:1"]) expect(() => parseListen(bad)).toThrow();
  });
});
