#!/usr/bin/env bun
// Container and Kubernetes health check: exits 0 when the collector's /healthz answers
// 200 (it has polled within the last 60 s), 1 otherwise. It asks the API where the
// collector listens (TCPINFO_LISTEN, default 127.0.0.1:9990), over loopback when that is a
// wildcard address. /healthz needs no API token.
export {};

const listen = process.env.TCPINFO_LISTEN ?? "127.0.0.1:9990";
if (listen === "off") {
  process.stderr.write("healthcheck: the API is off (TCPINFO_LISTEN=off): nothing to ask\n");
  process.exit(1);
}
const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
if (m === null) {
  process.stderr.write(`healthcheck: TCPINFO_LISTEN=${listen} is not HOST:PORT\n`);
  process.exit(1);
}
const host = m[1] === "0.0.0.0" || m[1] === "" ? "127.0.0.1" : m[1] === "::" ? "[::1]" : m[1].includes(":") ? `[${m[1]}]` : m[1];
try {
  const r = await fetch(`http://${host}:${m[2]}/healthz`, { signal: AbortSignal.timeout(5_000) });
  if (r.status !== 200) process.stderr.write(`healthcheck: /healthz answered ${r.status}: ${await r.text()}\n`);
  process.exit(r.status === 200 ? 0 : 1);
} catch (e) {
  process.stderr.write(`healthcheck: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
