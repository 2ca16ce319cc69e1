#!/bin/bash
# tests/cluster/test_cluster_unreachable.sh BUILD_DIR: etcd unreachable, not
# stopped: a blackhole route in etcd's namespace drops everything it would
# send to h1, so h1's connections hang instead of being refused. h1's
# bananad keeps answering status within 1 s all along (it answers from what
# its cluster thread last read; the main loop never waits for etcd), says
# the store is unreachable, and its wire is never touched; once the route goes the
# store is reachable again and h1's lease and records are back.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root
cl_underlay 2
cl_etcd
cl_etcd_hosts 2 --lease-ttl 5
printf 'version: 1\nhosts:\n  h1: {site: t, domain: t}\n  h2: {site: t, domain: t}\nendpoints:\n  h1/a: {kind: corm, class: test}\n  h1/b: {kind: corm, class: test}\nwires:\n  w1: {ends: [h1/a, h1/b], options: {ring: 524288, path: "@%s-w1"}}\n' \
    "$CL_T" >"$CL_BASE/t.yaml"
cl_ctl 1 apply "$CL_BASE/t.yaml" >/dev/null || cl_fail "apply"
wire_up() { cl_ctl 1 wires w1 2>/dev/null | grep -qw up; }
wait_for 10 wire_up || cl_fail "h1 did not realise w1"
reachable() { [ "$(cl_ctl 1 --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["reachable"])')" = "$1" ]; }
wait_for 5 reachable True || cl_fail "h1 does not see the store reachable"

attached() { grep -c "wire w1 (shm, end [01]) attached" "$CL_BASE/h1/bananad.log"; }
before=$(attached)
ip -n "$CL_T-etcd" route add blackhole 10.88.0.11/32 || cl_fail "cannot add the blackhole route"
worst=0 n=0
t_end=$(($(date +%s) + 12))
while [ "$(date +%s)" -lt $t_end ]; do # bounded: 12 s of status calls
    t0=$(date +%s%N)
    timeout 5 env BANANA_CONTROL="$CL_BASE/h1/ctl.sock" "$BANANACTL" --json status >"$CL_BASE/st.json" 2>&1 ||
        cl_fail "status on h1 failed while etcd was unreachable: $(cat "$CL_BASE/st.json")"
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ $ms -gt $worst ] && worst=$ms
    n=$((n + 1))
    sleep 0.2
done
echo "status on h1 with etcd unreachable: $n calls, slowest $worst ms"
[ $worst -lt 1000 ] || cl_fail "status took $worst ms while etcd was unreachable (want < 1000)"
reachable False || cl_fail "h1's status does not say the store is unreachable: $(cat "$CL_BASE/st.json")"
grep -q "store out of reach" "$CL_BASE/h1/bananad.log" || cl_fail "h1 did not log that the store is out of reach"
ip -n "$CL_T-etcd" route del blackhole 10.88.0.11/32
wait_for 15 reachable True || cl_fail "h1 does not see the store again"
# the wire stayed as it was all along: up, its ends never opened again
wire_up || cl_fail "w1 is not up on h1 after etcd was unreachable"
[ "$(attached)" = "$before" ] || cl_fail "w1's ends were opened again while etcd was unreachable"
grep -q "store reachable again" "$CL_BASE/h1/bananad.log" || cl_fail "h1 did not log the store back"
up1() { cl_ctl 2 --json status | python3 -c 'import json,sys; h={x["host"]: x["state"] for x in json.load(sys.stdin)["hosts"]}; sys.exit(h.get("h1") != "up")'; }
wait_for 10 up1 || cl_fail "h2 does not see h1 up again: $(cl_ctl 2 --json status)"
echo "PASS: etcd unreachable from h1: status answered within $worst ms, the wire stayed up, h1 back after"
