#!/bin/bash
# tests/cluster/test_vxlan_guests.sh BUILD_DIR: two guests on two hosts over
# banana's vxlan wire at both ends (issue 15). h1 and h2 share etcd; one
# apply on h1 wires guest g1 (on h1, 10.68.0.1) by vxlan to h2's bridge
# Corm, where guest g2 (on h2, 10.68.0.2) sits on shm. The wire gives no
# VNI: h1's controller picks one, h2 reads it from the store. The guests
# get the wire's MTU (g1 1450, g2 1500 on shm). Pings both ways, iperf3 TCP
# both ways, 300 MiB each way with sha256 equal (h2's end merging g1's TCP
# segments by software GRO); a frame over the MTU (g1's
# MTU raised by hand) is counted as drop_too_big; after a restart of h1's
# bananad g1's MTU is the wire's again (recomputed, not read back); two
# connects racing from h1 and h2 never store one VNI twice.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root tun
command -v iperf3 >/dev/null || { echo "SKIP: no iperf3"; exit 77; }
cl_underlay 2
cl_etcd
cl_etcd_hosts 2

cat >"$CL_BASE/topo.yaml" <<YAML
version: 1
hosts:
  h1: {site: lab, domain: test}
  h2: {site: lab, domain: test}
endpoints:
  h1/g1/vif0: {kind: spike}
  h1/g7/vif0: {kind: spike}
  h1/g8/vif0: {kind: spike}
  h2/g2/vif0: {kind: spike}
  h2/lan: {kind: corm, class: vif, params: {bridge: br${CL_T}g, create: yes}}
wires:
  g1-lan:
    ends: [h1/g1/vif0, h2/lan]
    type: vxlan
    options: {end0: {addr: 10.88.0.11}, end1: {addr: 10.88.0.12}}
  g2-lan: {ends: [h2/g2/vif0, h2/lan]}
YAML
cl_ctl 1 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply.out" 2>&1 || cl_fail "apply: $(cat "$CL_BASE/apply.out")"
vni_of() { cl_ctl "$1" --json wires "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wires"][0]["options"].get("vni", "none"))'; }
wait_for 10 sh -c "BANANA_CONTROL=$CL_BASE/h2/ctl.sock '$BANANACTL' wires g1-lan >/dev/null 2>&1" || cl_fail "h2 does not know g1-lan"
[ "$(vni_of 1 g1-lan)" = 1 ] && [ "$(vni_of 2 g1-lan)" = 1 ] ||
    cl_fail "g1-lan's VNI: h1 says $(vni_of 1 g1-lan), h2 $(vni_of 2 g1-lan), want 1 on both"

cl_netguest 1 g1 10.68.0.1/24 02:00:00:68:00:01 1450
cl_netguest 2 g2 10.68.0.2/24 02:00:00:68:00:02 1500
G1=$CL_T-g1 G2=$CL_T-g2
for w in g1-lan g2-lan; do
    wait_for 15 sh -c "BANANA_CONTROL=$CL_BASE/h2/ctl.sock '$BANANACTL' wires $w | grep -q ' up\$'" ||
        cl_fail "wire $w not up on h2: $(cl_ctl 2 wires 2>&1)"
done
wait_for 20 ip netns exec "$G1" ping -c 1 -W 1 10.68.0.2 >/dev/null || cl_fail "g1 cannot ping g2"
ip netns exec "$G1" ping -c 3 -i 0.2 -W 2 10.68.0.2 >/dev/null || cl_fail "g1 -> g2: pings lost"
ip netns exec "$G2" ping -c 3 -i 0.2 -W 2 10.68.0.1 >/dev/null || cl_fail "g2 -> g1: pings lost"
echo "ping both ways over vxlan VNI 1 (picked by h1's controller): ok"

why() { cl_ctl 1 --json wires g1-lan; }
ip netns exec "$G2" iperf3 -s -B 10.68.0.2 >"$CL_BASE/iperf_s.out" 2>&1 &
isrv=$!
cl_pids+=($isrv)
wait_for 10 sh -c "ip netns exec $G2 ss -ltn | grep -q ':5201 '" || cl_fail "iperf3 server did not start"
for dir in "" -R; do
    timeout 30 ip netns exec "$G1" iperf3 -c 10.68.0.2 -t 3 $dir -J >"$CL_BASE/iperf.json" 2>&1 ||
        cl_fail "iperf3 $dir: $(tail -5 "$CL_BASE/iperf.json"); $(why)"
    gbps=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$CL_BASE/iperf.json")
    awk -v g="$gbps" 'BEGIN { exit !(g > 0.01) }' || cl_fail "iperf3 $dir: $gbps Gbit/s"
    echo "iperf3 TCP ${dir:+(reverse) }$([ -z "$dir" ] && echo g1 '->' g2 || echo g2 '->' g1): $gbps Gbit/s"
done
stop_pid "$isrv" 5

dd if=/dev/urandom of="$CL_BASE/data" bs=1M count=300 status=none
t0=$(date +%s.%N)
cl_xfer "$G1" "$G2" 10.68.0.2 "$CL_BASE/data" why
t1=$(date +%s.%N)
cl_xfer "$G2" "$G1" 10.68.0.1 "$CL_BASE/data" why
t2=$(date +%s.%N)
rm -f "$CL_BASE/data"
echo "300 MiB g1 -> g2 in $(echo "$t1 - $t0" | bc) s, g2 -> g1 in $(echo "$t2 - $t1" | bc) s, sha256 equal"
# h2's end merged g1's TCP segments (software GRO): one frame of many
# datagrams for the bridge, the sha256 above says the bytes stayed right
gro() { cl_ctl "$1" --json wires g1-lan | python3 -c 'import json,sys; d=json.load(sys.stdin)["wires"][0]["drops_detail"]; print(d.get("gro_frames", 0), d.get("gro_segs", 0))'; }
read -r gf gs <<<"$(gro 2)"
[ "$gf" -gt 0 ] && [ "$gs" -ge $((2 * gf)) ] || cl_fail "h2's software GRO merged nothing: gro_frames $gf, gro_segs $gs"
echo "software GRO on h2: $gs datagrams merged into $gf frames"

# a frame over the wire's MTU: counted as drop_too_big, nothing else lost
big() { cl_ctl 1 --json wires g1-lan | python3 -c 'import json,sys; print(json.load(sys.stdin)["wires"][0]["drops_by_reason"]["too_big"])'; }
b0=$(big)
ip -n "$G1" link set eth0 mtu 1500
if ip netns exec "$G1" ping -c 3 -i 0.2 -W 1 -s 1472 -M do 10.68.0.2 >/dev/null 2>&1; then
    cl_fail "1500-byte packets crossed a wire of MTU 1450"
fi
ip -n "$G1" link set eth0 mtu 1450
[ "$(big)" -ge $((b0 + 3)) ] || cl_fail "too-big frames: drop_too_big $(big), want at least $((b0 + 3))"
ip netns exec "$G1" ping -c 2 -i 0.2 -W 2 10.68.0.2 >/dev/null || cl_fail "no pings after the too-big frames"
echo "3 frames over the MTU counted as drop_too_big ($b0 -> $(big))"

# h1's bananad stopped for a restart and started again: g1's vif is taken
# back and its MTU recomputed from the wire (1450, the wire's), not read
# back from the `mtu` key the old bananad wrote as if the toolstack had said
# 1450 (then a wire of a larger MTU would never give more)
grep -q "h1/g1/vif0: the guest's MTU is 1450 (the wire's)" "$CL_BASE/h1/bananad.log" ||
    cl_fail "g1's MTU before the restart: $(grep "guest's MTU" "$CL_BASE/h1/bananad.log")"
kill -USR2 "${CL_BPID[1]}"
wait "${CL_BPID[1]}" 2>/dev/null
mv "$CL_BASE/h1/bananad.log" "$CL_BASE/h1/bananad.1.log"
cl_bananad 1 --store etcd://10.88.0.2:2379 --address 10.88.0.11
wait_for 20 ip netns exec "$G1" ping -c 1 -W 1 10.68.0.2 >/dev/null || cl_fail "g1 cannot ping g2 after h1's restart"
grep -q "h1/g1/vif0: the guest's MTU is 1450 (the wire's)" "$CL_BASE/h1/bananad.log" ||
    cl_fail "g1's MTU after the restart: $(grep "guest's MTU" "$CL_BASE/h1/bananad.log")"
[ "$(ip -n "$G1" link show eth0 | grep -o 'mtu [0-9]*')" = "mtu 1450" ] || cl_fail "g1's eth0 after the restart: $(ip -n "$G1" link show eth0)"
echo "h1's bananad restarted: g1 pings g2, its MTU 1450 recomputed from the wire"

# two hosts connect a wire each at once, neither giving a VNI: one may be
# told to run it again (the store's generation), never the same VNI twice
VX="--wire vxlan -o end0.addr=10.88.0.11 -o end1.addr=10.88.0.12"
race() { # race I WIRE SPIKE: connect on hI, run again when told
    for _ in 1 2 3 4 5; do
        cl_ctl "$1" connect "$3" h2/lan --name "$2" $VX >"$CL_BASE/$2.out" 2>&1 && return 0
        grep -q "run it again" "$CL_BASE/$2.out" || return 1
    done
    return 1
}
race 1 g7-vx h1/g7/vif0 &
r1=$!
race 2 g8-vx h1/g8/vif0 &
r2=$!
wait $r1 || cl_fail "connect g7-vx on h1: $(cat "$CL_BASE/g7-vx.out")"
wait $r2 || cl_fail "connect g8-vx on h2: $(cat "$CL_BASE/g8-vx.out")"
v7=$(vni_of 1 g7-vx) v8=$(vni_of 1 g8-vx)
[ "$v7" != "$v8" ] && [ "$v7" != 1 ] && [ "$v8" != 1 ] || cl_fail "racing connects got VNIs $v7 and $v8 (g1-lan has 1)"
cl_ctl 1 disconnect g7-vx >/dev/null && cl_ctl 1 disconnect g8-vx >/dev/null || cl_fail "disconnect"
echo "racing connects from h1 and h2: VNIs $v7 and $v8"
echo "PASS: guest to guest over banana vxlan: ping, iperf3 both ways, 300 MiB each way, drop_too_big, VNIs"
