"""Holds TCP connections open inside a network namespace, for the --netns tests.

Usage: netns-holder.py NETNS_PATH[,NETNS_PATH...] CONNECTIONS PORT [--leave]

Enters the namespace (setns), listens on 127.0.0.1:PORT there, opens CONNECTIONS
loopback connections to it and accepts them. With --leave it then returns to the
namespace it started in, so no process shows the namespace in /proc any more while its
sockets live on (what a namespace deleted under live sockets looks like). Prints
"READY <pid>" and then reads commands on stdin: "close" closes every socket, "exit"
exits. Python's sockets are synchronous, so each one is created while inside the
namespace it belongs to. With several paths it does the same in each namespace and
always returns home (one process holds them all).
"""
import ctypes
import os
import resource
import socket
import sys

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int) -> None:
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def main() -> None:
    paths, count, port = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
    leave = "--leave" in sys.argv[4:] or len(paths) > 1
    need = len(paths) * (2 * count + 1) + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    socks = []
    for path in paths:
        target = os.open(path, os.O_RDONLY)
        setns(target)
        os.close(target)
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1024)
        socks.append(server)
        for _ in range(count):
            c = socket.create_connection(("127.0.0.1", port))
            a, _ = server.accept()
            socks += [c, a]
        if leave:
            setns(home)
    os.close(home)
    print(f"READY {os.getpid()}", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "close":
            for s in socks:
                s.close()
            print("CLOSED", flush=True)
        elif cmd == "exit":
            return


if __name__ == "__main__":
    main()
