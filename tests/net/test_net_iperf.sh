#!/bin/bash
# test_net_iperf.sh: iperf3 TCP between two sim-netguests on one bridge Corm
# through bananad, every byte accounted for (iperf3 --json: the bytes the
# client sent equal the bytes the server received). With QUEUES=4 in the
# environment both guests use 4 queues (and several parallel streams, so
# that more than one queue carries traffic). CORM_PARAM ("offload: no") is
# added to the bridge Corm's parameters: without offload the Corm segments
# and checksums the guests' 64 KiB TCP frames in software.
# usage: test_net_iperf.sh XENSIM BANANAD BANANACTL SIM_NETGUEST [QUEUES [CORM_PARAM]]
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4 QUEUES=${5:-1}
[ -n "${6:-}" ] && NL_CORM_EXTRA=", $6"
. "$(dirname "$0")/netlib.sh"
nl_need_root
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
nl_start
nl_topology vm1 vm2
nl_guest vm1 1 --queues "$QUEUES"
nl_guest vm2 2 --queues "$QUEUES"
grep -q "connected, $QUEUES queue" "$base/vm1.out" || nl_fail "vm1 did not get $QUEUES queue(s): $(head -1 "$base/vm1.out")"
nl_in vm1 ping -c 1 -W 5 10.77.0.2 >/dev/null || nl_fail "no ping before iperf3"

streams=1
[ "$QUEUES" -gt 1 ] && streams=4
# 1. iperf3 TCP for a few seconds
nl_bg vm2 iperf3 -s -1 -p 5201 >"$base/iperf-s.out" 2>&1
spid=$!
nl_pids+=($spid)
nl_wait 10 bash -c "ip netns exec $T-vm2 ss -Hltn | grep -q :5201"
nl_in vm1 timeout 40 iperf3 -c 10.77.0.2 -p 5201 -t 3 -P $streams -J >"$base/iperf.json" 2>"$base/iperf-c.log" ||
    nl_fail "iperf3 client failed: $(tail -5 "$base/iperf.json")"
wait $spid
read -r sent recv retr gbps < <(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["end"]
print(e["sum_sent"]["bytes"], e["sum_received"]["bytes"], e["sum_sent"].get("retransmits", 0),
      "%.2f" % (e["sum_received"]["bits_per_second"] / 1e9))' "$base/iperf.json") ||
    nl_fail "cannot read iperf3's JSON"
[ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$recv" -gt 0 ] || nl_fail "iperf3 moved nothing"
# iperf3's receiver stops counting when the client says the time is up;
# what is still in flight then is not counted (the same happens on a kernel
# bridge), so the exact accounting is step 2.
[ "$recv" -le "$sent" ] || nl_fail "iperf3: received $recv > sent $sent"
echo "ok: iperf3 TCP, $QUEUES queue(s), $streams stream(s)${6:+, Corm $6}: $gbps Gbit/s, $sent bytes sent, $recv counted by the receiver at the end, $retr retransmits"

# 2. every byte: an exact number of bytes, checksummed at both ends
xfer=$(dirname "$0")/tcp_xfer.py
nbytes=$((300 * 1024 * 1024))
nl_bg vm2 timeout 60 python3 "$xfer" recv 5202 >"$base/xfer-r.out" 2>&1
rpid=$!
nl_pids+=($rpid)
nl_wait 10 grep -q listening "$base/xfer-r.out" || nl_fail "receiver did not listen"
nl_in vm1 timeout 60 python3 "$xfer" send fd77::2 5202 $nbytes >"$base/xfer-s.out" 2>&1 || nl_fail "sender failed: $(cat "$base/xfer-s.out")"
wait $rpid
s_line=$(grep bytes= "$base/xfer-s.out") r_line=$(grep bytes= "$base/xfer-r.out")
[ "$s_line" = "bytes=$nbytes $(sed 's/.* //' <<<"$s_line")" ] || nl_fail "sender: $s_line"
[ "$s_line" = "$r_line" ] || nl_fail "sent '$s_line' but received '$r_line'"
echo "ok: $nbytes bytes over TCP/IPv6 vm1 -> vm2, all received, same sha256"

kill -0 "$BPID" || nl_fail "bananad died"
exit 0
