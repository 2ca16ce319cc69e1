#!/usr/bin/env python3
"""udp_gap.py: a paced UDP stream with sequence numbers, and its receiver,
which measures the longest interval between frames received (the gap a
hot-swap costs), and counts frames lost, doubled and out of order.
  udp_gap.py send HOST PORT RATE COUNT    RATE frames/s, COUNT frames
  udp_gap.py recv PORT COUNT [IDLE_S]     until COUNT arrived or IDLE_S (2) of silence
  udp_gap.py swaps SWAPS_FILE GAPS_FILE [LABEL]
recv prints one line: received=N lost=N dup=N reordered=N max_gap_ms=X p50_gap_ms=X
and, with GAPS_FILE set, every gap over 0.5 ms as "end_ms gap_ms" lines (end_ms: the wall clock in
ms when the gap ended), "end_ms gap_ms lost" with GAPS_LOST set (lost: the frames the gap's
sequence numbers skipped). send stopped by SIGTERM or SIGINT prints sent=N.
swaps prints the swap gap: per swap (SWAPS_FILE: the wall clock in ms when each began) the
longest gap that ended after it began and before the next one (the last: within 1 s);
median and worst."""
import os
import signal
import socket
import struct
import sys
import time


def stop(signum, frame):
    raise KeyboardInterrupt


def send(host, port, rate, count):
    signal.signal(signal.SIGTERM, stop)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.perf_counter()
    pad = b"x" * 64
    sent = 0
    try:
        for i in range(count):
            due = t0 + i / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)  # no spinning: a real-time sender would starve the machine
            try:
                s.sendto(struct.pack("!Q", i) + pad, (host, port))
            except OSError:
                pass  # no route for a moment: counted as lost by the receiver
            sent = i + 1
    except KeyboardInterrupt:
        pass
    print("sent=%d" % sent, flush=True)


def recv(port, count, idle):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", port))
    print("listening", flush=True)
    seen = set()
    dup = reord = 0
    last_seq = -1
    last_t = None
    gaps = []
    big = []
    t_first = None
    s.settimeout(30)  # the first frame
    while len(seen) < count:
        try:
            data = s.recv(2048)
        except socket.timeout:
            break
        s.settimeout(idle)
        now = time.perf_counter()
        if len(data) < 8:
            continue
        (seq,) = struct.unpack("!Q", data[:8])
        if seq in seen:
            dup += 1
            continue
        seen.add(seq)
        if seq < last_seq:
            reord += 1
        prev = last_seq
        last_seq = max(last_seq, seq)
        if last_t is not None:
            g = (now - last_t) * 1000.0
            gaps.append(g)
            if g > 0.5:
                big.append((time.time() * 1000.0, g, max(0, seq - prev - 1)))
        else:
            t_first = now
        last_t = now
    gaps.sort()
    n = len(seen)
    top = max(seen) + 1 if seen else 0
    print("received=%d lost=%d dup=%d reordered=%d max_gap_ms=%.3f p50_gap_ms=%.3f"
          % (n, max(count, top) - n, dup, reord, gaps[-1] if gaps else 0.0,
             gaps[len(gaps) // 2] if gaps else 0.0), flush=True)
    if os.environ.get("GAPS_FILE"):
        with open(os.environ["GAPS_FILE"], "w") as f:
            lost = os.environ.get("GAPS_LOST")
            for t, g, n in big:
                f.write(("%.3f %.3f %d\n" % (t, g, n)) if lost else ("%.3f %.3f\n" % (t, g)))


def swaps(swaps_file, gaps_file, label):
    sw = [float(x) for x in open(swaps_file)]
    gp = [tuple(map(float, ln.split()[:2])) for ln in open(gaps_file) if ln.strip()]
    ends = sw[1:] + [sw[-1] + 1000] if sw else []
    per = sorted(max([g for t, g in gp if s <= t < e] or [0.0]) for s, e in zip(sw, ends))
    if per:
        print("NIC swap gap over %d swaps%s: median %.2f ms, worst %.1f ms "
              "(gaps under 0.5 ms count as 0)"
              % (len(per), " (%s)" % label if label else "", per[len(per) // 2], per[-1]))


if __name__ == "__main__":
    if len(sys.argv) >= 6 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "recv":
        recv(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 2.0)
    elif len(sys.argv) >= 4 and sys.argv[1] == "swaps":
        swaps(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
    else:
        sys.exit(__doc__)
