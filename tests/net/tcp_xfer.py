#!/usr/bin/env python3
"""tcp_xfer.py: move an exact number of bytes over TCP and account for them.

  tcp_xfer.py recv PORT            accept one connection, read to EOF, print
                                   "bytes=N sha256=HEX"
  tcp_xfer.py send HOST PORT BYTES send BYTES bytes of a fixed pseudo-random
                                   pattern, close, print "bytes=N sha256=HEX"

Used by tests/net to check that every byte crossed bananad intact (iperf3
counts bytes but neither checks them nor drains what is in flight when the
test time is up).
"""
import hashlib
import socket
import sys


def pattern(n):
    block = hashlib.sha256(b"banana").digest() * 2048  # 64 KiB
    sent = 0
    while sent < n:
        chunk = block[: min(len(block), n - sent)]
        sent += len(chunk)
        yield chunk


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "recv":
        srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("::", int(sys.argv[2])))
        srv.listen(1)
        print("listening", flush=True)
        conn, _ = srv.accept()
        h, n = hashlib.sha256(), 0
        while True:
            d = conn.recv(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        print("bytes=%d sha256=%s" % (n, h.hexdigest()), flush=True)
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "send":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
        h, n = hashlib.sha256(), 0
        for chunk in pattern(int(sys.argv[4])):
            s.sendall(chunk)
            h.update(chunk)
            n += len(chunk)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # wait for the receiver's close: everything was read
        s.close()
        print("bytes=%d sha256=%s" % (n, h.hexdigest()), flush=True)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
