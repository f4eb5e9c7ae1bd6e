#!/usr/bin/env bun
// Container and Kubernetes health check: exits 0 when the collector's /healthz answers
// 200 (it has polled within the last 60 s), 1 otherwise. It asks the API where the
// collector listens (TCPINFO_LISTEN, default 127.0.0.1:9990, read as the collector
// reads it), over loopback when that is a wildcard address. /healthz needs no API token.
import { DEFAULT_LISTEN, parseListen, type ListenAddress } from "./api/listen.ts";

const listen = process.env.TCPINFO_LISTEN ?? DEFAULT_LISTEN;
if (listen === "off") {
  process.stderr.write("healthcheck: the API is off (TCPINFO_LISTEN=off): nothing to ask\n");
  process.exit(1);
}
let address: ListenAddress;
try {
  address = parseListen(listen);
} catch (e) {
  process.stderr.write(`healthcheck: TCPINFO_LISTEN: ${(e as Error).message}\n`);
  process.exit(1);
}
const h = address.hostname;
const host = h === "0.0.0.0" ? "127.0.0.1" : h === "::" ? "[::1]" : h.includes(":") ? `[${h}]` : h;
try {
  const r = await fetch(`http://${host}:${address.port}/healthz`, { signal: AbortSignal.timeout(5_000) });
  if (r.status !== 200) process.stderr.write(`healthcheck: /healthz answered ${r.status}: ${await r.text()}\n`);
  process.exit(r.status === 200 ? 0 : 1);
} catch (e) {
  process.stderr.write(`healthcheck: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
