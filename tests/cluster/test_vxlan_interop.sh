#!/bin/bash
# tests/cluster/test_vxlan_interop.sh BUILD_DIR: banana's vxlan wire
# against Linux's own VXLAN (issue 15 item 1). Host h1 runs xensim and
# bananad with a simulated guest g1 (10.66.0.1) whose vif Spike is wired by
# vxlan (its VNI picked by the controller) to an end on h2 that is not banana at all: on h2 a kernel
# `ip link add ... type vxlan id 4242 dstport 4789` device on a Linux bridge,
# with a network namespace behind it as the peer (10.66.0.2). Pings both
# ways; 32 MiB each way over TCP with sha256 equal at both ends (the
# guest's 64 KiB GSO frames are segmented by the wire before they leave);
# the wire's link reports the MTU (1450) and its counters moved; forged
# datagrams are counted and dropped; a disk cannot be connected over vxlan
# (not ordered, not reliable), and nothing changes.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root tun
ip netns add "${CL_T}vx" && cl_netns+=("${CL_T}vx")
ip -n "${CL_T}vx" link add vxprobe type vxlan id 1 dstport 4789 2>/dev/null ||
    { echo "SKIP: the kernel has no VXLAN"; exit 77; }
cl_underlay 2
cl_host 1

cat >"$CL_BASE/topo.yaml" <<YAML
version: 1
hosts:
  h1: {site: test, domain: test}
  h2: {site: test, domain: test}
endpoints:
  h1/g1/vif0: {kind: spike}
  h1/g7/vif0: {kind: spike}
  h1/g8/vif0: {kind: spike}
  h2/kvx: {kind: corm, class: vif, params: {bridge: kbr}}
  h1/disk: {kind: corm, class: vbd, params: {path: $CL_BASE/disk.img}}
  h1/vm9/xvda: {kind: spike, class: vbd}
wires:
  g1-vx:
    ends: [h1/g1/vif0, h2/kvx]
    type: vxlan
    options:
      end0: {addr: 10.88.0.11}
      end1: {addr: 10.88.0.12}
YAML
truncate -s 16M "$CL_BASE/disk.img"
cl_ctl 1 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply.out" 2>&1 || cl_fail "apply: $(cat "$CL_BASE/apply.out")"

# the VNI, given by none: the controller picked the lowest free one, in the
# same store transaction as the wire (apply again: the same, no change)
vni_of() { cl_ctl 1 --json wires "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wires"][0]["options"].get("vni", "none"))'; }
VNI=$(vni_of g1-vx)
[ "$VNI" = 1 ] || cl_fail "wire g1-vx got VNI '$VNI', want 1 (the lowest free)"
cl_ctl 1 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply2.out" 2>&1 || cl_fail "apply again: $(cat "$CL_BASE/apply2.out")"
grep -qx "no change" "$CL_BASE/apply2.out" || cl_fail "the same file applied again changed something: $(cat "$CL_BASE/apply2.out")"
[ "$(vni_of g1-vx)" = 1 ] || cl_fail "applied again, g1-vx's VNI became $(vni_of g1-vx)"
# a given VNI another wire has is refused, naming it; one left out is picked
# (2), and freed with its wire: the next wire gets 2 again
VX="--wire vxlan -o end0.addr=10.88.0.11 -o end1.addr=10.88.0.12"
if cl_ctl 1 connect h1/g7/vif0 h2/kvx --name g7-vx $VX -o vni=1 >"$CL_BASE/c.out" 2>&1; then
    cl_fail "a second wire with VNI 1 was connected"
fi
grep -q "wire 'g7-vx': VNI 1 is already wire 'g1-vx''s" "$CL_BASE/c.out" || cl_fail "VNI clash: $(cat "$CL_BASE/c.out")"
echo "refused: $(cat "$CL_BASE/c.out")"
sed -e 's/^endpoints:/endpoints:\n  h1\/g6\/vif0: {kind: spike}/' -e 's/^wires:/wires:\n  g6-vx: {ends: [h1\/g6\/vif0, h2\/kvx], type: vxlan, options: {vni: 1, end0: {addr: 10.88.0.11}, end1: {addr: 10.88.0.12}}}/' \
    "$CL_BASE/topo.yaml" >"$CL_BASE/clash.yaml"
if cl_ctl 1 apply "$CL_BASE/clash.yaml" >"$CL_BASE/clash.out" 2>&1; then cl_fail "a topology with VNI 1 twice was applied"; fi
grep -q "clash.yaml:[0-9]*:[0-9]*: wire 'g6-vx': VNI 1 is already wire 'g1-vx''s" "$CL_BASE/clash.out" ||
    cl_fail "VNI clash in a file: $(cat "$CL_BASE/clash.out")"
cl_ctl 1 connect h1/g7/vif0 h2/kvx --name g7-vx $VX >"$CL_BASE/c.out" 2>&1 || cl_fail "connect g7-vx: $(cat "$CL_BASE/c.out")"
[ "$(vni_of g7-vx)" = 2 ] || cl_fail "g7-vx got VNI $(vni_of g7-vx), want 2"
cl_ctl 1 disconnect g7-vx >/dev/null || cl_fail "disconnect g7-vx"
cl_ctl 1 connect h1/g8/vif0 h2/kvx --name g8-vx $VX >"$CL_BASE/c.out" 2>&1 || cl_fail "connect g8-vx: $(cat "$CL_BASE/c.out")"
[ "$(vni_of g8-vx)" = 2 ] || cl_fail "g8-vx got VNI $(vni_of g8-vx), want 2 (freed by g7-vx)"
cl_ctl 1 disconnect g8-vx >/dev/null || cl_fail "disconnect g8-vx"
echo "VNIs picked by the controller: g1-vx 1, g7-vx 2, g8-vx 2 after g7-vx went; clashes refused"

# a disk needs ordered, reliable messages: connect refuses vxlan, naming both
before=$(cl_ctl 1 --json wires | python3 -c 'import json,sys; print(sorted(w["name"] for w in json.load(sys.stdin)["wires"]))')
if cl_ctl 1 connect h1/vm9/xvda h1/disk --wire vxlan -o vni=7 -o end1.addr=10.88.0.12 >"$CL_BASE/c.out" 2>&1; then
    cl_fail "a disk was connected over vxlan: $(cat "$CL_BASE/c.out")"
fi
grep -q "wire type 'vxlan' cannot carry device class 'vbd': it is not ordered, not reliable (vbd needs ordered and reliable messages)" "$CL_BASE/c.out" ||
    cl_fail "connect of a disk over vxlan: $(cat "$CL_BASE/c.out")"
after=$(cl_ctl 1 --json wires | python3 -c 'import json,sys; print(sorted(w["name"] for w in json.load(sys.stdin)["wires"]))')
[ "$before" = "$after" ] || cl_fail "the refused connect changed the wires: $before -> $after"
echo "refused: $(cat "$CL_BASE/c.out")"

# h2: Linux's VXLAN on a bridge, a namespace behind it
H2=$CL_T-h2 PEER=$CL_T-peer
ip -n "$H2" link add vx0 type vxlan id $VNI dstport 4789 local 10.88.0.12 remote 10.88.0.11 dev ul0 ||
    cl_fail "cannot create the kernel vxlan device"
# Between namespaces a veth passes a partial checksum on unfilled (a real
# NIC fills it): the kernel vxlan device would send the inner TCP checksum
# unfilled. Its tx checksumming off (ethtool -K vx0 tx off, through the
# ioctl: no ethtool here), the kernel fills it before encapsulating.
ip netns exec "$H2" python3 -c 'import ctypes, fcntl, socket, struct
v = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))  # ETHTOOL_STXCSUM, off
fcntl.ioctl(socket.socket(), 0x8946, struct.pack("16sP", b"vx0", ctypes.addressof(v)))' ||
    cl_fail "cannot turn tx checksumming off on vx0"
ip -n "$H2" link add kbr type bridge
ip -n "$H2" link set vx0 master kbr up
ip -n "$H2" link set kbr up
cl_peer_ns 2 peer kbr 10.66.0.2/24 1450

# h1: the guest
G=$CL_T-g1 d=$CL_BASE/h1
cl_netguest 1 g1 10.66.0.1/24 02:00:00:66:00:01 1450 # the MTU the wire gives the guest (and its link says below)
wait_for 15 sh -c "BANANA_CONTROL=$d/ctl.sock '$BANANACTL' wires g1-vx | grep -q ' up\$'" ||
    cl_fail "wire g1-vx not up: $(cl_ctl 1 wires 2>&1)"
mtu=$(cl_ctl 1 --json wires g1-vx | python3 -c 'import json,sys; w=json.load(sys.stdin)["wires"][0]; print(w["links"][0]["mtu"], w["links"][0]["caps"]["ordered"])')
[ "$mtu" = "1450 False" ] || cl_fail "the wire's link says mtu/ordered '$mtu', want '1450 False'"

wait_for 20 ip netns exec "$G" ping -c 1 -W 1 10.66.0.2 >/dev/null || cl_fail "g1 cannot ping the kernel vxlan peer"
ip netns exec "$G" ping -c 3 -i 0.2 -W 2 10.66.0.2 >/dev/null || cl_fail "g1 -> peer: pings lost"
ip netns exec "$PEER" ping -c 3 -i 0.2 -W 2 10.66.0.1 >/dev/null || cl_fail "peer -> g1: pings lost"
echo "ping both ways over vxlan VNI $VNI: ok"

dd if=/dev/urandom of="$CL_BASE/data" bs=1M count=32 status=none
why() { cl_ctl 1 --json wires g1-vx; }
xfer() { cl_xfer "$1" "$2" "$3" "$CL_BASE/data" why; }
t0=$(date +%s.%N)
xfer "$G" "$PEER" 10.66.0.2
t1=$(date +%s.%N)
xfer "$PEER" "$G" 10.66.0.1
t2=$(date +%s.%N)
echo "32 MiB guest -> kernel vxlan peer in $(echo "$t1 - $t0" | bc) s, back in $(echo "$t2 - $t1" | bc) s, sha256 equal"
# iperf3 TCP, guest -> kernel vxlan peer, 3 s (a figure, and a check that
# a long GSO stream crosses: more than nothing)
if command -v iperf3 >/dev/null; then
    ip netns exec "$PEER" iperf3 -s -1 -B 10.66.0.2 >"$CL_BASE/iperf_s.out" 2>&1 &
    isrv=$!
    cl_pids+=($isrv)
    wait_for 10 sh -c "ip netns exec $PEER ss -ltn | grep -q ':5201 '" || cl_fail "iperf3 server did not start"
    timeout 30 ip netns exec "$G" iperf3 -c 10.66.0.2 -t 3 -J >"$CL_BASE/iperf.json" 2>&1 ||
        cl_fail "iperf3: $(tail -5 "$CL_BASE/iperf.json")"
    stop_pid "$isrv" 5
    gbps=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$CL_BASE/iperf.json")
    awk -v g="$gbps" 'BEGIN { exit !(g > 0.01) }' || cl_fail "iperf3 guest -> kernel vxlan: $gbps Gbit/s"
    echo "iperf3 TCP guest -> kernel vxlan peer: $gbps Gbit/s"
fi
out=$(cl_ctl 1 --json wires g1-vx)
python3 -c 'import json,sys; w=json.loads(sys.argv[1])["wires"][0]; assert w["msgs_out"] > 20000 and w["msgs_in"] > 20000, w' "$out" ||
    cl_fail "the wire's counters did not move: $out"
echo "the wire: $(python3 -c 'import json,sys; w=json.loads(sys.argv[1])["wires"][0]; print("msgs out %d in %d, drops %s" % (w["msgs_out"], w["msgs_in"], w["drops_by_reason"]))' "$out")"

# Forged and malformed datagrams at h1's port: counted, nothing delivered,
# bananad serves on. With the wire's VNI: bad flags, no room for a frame,
# from a source that is not the peer (the underlay's etcd namespace); with
# another VNI, and shorter than a header: nobody's.
FORGE='import socket, sys
vni, flags, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
h = bytes([flags, 0, 0, 0, vni >> 16 & 255, vni >> 8 & 255, vni & 255, 0])
d = h + bytes(n) if n >= 0 else h[:2]
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(d, ("10.88.0.11", 4789))'
malformed() { cl_ctl 1 --json wires g1-vx | python3 -c 'import json,sys; w=json.load(sys.stdin)["wires"][0]; print(w["drops_by_reason"]["malformed"], w["msgs_in"])'; }
read -r bad0 _ <<<"$(malformed)"
detail() { cl_ctl 1 --json wires g1-vx | python3 -c 'import json,sys; d=json.load(sys.stdin)["wires"][0]["drops_detail"]; print(" ".join("%s=%d" % (k, d.get(k, 0)) for k in ("bad_flags", "short", "not_from_peer", "socket_unknown_vni", "socket_short")))'; }
d0=$(detail)
ip netns exec "$H2" python3 -c "$FORGE" $VNI 12 64 # bad flags
ip netns exec "$H2" python3 -c "$FORGE" $VNI 8 4 # no room for an Ethernet header
ip netns exec "$CL_T-etcd" python3 -c "$FORGE" $VNI 8 64 # not from the peer
ip netns exec "$H2" python3 -c "$FORGE" $((VNI + 1)) 8 64 # another VNI
ip netns exec "$H2" python3 -c "$FORGE" 0 8 -1 # 2 bytes
wait_for 5 sh -c "[ \"\$(BANANA_CONTROL=$d/ctl.sock '$BANANACTL' --json wires g1-vx | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"wires\"][0][\"drops_by_reason\"][\"malformed\"])')\" = $((bad0 + 3)) ]" ||
    cl_fail "forged datagrams: malformed drops $(malformed | cut -d' ' -f1), want $((bad0 + 3))"
# each by its reason (bananactl --json wires: drops_detail), one more each
want=$(python3 -c 'import sys; print(" ".join("%s=%d" % (k, int(v) + 1) for k, v in (x.split("=") for x in sys.argv[1:])))' $d0)
wait_for 5 sh -c "[ \"\$(BANANA_CONTROL=$d/ctl.sock '$BANANACTL' --json wires g1-vx | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"wires\"][0][\"drops_detail\"]; print(\" \".join(\"%s=%d\" % (k, d.get(k, 0)) for k in (\"bad_flags\", \"short\", \"not_from_peer\", \"socket_unknown_vni\", \"socket_short\")))')\" = '$want' ]" ||
    cl_fail "forged datagrams by reason: $(detail), want $want"
echo "forged datagrams by reason: $d0 -> $(detail)"
# (the receive loop counts each datagram once: delivered, or dropped by one
# reason, so the three counted were not delivered)
kill -0 "${CL_BPID[1]}" || cl_fail "bananad died on forged datagrams"
ip netns exec "$G" ping -c 2 -i 0.2 -W 2 10.66.0.2 >/dev/null || cl_fail "no pings after the forged datagrams"
echo "forged datagrams: 3 counted as malformed on the wire, 2 as nobody's; pings go on"
echo "PASS: banana vxlan <-> Linux VXLAN: ping both ways, 32 MiB each way, sha256 equal, forged datagrams counted"
