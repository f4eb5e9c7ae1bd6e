# Drives one loopback TCP connection through a phase, for the analysis tests:
#   receiver  - the receiver never reads while the sender keeps writing (its window fills)
#   sndbuf    - the sender has a tiny SO_SNDBUF; the receiver reads all it gets
#   bulk      - the sender writes as fast as it can; the receiver reads all it gets
# Prints "port N" once listening (the test looks the connection up by it), then "done"
# once both ends are closed. Python, because Bun's net sockets cannot set SO_SNDBUF.
import os
import socket
import struct
import sys
import time

mode, seconds = sys.argv[1], float(sys.argv[2])

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
print(f"port {port}", flush=True)

cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
if mode == "sndbuf":
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # the kernel doubles it
    # Without it Nagle holds the small tail back for the peer's delayed ACK, so data
    # waits in the queue and the time counts as busy, not as send-buffer-limited.
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
cli.connect(("127.0.0.1", port))
peer, _ = srv.accept()
srv.close()

chunk = b"x" * (1 << 16)


def send_for(sock):
    sock.settimeout(0.05)
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
