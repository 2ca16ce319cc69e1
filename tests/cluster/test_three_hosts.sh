#!/bin/bash
# tests/cluster/test_three_hosts.sh BUILD_DIR: one `bananactl apply` of a
# three-host topology whose wire types the policy picks (issue 15 items 3
# and 4). Hosts h1, h2 (bananad --site paris --domain acme) and h3 (the
# topology: site berlin, domain partner) share an etcd. Guests: a1 on h1,
# b1 on h2, c1 on h3, each wired to h2's bridge Corm by a wire that names no
# type: b1's is shm (same host), a1's vxlan (same site), c1's vpn (another
# domain; its addresses and certificate fingerprints come from the hosts'
# member records). `bananactl wires` says each type and why; the same file
# applied on h3 changes nothing; every guest pings every other (the matrix,
# both ways).
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root tun openvpn openssl
cl_underlay 3
cl_etcd
STORE=etcd://10.88.0.2:2379
cl_host 1 --store "$STORE" --address 10.88.0.11 --site paris --domain acme
cl_host 2 --store "$STORE" --address 10.88.0.12 --site paris --domain acme
cl_host 3 --store "$STORE" --address 10.88.0.13
members() { cl_ctl 1 --json status | python3 -c 'import json,sys; print(" ".join(sorted(m["host"] for m in json.load(sys.stdin).get("members", []))))'; }
members_3() { [ "$(members)" = "h1 h2 h3" ]; }
wait_for 15 members_3 || cl_fail "h1 sees members '$(members)', not 'h1 h2 h3'"

cat >"$CL_BASE/topo.yaml" <<YAML
version: 1
hosts:
  h1:                                 # site and domain: its bananad's
  h2:
  h3: {site: berlin, domain: partner}
endpoints:
  h1/a1/vif0: {kind: spike}
  h2/b1/vif0: {kind: spike}
  h3/c1/vif0: {kind: spike}
  h2/lan: {kind: corm, class: vif, params: {bridge: br${CL_T}3, create: yes}}
wires:
  a1-net:
    ends: [h1/a1/vif0, h2/lan]
    options: {vni: 301, end0: {addr: 10.88.0.11}, end1: {addr: 10.88.0.12}}
  b1-net:
    ends: [h2/b1/vif0, h2/lan]
  c1-net:
    ends: [h3/c1/vif0, h2/lan]
    options: {vni: 303}
YAML
cl_ctl 1 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply.out" 2>&1 || cl_fail "apply: $(cat "$CL_BASE/apply.out")"

# the types the policy picked, and why
want() { # want WIRE TYPE WHY
    local got
    got=$(cl_ctl 1 --json wires "$1" | python3 -c 'import json,sys; w=json.load(sys.stdin)["wires"][0]; print(w["type"], w["policy"], w["why"])')
    [ "$got" = "$2 True $3" ] || cl_fail "wire $1: '$got', want '$2 True $3'"
}
want b1-net shm "policy: both ends are on host h2"
want a1-net vxlan "policy: hosts h1 and h2 are on the same site (paris)"
want c1-net vpn "policy: hosts h3 and h2 are in different domains (partner, acme)"
cl_ctl 1 wires >"$CL_BASE/wires.out" || cl_fail "wires: $(cat "$CL_BASE/wires.out")"
grep -q "why: policy: hosts h3 and h2 are in different domains (partner, acme)" "$CL_BASE/wires.out" ||
    cl_fail "bananactl wires does not say why c1-net is vpn: $(cat "$CL_BASE/wires.out")"
cat "$CL_BASE/wires.out"
# the same file again, on another host: the policy picks the same, nothing changes
cl_ctl 3 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply3.out" 2>&1 || cl_fail "apply on h3: $(cat "$CL_BASE/apply3.out")"
grep -qx "no change" "$CL_BASE/apply3.out" || cl_fail "the same file applied on h3 changed something: $(cat "$CL_BASE/apply3.out")"

cl_netguest 1 a1 10.69.0.1/24 02:00:00:69:00:01 1450 # vxlan
cl_netguest 2 b1 10.69.0.2/24 02:00:00:69:00:02 1500 # shm
cl_netguest 3 c1 10.69.0.3/24 02:00:00:69:00:03 1390 # vpn
up() { BANANA_CONTROL=$CL_BASE/h$1/ctl.sock "$BANANACTL" wires "$2" | grep -q ' up$'; }
wait_for 30 up 3 c1-net || cl_fail "c1-net not up on h3: $(cl_ctl 3 wires c1-net 2>&1)"
wait_for 10 up 1 a1-net || cl_fail "a1-net not up on h1: $(cl_ctl 1 wires a1-net 2>&1)"
wait_for 10 up 2 b1-net || cl_fail "b1-net not up on h2: $(cl_ctl 2 wires b1-net 2>&1)"

# the ping matrix: each guest to each other one
declare -A IP=([a1]=10.69.0.1 [b1]=10.69.0.2 [c1]=10.69.0.3)
for from in a1 b1 c1; do
    for to in a1 b1 c1; do
        [ $from = $to ] && continue
        wait_for 20 ip netns exec "$CL_T-$from" ping -c 1 -W 1 "${IP[$to]}" >/dev/null ||
            cl_fail "$from cannot ping $to: $(cl_ctl 2 wires 2>&1)"
        ip netns exec "$CL_T-$from" ping -c 2 -i 0.2 -W 2 "${IP[$to]}" >/dev/null || cl_fail "$from -> $to: pings lost"
    done
done
echo "PASS: one apply on three hosts, shm, vxlan and vpn chosen by the policy, every guest pings every other"
