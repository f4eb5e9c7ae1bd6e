# Drives one TCP connection through a phase, for the analysis tests:
#   receiver  - loopback; the receiver never reads while the sender keeps writing (its window fills)
#   bulk      - loopback; the sender writes as fast as it can; the receiver reads all it gets
#   sndbuf    - between network namespaces (args: SENDER_NS RECEIVER_NS SENDER_IP
#               RECEIVER_IP; the test routes them through a third, whose link to the
#               receiver is shaped to 5 Mbit/s): the sender has a tiny SO_SNDBUF, BBR, and
#               writes 32 KiB at a time; the receiver reads all it gets. The kernel counts
#               send-buffer-limited time (tcp_cwnd_validate) from when a write that was
#               copied in part, the buffer full, has all been sent, not limited by cwnd,
#               until ACKs free a third of the buffer. So: writes bigger than the buffer
#               and segments of one MSS (GSO off on the sender's link) so a write is
#               copied in part; milliseconds of queue before the receiver so the buffer
#               stays unacknowledged; BBR, with which the flow is not cwnd-limited here
#               (measured on this kernel: 60-78% with BBR, 0% with cubic, 0% with 4 KiB
#               writes or with GSO on). On loopback ACKs free the buffer at once.
# Prints "port N" once listening (the test looks the connection up by it), then "done"
# once both ends are closed. Python, because Bun's net sockets cannot set SO_SNDBUF, and
# its sockets are made synchronously (each inside the namespace entered for it).
import ctypes
import os
import socket
import struct
import sys
import time

mode, seconds = sys.argv[1], float(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)


def enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


if mode == "sndbuf":
    a_ns, b_ns, a_ip, b_ip = sys.argv[3:7]
    home = f"/proc/{os.getpid()}/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    enter(b_ns)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((b_ip, 0))
    enter(a_ns)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # the kernel doubles it
    # Without it Nagle holds the small tail back for the peer's delayed ACK, so data
    # waits in the queue and the time counts as busy, not as send-buffer-limited.
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bbr")
    libc.setns(home_fd, 0x40000000)
    os.close(home_fd)
    chunk = b"x" * 32768
else:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    chunk = b"x" * (1 << 16)
srv.listen(1)
port = srv.getsockname()[1]
print(f"port {port}", flush=True)
cli.connect((srv.getsockname()[0], port))
peer, _ = srv.accept()
srv.close()


def send_for(sock):
    # Blocking sends where the peer keeps reading (the sender sleeps in the kernel when
    # the buffer is full, as a real one does); a timeout where it never reads.
    sock.settimeout(0.05 if mode == "receiver" else None)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sock.send(chunk)
        except socket.timeout:
            pass  # window or buffer full: keep trying, as a sender with more data would


if mode == "receiver":
    send_for(cli)
    # Abortive close of both ends: the unread data would keep the connection alive.
    linger = struct.pack("ii", 1, 0)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    cli.close()
    peer.close()
else:
    # The reader in its own process: in a thread it would wait for the GIL and the
    # window would fill, which is not what this phase is about.
    pid = os.fork()
    if pid == 0:
        cli.close()
        while peer.recv(1 << 20):
            pass
        peer.close()
        os._exit(0)
    peer.close()
    send_for(cli)
    cli.shutdown(socket.SHUT_WR)
    cli.settimeout(None)
    cli.recv(1)  # the reader closed: everything was read
    cli.close()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit(1)
print("done", flush=True)
