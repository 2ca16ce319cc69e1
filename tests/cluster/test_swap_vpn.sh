#!/bin/bash
# tests/cluster/test_swap_vpn.sh BUILD_DIR: hot-swap of a NIC's wire across
# all three NIC wire types (issue 16), make before break. Host h1 runs a
# simulated guest g1 (10.69.0.1); h2's bridge has a namespace behind it
# (10.69.0.2) and is joined to h1's bridge by a veth. g1's wire goes
# vxlan -> vpn -> vxlan -> shm -> vxlan -> ... SWAPS times (BN_SWAPS,
# default 4: each change once, to keep CI short; bench/swap 20): vxlan
# and vpn to h2's bridge Corm, shm to h1's (the swap moves the Corm end
# and changes the type at once). Each swap is an apply of the new topology
# on both hosts (no shared store: each host realises its own part), the
# new Corm's host first (a vxlan end cannot tell whether its peer is there
# yet, so h1's Spike would switch to a wire that leads nowhere); to shm h1
# first, then h2 closes its end (the wire is "remote" there). Meanwhile g1 runs an iperf3 TCP stream to
# the peer, the peer a 10,000 frames/s UDP stream to g1 (udp_gap.py), and
# g1 sends a file (BN_XFER_MB, default 16; bench 300) paced to last through
# the swaps over TCP to the peer.
# Asserts: each swap ends with the wire up as its new type on h1 and its
# new end up on h2 (or no end there for shm); iperf3's TCP connection
# never resets (the client ends well and moved data); the file arrives
# with its sha256 and length; no UDP frame doubled and at least
# BN_SWAP_UDP_PCT (default 50) % of them arrive (61-80% on the shared
# machine at load 16-22: userspace OpenVPN and the guests beside iperf3
# drop them where buffers are full). Prints each swap's time and the swap
# gap of the UDP stream (per swap the longest interval between received
# frames, median and worst: on a shared machine mostly the scheduler's).
# BN_SWAP_DEBUG=1 prints h1's switches and tunnel events, BN_SWAP_KEEP=DIR
# keeps the swaps' and gaps' times and h1's log there. Bounded: SWAPS
# swaps, a 60 s limit on each wait. Needs root, /dev/net/tun, openvpn: 77
# otherwise.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root tun
for c in openvpn openssl iperf3; do command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }; done
SWAPS=${BN_SWAPS:-4} XMB=${BN_XFER_MB:-16} RATE=10000
gap=$(dirname "$0")/../net/udp_gap.py
cl_underlay 2
cl_host 1
cl_host 2
for i in 1 2; do
    wait_for 10 test -s "$CL_BASE/h$i/state/vpn/host.fp" || cl_fail "h$i made no certificate"
done
fp() { sed 's/.*=//' "$CL_BASE/h$1/state/vpn/host.fp"; }
FP1=$(fp 1) FP2=$(fp 2)
# topo TYPE: the whole topology with g1's wire of TYPE (both hosts apply it)
topo() {
    local f=$CL_BASE/topo-$1.yaml
    cat >"$f" <<YAML
version: 1
hosts:
  h1: {site: a, domain: a}
  h2: {site: b, domain: b}
endpoints:
  h1/g1/vif0: {kind: spike}
  h1/lan: {kind: corm, class: vif, params: {bridge: br${CL_T}a, create: yes}}
  h2/lan: {kind: corm, class: vif, params: {bridge: br${CL_T}s, create: yes}}
wires:
  g1-lan:
YAML
    case $1 in
    shm) printf '    ends: [h1/g1/vif0, h1/lan]\n    type: shm\n' ;;
    vxlan) printf '    ends: [h1/g1/vif0, h2/lan]\n    type: vxlan\n    options: {vni: 69, end0: {addr: 10.88.0.11}, end1: {addr: 10.88.0.12}}\n' ;;
    vpn) printf '    ends: [h1/g1/vif0, h2/lan]\n    type: vpn\n    options: {vni: 69, end0: {addr: 10.88.0.11, fingerprint: "%s"}, end1: {addr: 10.88.0.12, fingerprint: "%s"}}\n' "$FP1" "$FP2" ;;
    esac >>"$f"
    echo "$f"
}
apply() { # apply HOST TYPE
    cl_ctl "$1" apply "$(topo "$2")" >"$CL_BASE/apply$1.out" 2>&1 ||
        cl_fail "apply $2 on h$1: $(cat "$CL_BASE/apply$1.out")"
}
for i in 1 2; do apply $i vxlan; done
cl_peer_ns 2 speer "br${CL_T}s" 10.69.0.2/24 1390
# h1's bridge joined to h2's: the peer is reachable from either
wait_for 10 cl_in 1 ip link show "br${CL_T}a" >/dev/null || cl_fail "h1: no bridge br${CL_T}a"
ip link add "${CL_T}j1" netns "$CL_T-h1" type veth peer name "${CL_T}j2" netns "$CL_T-h2" ||
    cl_fail "cannot create the veth between the bridges"
cl_in 1 ip link set "${CL_T}j1" master "br${CL_T}a" up
cl_in 2 ip link set "${CL_T}j2" master "br${CL_T}s" up
cl_netguest 1 g1 10.69.0.1/24 02:00:00:69:00:01 1450 # vxlan first
G=$CL_T-g1 PEER=$CL_T-speer
is() { cl_ctl "$1" wires g1-lan | grep -Eq "$2 .* up$"; }
# h2's new end is up (its old one, if any, closes 3 s after the swap began:
# a vxlan end cannot tell that its peer has gone; not waited for)
new_up() { cl_ctl 2 wires g1-lan | grep -Eq "$1 .* (up|swapping from [a-z-]+)$"; }
gone() { cl_ctl "$1" wires g1-lan | grep -Eq "shm .* remote$"; } # no end of it there
wait_for 30 is 1 vxlan && wait_for 10 is 2 vxlan || cl_fail "g1-lan not up: $(cl_ctl 1 wires 2>&1)"
wait_for 20 ip netns exec "$G" ping -c 1 -W 1 10.69.0.2 >/dev/null || cl_fail "g1 cannot ping the peer"

ip netns exec "$PEER" iperf3 -s -1 -p 5211 >"$CL_BASE/iperf-s.out" 2>&1 &
cl_pids+=($!)
wait_for 10 sh -c "ip netns exec $PEER ss -Hltn | grep -q :5211" || cl_fail "no iperf3 server"
ip netns exec "$G" timeout 300 iperf3 -c 10.69.0.2 -p 5211 -t 600 -J >"$CL_BASE/iperf.json" 2>&1 &
ipid=$!
cl_pids+=($ipid)
ip netns exec "$G" env GAPS_FILE="$CL_BASE/gaps.txt" python3 "$gap" recv 5301 100000000 5 >"$CL_BASE/udp-r.out" 2>&1 &
rpid=$!
cl_pids+=($rpid)
wait_for 10 grep -q listening "$CL_BASE/udp-r.out" || cl_fail "no UDP receiver"
ip netns exec "$PEER" python3 "$gap" send 10.69.0.1 5301 $RATE 100000000 >"$CL_BASE/udp-s.out" 2>&1 &
spid=$!
cl_pids+=($spid)
# the file, paced to last about as long as the swaps (3 s each)
dd if=/dev/urandom of="$CL_BASE/data" bs=1M count="$XMB" status=none
(CL_XFER_RATE=$((XMB * 1048576 / (SWAPS * 3))) CL_XFER_S=$((SWAPS * 8 + 60)) \
    cl_xfer "$G" "$PEER" 10.69.0.2 "$CL_BASE/data" && echo ok >"$CL_BASE/xfer.ok") &
xpid=$!
cl_pids+=($xpid)
sleep 1
t=() cur=vxlan
for i in $(seq 1 "$SWAPS"); do
    case $((i % 4)) in 1) want=vpn ;; 3) want=shm ;; *) want=vxlan ;; esac
    s0=$(date +%s%N)
    echo $((s0 / 1000000)) >>"$CL_BASE/swaps.txt"
    echo "swap $i: $cur -> $want"
    if [ $want = shm ]; then
        apply 1 shm # h1 switches to its own bridge, then h2 drops its end
        wait_for 60 is 1 shm || cl_fail "swap $i: h1 not up as shm: $(cl_ctl 1 wires g1-lan 2>&1)"
        apply 2 shm
        wait_for 10 gone 2 || cl_fail "swap $i: h2 still has g1-lan: $(cl_ctl 2 wires g1-lan 2>&1)"
    else
        apply 2 $want
        apply 1 $want
        wait_for 60 is 1 $want && wait_for 10 new_up $want ||
            cl_fail "swap $i: not up as $want: h1: $(cl_ctl 1 wires g1-lan 2>&1); h2: $(cl_ctl 2 wires g1-lan 2>&1)"
    fi
    t+=($((($(date +%s%N) - s0) / 1000000)))
    kill -0 "$ipid" 2>/dev/null || cl_fail "swap $i: iperf3 ended: $(tail -5 "$CL_BASE/iperf.json")"
    cur=$want
    sleep 1
done
echo "swap times (ms, the first apply to the wire up on both hosts): ${t[*]}"
wait "$xpid"
[ -f "$CL_BASE/xfer.ok" ] || cl_fail "the $XMB MiB file did not arrive intact across the swaps"
echo "$XMB MiB over TCP across the swaps: sha256 and length match"
kill -INT "$ipid" # iperf3 ends its test on SIGINT and reports
wait "$ipid"
kill -TERM "$spid"
wait "$spid"
wait "$rpid"
sent=$(sed -n 's/^sent=//p' "$CL_BASE/udp-s.out")
res=$(grep received= "$CL_BASE/udp-r.out")
echo "UDP $RATE frames/s across the swaps: sent=$sent $res"
python3 "$gap" swaps "$CL_BASE/swaps.txt" "$CL_BASE/gaps.txt"
[ -n "${BN_SWAP_KEEP:-}" ] && cp "$CL_BASE/gaps.txt" "$CL_BASE/swaps.txt" "$CL_BASE/h1/bananad.log" "$BN_SWAP_KEEP/"
[ -n "${BN_SWAP_DEBUG:-}" ] && grep -E "switched to the new port|tunnel" "$CL_BASE/h1/bananad.log"
rcv=$(sed -nE 's/.*received=([0-9]+).*/\1/p' <<<"$res")
dup=$(sed -nE 's/.*dup=([0-9]+).*/\1/p' <<<"$res")
min=${BN_SWAP_UDP_PCT:-50}
[ -n "$sent" ] && [ -n "$rcv" ] && [ "$rcv" -ge $((sent * min / 100)) ] ||
    cl_fail "fewer than $min% of the UDP frames arrived: sent=$sent $res"
[ "$dup" = 0 ] || cl_fail "UDP frames doubled: $res"
read -r isent err < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d.get("end", {}).get("sum_sent", {}).get("bytes", 0), (d.get("error") or "-").replace(" ", "_"))' "$CL_BASE/iperf.json") ||
    cl_fail "cannot read iperf3's JSON: $(tail -5 "$CL_BASE/iperf.json")"
[ "$err" = - ] || [ "$err" = "interrupt_-_the_client_has_terminated" ] || cl_fail "iperf3: $err"
[ "$isent" -gt 0 ] || cl_fail "iperf3 moved nothing"
echo "iperf3 TCP across $SWAPS swaps: $isent bytes, no reset"
echo "ok: $SWAPS swaps shm <-> vxlan <-> vpn under iperf3, a UDP stream and a $XMB MiB transfer: no reset, sha256 matches, $rcv of $sent UDP frames"
