#!/bin/bash
# test_net_swap.sh XENSIM BANANAD BANANACTL SIM_NETGUEST: hot-swap of a NIC's
# wire, make before break (issue 16). Two sim-netguests on one bridge Corm;
# vm2's wire is swapped SWAPS times (BN_SWAPS, default 20) shm -> vxlan ->
# shm ... (vxlan on loopback) with `bananactl swap`, while vm1 runs an
# iperf3 TCP stream to vm2 and a paced UDP stream (RATE frames/s, default
# 2000) to vm2 (udp_gap.py).
# Asserts: every swap is answered and the wire is up as its new type after
# it; iperf3's TCP connection never resets (the client ends well and moved
# data); the UDP stream loses at most 5% (vxlan is unreliable: beside
# iperf3's TCP it drops datagrams when a socket buffer is full, 2% of the
# stream here, counted by the wire as drop_full) and doubles nothing (frames still
# in flight on the old wire arrive after newer ones on the new: a NIC's
# wire promises no order); prints the longest interval between received
# UDP frames (on this shared machine mostly the scheduler's; bench/swap
# measures the swap gap) and each swap's time. BN_SWAP_DEBUG=1 prints the
# counters and every gap over 0.5 ms, BN_SWAP_KEEP=DIR keeps the swaps' and
# gaps' times and bananad's log there; BN_NO_IPERF=1 runs the UDP stream
# alone, BN_SWAP_DRY=1 the same stream and cadence without swapping (the
# machine's own gaps), BN_SWAP_SHARED=1 puts vm1's wire on vxlan first, on
# the UDP sockets vm2's vxlan ports then join, BN_SWAP_RT=1 see below
# (bench/swap/run). Bounded: SWAPS swaps, an 11 s iperf3, about 20 s in all.
# Needs root (network namespaces, TAP, bridges): exit 77 otherwise.
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
SWAPS=${BN_SWAPS:-20} RATE=${BN_UDP_RATE:-2000}
# BN_SWAP_RT=1: the UDP sender and receiver, bananad and the guests run
# SCHED_FIFO, so that their waits for a CPU (other work on the machine)
# are not counted as the swap's (bench/swap)
RT=
[ -n "${BN_SWAP_RT:-}" ] && RT="chrt -f 10"
P0=$((30000 + $$ % 10000)) P1=$((40000 + $$ % 10000))
ctl() { "$BANANACTL" "$@"; }
gap=$(dirname "$0")/udp_gap.py

nl_start
nl_topology vm1 vm2
nl_guest vm1 1
nl_guest vm2 2
# the vxlan wire carries 1450 bytes of payload: the guests send no more
for vm in vm1 vm2; do nl_in $vm ip link set eth0 mtu 1400 || nl_fail "mtu of $vm"; done
if [ -n "${BN_SWAP_SHARED:-}" ]; then # vm1's wire on the UDP sockets vm2's vxlan ports join
    ctl swap vm1-net vxlan -o vni=4242 -o end0.addr=127.0.0.1 -o "end0.port=$P0" \
        -o end1.addr=127.0.0.1 -o "end1.port=$P1" >"$base/swap.out" 2>&1 || nl_fail "vm1 to vxlan: $(cat "$base/swap.out")"
    nl_wait 10 bash -c "'$BANANACTL' wires vm1-net | grep -Eq 'vxlan .* up'" || nl_fail "vm1-net not up as vxlan"
fi
nl_in vm1 ping -c 1 -W 5 10.77.0.2 >/dev/null || nl_fail "no ping before the swaps"

nl_bg vm2 iperf3 -s -1 -p 5201 >"$base/iperf-s.out" 2>&1
nl_wait 10 bash -c "ip netns exec $T-vm2 ss -Hltn | grep -q :5201" || nl_fail "no iperf3 server"
count=$((RATE * 12))
nl_bg vm2 env GAPS_FILE=$base/gaps.txt $RT python3 "$gap" recv 5301 $count 3 >"$base/udp-r.out" 2>&1
rpid=$!
nl_wait 10 grep -q listening "$base/udp-r.out" || nl_fail "no UDP receiver"
if [ -z "${BN_NO_IPERF:-}" ]; then
    nl_bg vm1 timeout 40 iperf3 -c 10.77.0.2 -p 5201 -t 11 -J >"$base/iperf.json" 2>"$base/iperf-c.log"
    ipid=$!
fi
nl_bg vm1 $RT python3 "$gap" send 10.77.0.2 5301 "$RATE" $count >"$base/udp-s.out"
spid=$!
if [ -n "$RT" ]; then # and so do bananad's threads and the guests
    for p in "${nl_pids[@]}"; do chrt -a -f -p 10 "$p" >/dev/null 2>&1; done
fi
sleep 1
t=()
for i in $(seq 1 "$SWAPS"); do
    s0=$(date +%s%N)
    echo $((s0 / 1000000)) >>"$base/swaps.txt"
    if [ -n "${BN_SWAP_DRY:-}" ]; then # the same stream and cadence, no swap
        sleep 0.1
        t+=($((($(date +%s%N) - s0) / 1000000)))
        sleep 0.2
        continue
    fi
    if [ $((i % 2)) = 1 ]; then
        want=vxlan
        ctl swap vm2-net vxlan -o vni=4343 -o end0.addr=127.0.0.1 -o "end0.port=$P0" \
            -o end1.addr=127.0.0.1 -o "end1.port=$P1" >"$base/swap.out" 2>&1
    else
        want=shm
        ctl swap vm2-net shm --no-options >"$base/swap.out" 2>&1
    fi || nl_fail "swap $i to $want: $(cat "$base/swap.out")"
    nl_wait 10 bash -c "'$BANANACTL' wires vm2-net | grep -Eq '$want .* up'" ||
        nl_fail "swap $i: the wire is not up as $want: $(ctl wires vm2-net 2>&1)"
    t+=($((($(date +%s%N) - s0) / 1000000)))
    sleep 0.2
done
echo "swap times (ms, the command to the wire up): ${t[*]}"
ctl endpoints >"$base/eps.out" 2>&1
ctl wires >"$base/wires.out" 2>&1
[ -n "${BN_SWAP_DEBUG:-}" ] && cat "$base/eps.out" "$base/wires.out" && grep -iE "drop|lost" "$base/bananad.log" | sort | uniq -c | sort -rn | head
wait "$spid"
wait "$rpid"
res=$(grep received= "$base/udp-r.out")
echo "UDP $RATE frames/s across the swaps: $res"
[ -n "${BN_SWAP_KEEP:-}" ] && cp "$base/gaps.txt" "$base/swaps.txt" "$base/bananad.log" "$BN_SWAP_KEEP/"
[ -n "${BN_SWAP_DEBUG:-}" ] && cat "$base/gaps.txt"
# the swap gap: the longest interval between received frames that ended
# after a swap began and before the next one (the last: within 1 s; every
# gap over 0.5 ms is in gaps.txt)
python3 "$gap" swaps "$base/swaps.txt" "$base/gaps.txt" "${BN_SWAP_DRY:+no swap, same cadence}"
if [ -n "${BN_NO_IPERF:-}" ]; then
    echo "ok: $SWAPS swaps shm <-> vxlan under a UDP stream (no iperf3)"
    exit 0
fi
wait "$ipid" || nl_fail "iperf3 failed (a reset?): $(tail -5 "$base/iperf-c.log") $(grep -m1 error "$base/iperf.json")"
read -r sent retr gbps < <(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["end"]
print(e["sum_sent"]["bytes"], e["sum_sent"].get("retransmits", 0),
      "%.2f" % (e["sum_received"]["bits_per_second"] / 1e9))' "$base/iperf.json") ||
    nl_fail "cannot read iperf3's JSON"
[ -n "$sent" ] && [ "$sent" -gt 0 ] || nl_fail "iperf3 moved nothing"
echo "iperf3 across $SWAPS swaps: $gbps Gbit/s, $sent bytes, $retr retransmits, no reset"
rcv=$(sed -nE 's/.*received=([0-9]+).*/\1/p' <<<"$res")
dup=$(sed -nE 's/.*dup=([0-9]+).*/\1/p' <<<"$res")
[ -n "$rcv" ] && [ "$rcv" -ge $((count * 95 / 100)) ] || nl_fail "UDP lost more than 5%: $res"
[ "$dup" = 0 ] || nl_fail "UDP frames doubled: $res"
grep -E "swapped from" "$base/bananad.log" | tail -2
echo "ok: $SWAPS swaps shm <-> vxlan under iperf3 and a UDP stream: no reset, $res"
