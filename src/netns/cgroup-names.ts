// Names a network namespace after the container and Kubernetes pod of a process in it,
// from that process's /proc/PID/cgroup. Pure parsing: the runtimes encode their ids in
// the cgroup path, so no runtime API (docker socket, CRI) is needed.
//
// Shapes recognised (any cgroup line, v1 "N:ctrl:/path" or v2 "0::/path"):
//   docker cgroupfs        /docker/<64hex>
//   systemd scopes         .../docker-<64hex>.scope, libpod-<64hex>.scope,
//                          cri-containerd-<64hex>.scope, crio-<64hex>.scope
//                          (also without ".scope", as the cgroupfs drivers of podman/cri-o name them)
//   kubepods cgroupfs      /kubepods[/<qos>]/pod<uid>/<64hex>
//   kubepods systemd       /kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid_with_underscores>.slice/...
// conmon scopes (libpod-conmon-<id>, crio-conmon-<id>) are the monitor, not the container:
// they do not match since "conmon-..." is not 64 hex.

export interface ContainerNames {
  container?: string;
  pod?: string;
}

const HEX64 = /^[0-9a-f]{64}$/i;
// docker-, libpod-, cri-containerd-, crio- followed by exactly the id (optionally ".scope").
const PREFIXED_ID = /^(?:docker|libpod|cri-containerd|crio)-([0-9a-f]{64})(?:\.scope)?$/i;
const UUID_PART = "[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}";
// cgroupfs driver: "pod" + UID with dashes.
const POD_DIR = new RegExp(`^pod(${UUID_PART})$`, "i");
// systemd driver: "kubepods[-qos]-pod" + UID with underscores (kind prefixes "kubelet-").
const POD_SLICE = new RegExp(`kubepods(?:-[a-z]+)?-pod(${UUID_PART})\\.slice$`, "i");

/** Canonical pod UID: lower case, dashes (systemd slices use underscores). */
function canonicalUid(raw: string): string {
  return raw.toLowerCase().replaceAll("_", "-");
}

/** The container and pod of one cgroup path; the deepest match wins (nested runtimes, kind). */
export function namesOfPath(path: string): ContainerNames {
  let container: string | undefined;
  let pod: string | undefined;
  let underKube = false;
  let prev = "";
  for (const c of path.split("/")) {
    if (c === "") continue;
    if (c.includes("kubepods")) {
      // A kubepods level starts a new scope: a container above it (a kind node) is not
      // the one the process runs in.
      if (!underKube) container = undefined;
      underKube = true;
      const m = POD_SLICE.exec(c);
      if (m) {
        pod = canonicalUid(m[1]);
        container = undefined;
      }
    } else if (underKube && POD_DIR.test(c)) {
      pod = canonicalUid(c.slice(3));
      container = undefined;
    } else {
      const m = PREFIXED_ID.exec(c);
      if (m) container = m[1].toLowerCase();
      else if (HEX64.test(c) && (prev === "docker" || underKube)) container = c.toLowerCase();
    }
    prev = c;
  }
  const out: ContainerNames = {};
  if (container !== undefined) out.container = container;
  if (pod !== undefined) out.pod = pod;
  return out;
}

/**
 * The container id and pod UID named by a /proc/PID/cgroup text, or `{}` when none is
 * recognised. Of several lines (cgroup v1 hierarchies, hybrid v1+v2) the one naming the
 * most wins; on a tie the first.
 */
export function containerOf(cgroupFileText: string): ContainerNames {
  let best: ContainerNames = {};
  let bestScore = 0;
  for (const line of cgroupFileText.split("\n")) {
    // "hierarchy-id:controllers:path"; the path may itself contain ':'.
    const a = line.indexOf(":");
    const b = a < 0 ? -1 : line.indexOf(":", a + 1);
    if (b < 0) continue;
    let path = line.slice(b + 1).trim();
    // cgroup v2 marks a removed cgroup this way; the path is still the process's.
    if (path.endsWith(" (deleted)")) path = path.slice(0, -" (deleted)".length);
    if (!path.startsWith("/")) continue;
    const names = namesOfPath(path);
    const score = (names.container ? 1 : 0) + (names.pod ? 1 : 0);
    if (score > bestScore) {
      best = names;
      bestScore = score;
      if (score === 2) break;
    }
  }
  return best;
}
