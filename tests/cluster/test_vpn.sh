#!/bin/bash
# tests/cluster/test_vpn.sh BUILD_DIR: the vpn wire (issue 15 item 2) and a
# vxlan wire beside it, across faults. Hosts h1 and h2 share an etcd; host
# h1 runs simulated guests g1 (10.67.0.1) and g2 (10.67.0.3), whose vif
# Spikes are wired over vpn to h2's bridge Corm, and g3 (10.67.0.4) wired
# over vxlan to the same bridge, with a network namespace behind it
# (10.67.0.2). Each bananad makes its host's certificate on start
# (STATE_DIR/vpn/host.crt) and publishes its fingerprint in its member
# record; g1's wire names no fingerprint and no address (both come from the
# store: h1's openvpn trusts exactly the fingerprint h2 published), g2's
# gives h2's fingerprint itself (an option overrides the store) and shares
# g1's tunnel; a vpn wire to h3, a host of the topology that is not a member
# of the cluster, waits for it and says so; a bad fingerprint is refused.
# bananad starts OpenVPN (dev tun, AES-256-GCM, peer-fingerprint) between
# h1 and h2. Pings both ways and 32 MiB each way over TCP with sha256 equal
# at both ends; the guest's MTU (1390) in the link; then openvpn on h1 is
# killed with SIGKILL: the wire goes down with the reason, frames meanwhile
# are counted as drop_down, it comes back by itself and traffic resumes;
# last, h2's underlay link goes down for 5 s: pings over vpn and over vxlan
# resume after it.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root tun openvpn openssl
cl_underlay 2
cl_etcd
cl_host 1 --store "etcd://${CL_ETCD#http://}" --address 10.88.0.11
cl_host 2 --store "etcd://${CL_ETCD#http://}" --address 10.88.0.12
for i in 1 2; do
    wait_for 10 test -s "$CL_BASE/h$i/state/vpn/host.fp" || cl_fail "h$i made no certificate: $(tail -5 "$CL_BASE/h$i/bananad.log")"
done
fp() { sed 's/.*=//' "$CL_BASE/h$1/state/vpn/host.fp"; }
FP1=$(fp 1) FP2=$(fp 2)
[ "$FP1" != "$FP2" ] || cl_fail "both hosts have the same certificate"
# each member record tells its fingerprint
for i in 1 2; do
    got=$(cl_etcdctl get --print-value-only "banana/members/h$i" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wire_info"]["vpn"]["fingerprint"])')
    [ "$got" = "$(fp $i)" ] || cl_fail "h$i's member record says fingerprint '$got', want $(fp $i)"
done

cat >"$CL_BASE/topo.yaml" <<YAML
version: 1
hosts:
  h1: {site: a, domain: a}
  h2: {site: b, domain: b}
  h3: {site: c, domain: c}
endpoints:
  h1/g1/vif0: {kind: spike}
  h1/g2/vif0: {kind: spike}
  h1/g3/vif0: {kind: spike}
  h1/g9/vif0: {kind: spike}
  h1/lan9: {kind: corm, class: vif, params: {bridge: br${CL_T}9, create: yes}}
  h2/lan: {kind: corm, class: vif, params: {bridge: br${CL_T}v, create: yes}}
  h3/lan: {kind: corm, class: vif, params: {bridge: br0}}
wires:
  g1-vpn:
    ends: [h1/g1/vif0, h2/lan]
    type: vpn
    options: {vni: 77}
  g2-vpn:
    ends: [h1/g2/vif0, h2/lan]
    type: vpn
    options:
      vni: 78
      end1: {addr: 10.88.0.12, fingerprint: "$FP2"}
  g3-vx:
    ends: [h1/g3/vif0, h2/lan]
    type: vxlan
    options: {vni: 79, end0: {addr: 10.88.0.11}, end1: {addr: 10.88.0.12}}
  h3-vpn:
    ends: [h1/lan9, h3/lan]
    type: vpn
    options: {vni: 80, end1: {addr: 10.88.0.13}}
YAML
cl_ctl 1 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply.out" 2>&1 || cl_fail "apply: $(cat "$CL_BASE/apply.out")"

# h3 is in the topology but not a member of the cluster: not trusted
h3wait() { cl_ctl 1 wires h3-vpn 2>&1 | grep -q "waiting for host h3: a vpn wire takes its fingerprint from that host's member record, and h3 is not a member of the cluster"; }
wait_for 10 h3wait || cl_fail "the wire to h3 does not wait for h3: $(cl_ctl 1 wires h3-vpn 2>&1)"
echo "h3-vpn: $(cl_ctl 1 wires h3-vpn | grep -o 'waiting for host h3.*' | head -1)"

# a fingerprint that is none: refused before anything changes, naming it
if cl_ctl 1 connect h1/g9/vif0 h2/lan --name bad --wire vpn -o vni=9 -o end0.addr=10.88.0.11 \
    -o end1.addr=10.88.0.12 -o end1.fingerprint=nothex >"$CL_BASE/c.out" 2>&1; then
    cl_fail "a vpn wire with a bad fingerprint was connected"
fi
grep -q "parameter 'peer.fingerprint': want a SHA-256 fingerprint" "$CL_BASE/c.out" ||
    cl_fail "bad fingerprint: $(cat "$CL_BASE/c.out")"
echo "refused: $(cat "$CL_BASE/c.out")"

# h2: a namespace behind the bridge; h1: the guests, g2's wire through the
# same tunnel as g1's (VNI 78), at the MTU the wire carries (its link says
# so below)
cl_peer_ns 2 vpeer "br${CL_T}v" 10.67.0.2/24 1390
cl_netguest 1 g1 10.67.0.1/24 02:00:00:67:00:01 1390
cl_netguest 1 g2 10.67.0.3/24 02:00:00:67:00:03 1390
cl_netguest 1 g3 10.67.0.4/24 02:00:00:67:00:04 1450 # its wire is vxlan
PEER=$CL_T-vpeer G=$CL_T-g1 G2=$CL_T-g2 G3=$CL_T-g3 d=$CL_BASE/h1
up() { BANANA_CONTROL=$CL_BASE/h$1/ctl.sock "$BANANACTL" wires g1-vpn | grep -q ' up$'; }
wait_for 30 up 1 || cl_fail "wire g1-vpn not up on h1: $(cl_ctl 1 wires 2>&1); $(tail -20 "$CL_BASE"/h1/state/vpn/tun*.log)"
wait_for 10 up 2 || cl_fail "wire g1-vpn not up on h2: $(cl_ctl 2 wires 2>&1)"
mtu=$(cl_ctl 1 --json wires g1-vpn | python3 -c 'import json,sys; w=json.load(sys.stdin)["wires"][0]; print(w["links"][0]["mtu"])')
[ "$mtu" = 1390 ] || cl_fail "the wire's link says mtu '$mtu', want 1390"
grep -qx "peer-fingerprint $FP2" "$CL_BASE"/h1/state/vpn/tun*.conf || cl_fail "h1's openvpn does not trust h2's published fingerprint: $(grep peer-fingerprint "$CL_BASE"/h1/state/vpn/tun*.conf)"
grep -qx "peer-fingerprint $FP1" "$CL_BASE"/h2/state/vpn/tun*.conf || cl_fail "h2's openvpn does not trust h1's published fingerprint"
grep -q "AES-256-GCM" "$CL_BASE"/h1/state/vpn/tun*.log || cl_fail "openvpn's log names no AES-256-GCM"
if grep -q "ovpn-dco missing\|disabling data channel offload" "$CL_BASE"/h1/state/vpn/tun*.log; then
    echo "data-channel offload: not used (the kernel has no ovpn-dco): $(grep -m1 -i "dco" "$CL_BASE"/h1/state/vpn/tun*.log)"
elif grep -q "DCO version" "$CL_BASE"/h1/state/vpn/tun*.log; then
    echo "data-channel offload: used ($(grep -m1 "DCO version" "$CL_BASE"/h1/state/vpn/tun*.log))"
else
    echo "data-channel offload: openvpn's log does not say"
fi

wait_for 20 ip netns exec "$G" ping -c 1 -W 1 10.67.0.2 >/dev/null || cl_fail "g1 cannot ping the peer behind h2's bridge"
ip netns exec "$G" ping -c 3 -i 0.2 -W 2 10.67.0.2 >/dev/null || cl_fail "g1 -> peer: pings lost"
ip netns exec "$PEER" ping -c 3 -i 0.2 -W 2 10.67.0.1 >/dev/null || cl_fail "peer -> g1: pings lost"
wait_for 20 ip netns exec "$G2" ping -c 1 -W 1 10.67.0.2 >/dev/null || cl_fail "g2 cannot ping the peer"
ip netns exec "$PEER" ping -c 3 -i 0.2 -W 2 10.67.0.3 >/dev/null || cl_fail "peer -> g2: pings lost"
n=$(pgrep -P "${CL_BPID[1]}" -x openvpn | wc -l)
[ "$n" = 1 ] || cl_fail "h1 runs $n openvpn processes for two wires to h2, want 1"
echo "ping both ways over vpn (two wires, one tunnel): ok"

dd if=/dev/urandom of="$CL_BASE/data" bs=1M count=32 status=none
why() { cl_ctl 1 --json wires g1-vpn; }
xfer() { cl_xfer "$1" "$2" "$3" "$CL_BASE/data" why; }
t0=$(date +%s.%N)
xfer "$G" "$PEER" 10.67.0.2
t1=$(date +%s.%N)
xfer "$PEER" "$G" 10.67.0.1
t2=$(date +%s.%N)
echo "32 MiB guest -> peer over vpn in $(echo "$t1 - $t0" | bc) s, back in $(echo "$t2 - $t1" | bc) s, sha256 equal"

# openvpn on h1 killed: the wire goes down with the reason, then back up
ovpn=$(pgrep -P "${CL_BPID[1]}" -x openvpn) || cl_fail "no openvpn child of h1's bananad"
kill -KILL "$ovpn"
down() { BANANA_CONTROL=$CL_BASE/h1/ctl.sock "$BANANACTL" wires g1-vpn | grep -q 'down: tunnel down: openvpn'; }
wait_for 10 down || cl_fail "after SIGKILL the wire is not down with the reason: $(cl_ctl 1 wires g1-vpn 2>&1)"
echo "after SIGKILL: $(cl_ctl 1 wires g1-vpn | tail -1)"
ip netns exec "$G" ping -c 2 -i 0.2 -W 1 10.67.0.2 >/dev/null 2>&1 || true # sent while down: counted
wait_for 40 up 1 || cl_fail "the wire did not come back: $(cl_ctl 1 wires g1-vpn 2>&1)"
ovpn2=$(pgrep -P "${CL_BPID[1]}" -x openvpn) || cl_fail "no new openvpn"
[ "$ovpn2" != "$ovpn" ] || cl_fail "openvpn was not restarted"
wait_for 20 ip netns exec "$G" ping -c 1 -W 1 10.67.0.2 >/dev/null || cl_fail "no pings after the tunnel came back"
ip netns exec "$PEER" ping -c 3 -i 0.2 -W 2 10.67.0.1 >/dev/null || cl_fail "peer -> g1 after the restart: pings lost"
dd=$(cl_ctl 1 --json wires g1-vpn | python3 -c 'import json,sys; print(json.load(sys.stdin)["wires"][0]["drops_by_reason"]["down"])')
[ "$dd" -gt 0 ] || cl_fail "nothing counted as drop_down while the tunnel was down"
kill -0 "${CL_BPID[1]}" || cl_fail "h1's bananad died"
echo "restarted openvpn $ovpn -> $ovpn2, $dd frame(s) counted as drop_down, pings again"

# h2's underlay link down for 5 s: the tunnel and the vxlan wire carry
# traffic again after it
wait_for 20 ip netns exec "$G3" ping -c 1 -W 1 10.67.0.2 >/dev/null || cl_fail "g3 cannot ping the peer over vxlan"
ip -n "$CL_T-h2" link set ul0 down
sleep 5
ip -n "$CL_T-h2" link set ul0 up
t0=$(date +%s.%N)
wait_for 30 ip netns exec "$G" ping -c 1 -W 1 10.67.0.2 >/dev/null || cl_fail "no pings over vpn after the underlay cut: $(cl_ctl 1 wires g1-vpn 2>&1)"
t1=$(date +%s.%N)
wait_for 10 ip netns exec "$G3" ping -c 1 -W 1 10.67.0.2 >/dev/null || cl_fail "no pings over vxlan after the underlay cut"
ip netns exec "$PEER" ping -c 3 -i 0.2 -W 2 10.67.0.4 >/dev/null || cl_fail "peer -> g3 after the cut: pings lost"
ip netns exec "$PEER" ping -c 3 -i 0.2 -W 2 10.67.0.1 >/dev/null || cl_fail "peer -> g1 after the cut: pings lost"
echo "underlay of h2 down 5 s: vpn pings again $(echo "$t1 - $t0" | bc) s after it came back, vxlan too"
echo "PASS: vpn wire: fingerprints from the store, ping both ways, 32 MiB each way, sha256 equal, openvpn killed and back, underlay cut"
