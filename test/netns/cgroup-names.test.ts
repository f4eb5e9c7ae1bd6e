// Container and pod names from /proc/PID/cgroup text, for each runtime's path shape.
import { describe, expect, test } from "bun:test";
import { containerOf } from "../../src/netns/cgroup-names.ts";

const ID = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d";
const ID2 = "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970";
const UID = "34152897-dbaf-11ea-8cb9-0653660051c3";
const UID_ = UID.replaceAll("-", "_");

describe("containers", () => {
  test("docker, cgroupfs driver: v1 lines and the v2 line", () => {
    const v1 = `12:pids:/docker/${ID}\n11:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n`;
    expect(containerOf(v1)).toEqual({ container: ID });
    expect(containerOf(`0::/docker/${ID}\n`)).toEqual({ container: ID });
  });

  test("docker, systemd driver", () => {
    expect(containerOf(`0::/system.slice/docker-${ID}.scope\n`)).toEqual({ container: ID });
    // systemd running inside the container: a child cgroup of the scope
    expect(containerOf(`0::/system.slice/docker-${ID}.scope/init.scope\n`)).toEqual({ container: ID });
  });

  test("podman: libpod scope (rootless and rootful), cgroupfs libpod_parent, not conmon", () => {
    expect(
      containerOf(`0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope\n`),
    ).toEqual({ container: ID });
    expect(containerOf(`0::/machine.slice/libpod-${ID}.scope/container\n`)).toEqual({ container: ID });
    expect(containerOf(`0::/libpod_parent/libpod-${ID}\n`)).toEqual({ container: ID });
    expect(containerOf(`0::/machine.slice/libpod-conmon-${ID}.scope\n`)).toEqual({});
  });

  test("containerd and cri-o scopes outside kubepods; crio-conmon is not a container", () => {
    expect(containerOf(`0::/system.slice/cri-containerd-${ID}.scope\n`)).toEqual({ container: ID });
    expect(containerOf(`0::/machine.slice/crio-${ID}.scope\n`)).toEqual({ container: ID });
    expect(containerOf(`0::/machine.slice/crio-conmon-${ID}.scope\n`)).toEqual({});
  });

  test("upper-case hex is returned lower-case", () => {
    expect(containerOf(`0::/docker/${ID.toUpperCase()}\n`)).toEqual({ container: ID });
  });

  test("nested docker: the innermost container", () => {
    expect(containerOf(`0::/docker/${ID2}/docker/${ID}\n`)).toEqual({ container: ID });
  });
});

describe("kubernetes pods", () => {
  test("cgroupfs driver: /kubepods/<qos>/pod<uid>/<id> and guaranteed /kubepods/pod<uid>/<id>", () => {
    expect(containerOf(`4:memory:/kubepods/burstable/pod${UID}/${ID}\n`)).toEqual({ container: ID, pod: UID });
    expect(containerOf(`0::/kubepods/besteffort/pod${UID}/${ID}\n`)).toEqual({ container: ID, pod: UID });
    expect(containerOf(`0::/kubepods/pod${UID}/${ID}\n`)).toEqual({ container: ID, pod: UID });
    expect(containerOf(`0::/kubepods/pod${UID}/crio-${ID}\n`)).toEqual({ container: ID, pod: UID });
  });

  test("systemd driver: kubepods-<qos>-pod<uid_>.slice with each runtime's scope", () => {
    const base = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;
    expect(containerOf(`0::${base}/cri-containerd-${ID}.scope\n`)).toEqual({ container: ID, pod: UID });
    expect(containerOf(`0::${base}/crio-${ID}.scope\n`)).toEqual({ container: ID, pod: UID });
    expect(containerOf(`0::${base}/docker-${ID}.scope\n`)).toEqual({ container: ID, pod: UID });
    // guaranteed QoS: no QoS level
    expect(containerOf(`0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope\n`)).toEqual({
      container: ID,
      pod: UID,
    });
    // the pod's conmon: the pod is known, the container is not
    expect(containerOf(`0::${base}/crio-conmon-${ID}.scope\n`)).toEqual({ pod: UID });
  });

  test("kind: a node container holding kubepods; the pod's container wins, not the node's", () => {
    const kind = `0::/docker/${ID2}/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope\n`;
    expect(containerOf(kind)).toEqual({ container: ID, pod: UID });
    // a process in the pod-level cgroup only: the node's id is not reported as its container
    expect(containerOf(`0::/docker/${ID2}/kubepods/besteffort/pod${UID}\n`)).toEqual({ pod: UID });
  });

  test("hybrid v1+v2: the line naming most wins", () => {
    const text = `1:name=systemd:/system.slice/containerd.service\n4:memory:/kubepods/burstable/pod${UID}/${ID}\n0::/\n`;
    expect(containerOf(text)).toEqual({ container: ID, pod: UID });
  });

  test("a removed v2 cgroup ' (deleted)' still names its container", () => {
    expect(containerOf(`0::/kubepods/pod${UID}/${ID} (deleted)\n`)).toEqual({ container: ID, pod: UID });
  });
});

describe("nothing recognised", () => {
  test.each([
    ["empty", ""],
    ["root v2", "0::/\n"],
    ["host systemd service", "0::/system.slice/sshd.service\n"],
    ["user session", "0::/user.slice/user-1000.slice/session-3.scope\n"],
    ["v1 host", "9:name=systemd:/\n4:memory:/process_api/beb808e37bb81e4029c4dfda32b3ba90\n0::/\n"],
    ["63 hex", `0::/docker/${ID.slice(1)}\n`],
    ["65 hex", `0::/docker/${ID}0\n`],
    ["non-hex", `0::/docker/${ID.slice(0, 63)}g\n`],
    ["bare 64 hex not under kubepods or docker", `0::/system.slice/${ID}\n`],
    ["docker- prefix with a suffix", `0::/system.slice/docker-${ID}-x.scope\n`],
    ["pod dir outside kubepods", `0::/pods/pod${UID}/x\n`],
    ["malformed pod uid", `0::/kubepods/pod${UID.slice(0, 35)}/\n`],
    ["no path", "garbage\n12:memory\n"],
  ])("%s", (_label, text) => {
    expect(containerOf(text)).toEqual({});
  });
});
