#!/usr/bin/env python3
"""ctl_raw.py: a raw client of bananad's control socket for test_hostile.sh.

  ctl_raw.py SOCK send LINE...     send each line, print each reply line
  ctl_raw.py SOCK pipe LINE...     send every line at once, then print as
                                   many reply lines
  ctl_raw.py SOCK fire FILE        send FILE's lines and close at once
  ctl_raw.py SOCK flood MB SECS    pipeline {"op":"status"} lines (MB in all)
                                   without reading a reply, hold SECS, close
  ctl_raw.py SOCK hold N SECS      open N connections, hold SECS, close them
Every wait is bounded (socket timeouts, SECS).
"""
import socket
import sys
import time


def conn(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def send(path, lines):
    s = conn(path)
    f = s.makefile("rb")
    for line in lines:
        s.sendall(line.encode("utf-8", "surrogateescape") + b"\n")
        reply = f.readline()
        if not reply:
            print("CLOSED")
            return 1
        print(reply.decode().rstrip("\n"))
    s.close()
    return 0


def pipe(path, lines):
    s = conn(path, timeout=30)
    f = s.makefile("rb")
    s.sendall(b"".join(l.encode("utf-8", "surrogateescape") + b"\n" for l in lines))
    for _ in lines:
        reply = f.readline()
        if not reply:
            print("CLOSED")
            return 1
        print(reply.decode().rstrip("\n")[:300])
    s.close()
    return 0


def flood(path, mb, secs):
    s = conn(path, timeout=0.5)
    line = b'{"op":"status"}\n'
    chunk = line * 4096
    sent, goal, end = 0, mb << 20, time.time() + secs
    while sent < goal and time.time() < end:
        try:
            sent += s.send(chunk)
        except (socket.timeout, BlockingIOError):
            pass  # bananad stopped reading us: the point of the test
        except OSError as e:
            print("flood: %s after %d bytes" % (e, sent))
            break
    print("flood: sent %d bytes" % sent)
    sys.stdout.flush()
    time.sleep(max(0.0, end - time.time()))
    s.close()
    return 0


def hold(path, n, secs):
    socks, refused = [], 0
    for _ in range(n):
        try:
            socks.append(conn(path, timeout=2))
        except OSError:
            refused += 1
    print("hold: %d open, %d refused" % (len(socks), refused))
    sys.stdout.flush()
    time.sleep(secs)
    for s in socks:
        s.close()
    return 0


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "send":
        return send(path, sys.argv[3:])
    if mode == "fire":
        s = conn(path)
        s.sendall(open(sys.argv[3], "rb").read())
        s.close()
        return 0
    if mode == "pipe":
        return pipe(path, sys.argv[3:])
    if mode == "flood":
        return flood(path, int(sys.argv[3]), float(sys.argv[4]))
    if mode == "hold":
        return hold(path, int(sys.argv[3]), float(sys.argv[4]))
    print("unknown mode", mode)
    return 2


sys.exit(main())
