#!/bin/bash
# tests/cluster/test_cluster_faults.sh BUILD_DIR: etcd stopped for 30 s under
# traffic. Two hosts share one etcd; on each, two simulated guests ping each
# other every 0.1 s through that host's shm wires and bridge Corm. While etcd
# is down: the pings go on (at most 1% lost), status answers and says the
# store is out of reach, and an apply is refused with a clear error (nothing
# half done). etcd back: bananad says so, both hosts are members again, and
# the refused apply goes through.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root tun
cl_underlay 2
cl_etcd
STORE=etcd://10.88.0.2:2379
TTL=3
for i in 1 2; do cl_host "$i" --store "$STORE" --lease-ttl $TTL; done

# One file for both hosts: on host hI a bridge Corm and guests aI and bI.
{
    echo "version: 1"
    echo "hosts:"
    for i in 1 2; do echo "  h$i: {site: test, domain: test}"; done
    echo "endpoints:"
    for i in 1 2; do
        echo "  h$i/lan: {kind: corm, class: vif, params: {bridge: br$CL_T$i, create: yes}}"
        echo "  h$i/a$i/vif0: {kind: spike}"
        echo "  h$i/b$i/vif0: {kind: spike}"
    done
    echo "wires:"
    for i in 1 2; do
        echo "  a$i-lan: {ends: [h$i/a$i/vif0, h$i/lan]}"
        echo "  b$i-lan: {ends: [h$i/b$i/vif0, h$i/lan]}"
    done
} >"$CL_BASE/topo.yaml"
cl_ctl 1 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply.out" 2>&1 || cl_fail "apply: $(cat "$CL_BASE/apply.out")"

guest() { # guest HOST NAME N: a sim-netguest of host hHOST in netns $CL_T-NAME, 10.66.HOST.N
    local h=$1 g=$2 n=$3 ns=$CL_T-$2 d=$CL_BASE/h$1
    ip netns add "$ns" || cl_fail "netns $ns"
    cl_netns+=("$ns")
    ip -n "$ns" link set lo up
    XENSIM_DIR=$d/sim XENSTORED_PATH=$d/sim/xenstored.sock \
        "$NG" --name "$g" --netns "$ns" --mac "02:00:00:66:0$h:0$n" --ip "10.66.$h.$n/24" \
        >"$CL_BASE/$g.out" 2>"$CL_BASE/$g.log" &
    cl_pids+=($!)
    wait_for 20 grep -q connected "$CL_BASE/$g.out" || cl_fail "guest $g did not connect"
}
for i in 1 2; do
    guest "$i" "a$i" 1
    guest "$i" "b$i" 2
done
for i in 1 2; do
    wait_for 20 ip netns exec "$CL_T-a$i" ping -c 1 -W 1 "10.66.$i.2" >/dev/null ||
        cl_fail "a$i cannot ping b$i on h$i"
done

# pings every 0.1 s for 40 s on each host, etcd down from 5 s to 35 s
for i in 1 2; do
    ip netns exec "$CL_T-a$i" ping -i 0.1 -w 40 -W 1 "10.66.$i.2" >"$CL_BASE/ping$i.out" 2>&1 &
    cl_pids+=($!)
    eval "PING$i=$!"
done
sleep 5
cl_etcd_stop
t_down=$(date +%s)
sleep 2
out=$(timeout 10 "$BANANACTL" --control "$CL_BASE/h1/ctl.sock" --json status 2>&1) || cl_fail "status with etcd down: $out"
wait_for 10 sh -c "BANANA_CONTROL=$CL_BASE/h1/ctl.sock $BANANACTL --json status | grep -q '\"reachable\":false'" ||
    cl_fail "status does not say the store is out of reach: $out"
sed 's/b1-lan:/c1-lan:/' "$CL_BASE/topo.yaml" >"$CL_BASE/topo2.yaml"
if timeout 20 "$BANANACTL" --control "$CL_BASE/h1/ctl.sock" apply "$CL_BASE/topo2.yaml" >"$CL_BASE/apply2.out" 2>&1; then
    cl_fail "apply with etcd down succeeded: $(cat "$CL_BASE/apply2.out")"
fi
grep -qi "etcd" "$CL_BASE/apply2.out" || cl_fail "the refused apply does not name etcd: $(cat "$CL_BASE/apply2.out")"
echo "refused while etcd is down: $(head -1 "$CL_BASE/apply2.out")"
sleep $((30 - ($(date +%s) - t_down)))
cl_etcd_start
echo "etcd down for $(($(date +%s) - t_down)) s"
for i in 1 2; do
    wait "$(eval echo "\$PING$i")"
    loss=$(sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p' "$CL_BASE/ping$i.out")
    echo "h$i: $(grep 'packet loss' "$CL_BASE/ping$i.out")"
    awk -v l="${loss:-100}" 'BEGIN { exit !(l <= 1) }' || cl_fail "h$i lost ${loss:-all}% of its pings while etcd was down"
done
members() { cl_ctl 1 --json status 2>/dev/null | python3 -c 'import json,sys; print(" ".join(sorted(m["host"] for m in json.load(sys.stdin).get("members", []))))'; }
wait_for 15 sh -c "[ \"\$(BANANA_CONTROL=$CL_BASE/h1/ctl.sock $BANANACTL --json status | python3 -c 'import json,sys; print(\" \".join(sorted(m[\"host\"] for m in json.load(sys.stdin).get(\"members\", []))))')\" = 'h1 h2' ]" ||
    cl_fail "the hosts are not both members again: '$(members)'"
grep -q "store reachable again" "$CL_BASE/h1/bananad.log" || cl_fail "h1 did not log the store back"
cl_ctl 1 apply "$CL_BASE/topo2.yaml" >"$CL_BASE/apply3.out" 2>&1 || cl_fail "apply after etcd came back: $(cat "$CL_BASE/apply3.out")"
cl_ctl 1 wires c1-lan >/dev/null 2>&1 || cl_fail "the wire applied after etcd came back is not there"
echo "PASS: etcd down 30 s: pings kept, status answered, apply refused then applied"
