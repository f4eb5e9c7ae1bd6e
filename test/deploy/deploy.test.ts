// The shipped configurations, checked by the tools that would run them: systemd's own
// verifier and security scorer on the unit, the DaemonSet's YAML structure, the
// Dockerfile's health check run against a real collector, and every relative link of the
// README and docs resolving inside the repository.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { startCollector, stopCollector, waitCycles, type CollectorProc } from "../helpers/collector-proc.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;
const dirs: string[] = [];
const collectors: CollectorProc[] = [];
afterAll(async () => {
  for (const c of collectors) if (c.run.proc.exitCode === null) await stopCollector(c);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `deploy-${tag}-`));
  dirs.push(d);
  return d;
}

function run(cmd: string[], env: Record<string, string> = {}): { code: number; out: string } {
  const p = Bun.spawnSync(cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

test("the systemd unit passes systemd-analyze verify and scores OK on its security check", () => {
  const unit = readFileSync(join(ROOT, "deploy/systemd/tcp-info.service"), "utf8");
  expect(unit).toContain("Environment=TCPINFO_LISTEN=127.0.0.1:9990");
  // verify checks that ExecStart exists: point the install prefix at this checkout.
  const d = tmp("unit");
  const path = join(d, "tcp-info.service");
  writeFileSync(path, unit.replaceAll("/opt/tcp-info-bun", ROOT));
  const v = run(["systemd-analyze", "verify", path]);
  expect(v.out.trim()).toBe("");
  expect(v.code).toBe(0);
  const s = run(["systemd-analyze", "security", "--offline=yes", path]);
  const m = /Overall exposure level for tcp-info\.service: ([\d.]+)/.exec(s.out);
  expect(m).not.toBeNull();
  // 0 is fully locked down, 10 is none; the host network namespace and one capability
  // are what the collector needs, and all else is closed.
  expect(Number(m![1])).toBeLessThanOrEqual(3);
});

test("the --netns all drop-in verifies with the unit, allows setns, and adds only what it needs", () => {
  const unit = readFileSync(join(ROOT, "deploy/systemd/tcp-info.service"), "utf8");
  const dropIn = readFileSync(join(ROOT, "deploy/systemd/tcp-info.service.d/all-netns.conf"), "utf8");
  expect(dropIn).toContain("Environment=TCPINFO_NETNS=all");
  // A drop-in's [Service] settings merge with the unit's, as a second section does.
  const d = tmp("dropin");
  const path = join(d, "tcp-info.service");
  writeFileSync(path, `${unit}\n${dropIn}`.replaceAll("/opt/tcp-info-bun", ROOT));
  const v = run(["systemd-analyze", "verify", path]);
  expect(v.out.trim()).toBe("");
  expect(v.code).toBe(0);
  // setns must pass the unit's system call filter (@system-service includes @process).
  expect(unit).toContain("SystemCallFilter=@system-service");
  expect(run(["systemd-analyze", "syscall-filter", "@process"]).out).toMatch(/^\s+setns$/m);
  const s = run(["systemd-analyze", "security", "--offline=yes", path]);
  const m = /Overall exposure level for tcp-info\.service: ([\d.]+)/.exec(s.out);
  expect(m).not.toBeNull();
  // More open than the host-only unit (two capabilities, namespaces, /proc), still bounded.
  expect(Number(m![1])).toBeLessThanOrEqual(5);
});

test("the DaemonSet runs in the host network and PID namespace with the capabilities --netns all needs, limits, probes and host folders", () => {
  const docs = readFileSync(join(ROOT, "deploy/kubernetes/daemonset.yaml"), "utf8")
    .split(/^---$/m)
    .map((d) => Bun.YAML.parse(d) as Record<string, any>);
  const ds = docs.find((d) => d.kind === "DaemonSet");
  expect(ds?.apiVersion).toBe("apps/v1");
  const spec = ds!.spec.template.spec;
  expect(ds!.spec.selector.matchLabels).toEqual(ds!.spec.template.metadata.labels);
  expect(spec.hostNetwork).toBe(true);
  expect(spec.hostPID).toBe(true);
  expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(60);
  const c = spec.containers[0];
  expect(c.securityContext.capabilities).toEqual({ drop: ["ALL"], add: ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"] });
  expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
  expect(c.resources.limits.memory).toBeDefined();
  expect(c.resources.limits.cpu).toBeDefined();
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  expect(env.TCPINFO_LISTEN).toBe("127.0.0.1:9990");
  expect(env.TCPINFO_NETNS).toBe("all");
  const netns = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/var/run/netns");
  expect(netns.mountPropagation).toBe("HostToContainer");
  expect(spec.volumes.find((v: { name: string }) => v.name === netns.name).hostPath.path).toBe("/var/run/netns");
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    expect(c[probe].exec.command).toEqual(["bun", "src/healthcheck.ts"]);
  }
  const archives = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === env.TCPINFO_OUTPUT);
  const volume = spec.volumes.find((v: { name: string }) => v.name === archives.name);
  expect(volume.hostPath.path).toBe("/var/lib/tcp-info");
});

test("the Dockerfile and compose file bind the API to loopback, and the image's health check is real", () => {
  const docker = readFileSync(join(ROOT, "Dockerfile"), "utf8");
  // What the image sets (its comments may say how to open it up).
  const instructions = docker.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  expect(instructions).toMatch(/TCPINFO_LISTEN=127\.0\.0\.1:9990/);
  expect(instructions).not.toMatch(/TCPINFO_LISTEN=(?!127\.0\.0\.1)/);
  const hc = /^HEALTHCHECK .*\\\n\s+CMD \["bun", "([^"]+)"\]/m.exec(docker);
  expect(hc).not.toBeNull();
  expect(existsSync(join(ROOT, hc![1]))).toBe(true);
  const compose = Bun.YAML.parse(readFileSync(join(ROOT, "compose.yaml"), "utf8")) as Record<string, any>;
  expect(compose.services.collector.environment.TCPINFO_LISTEN).toBe("127.0.0.1:9990");
});

test("the health check says yes to a polling collector and no when nothing answers", async () => {
  const out = tmp("hc");
  const c = await startCollector(out);
  collectors.push(c);
  await waitCycles(c.api, 2);
  const listen = c.api.replace("http://", "");
  expect(run([BUN, "src/healthcheck.ts"], { TCPINFO_LISTEN: listen }).code).toBe(0);
  expect(await stopCollector(c)).toBe(0);
  const gone = run([BUN, "src/healthcheck.ts"], { TCPINFO_LISTEN: listen });
  expect(gone.code).toBe(1);
  expect(gone.out).toMatch(/^healthcheck: /);
  expect(run([BUN, "src/healthcheck.ts"], { TCPINFO_LISTEN: "off" }).code).toBe(1);
  expect(run([BUN, "src/healthcheck.ts"], { TCPINFO_LISTEN: "nonsense" }).code).toBe(1);
});

test("LICENSE, NOTICE, and every relative link of the README and docs resolve inside the repository", () => {
  expect(readFileSync(join(ROOT, "LICENSE"), "utf8")).toContain("Apache License");
  expect(readFileSync(join(ROOT, "NOTICE"), "utf8")).toContain("test/fixtures/raw-netlink-messages.bin.zst");
  const pages = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`), "bench/README.md"];
  let links = 0;
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), "utf8");
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split("#")[0];
      if (target === "" || /^[a-z]+:/.test(target)) continue;
      links++;
      const path = resolve(join(ROOT, dirname(page)), target);
      expect({ page, target, inside: path.startsWith(ROOT), exists: existsSync(path) }).toEqual({ page, target, inside: true, exists: true });
    }
  }
  expect(links).toBeGreaterThan(0);
});
