#!/bin/bash
# test_net_ping.sh: two sim-netguests (vm1, vm2), each with its TAP in its
# own network namespace, whose vif Spikes are wired (shm) to one bridge Corm
# (a Linux bridge the Corm creates) by bananactl apply: ARP resolves and
# IPv4 and IPv6 ping go through bananad; counters on both guests move.
# vm2 joins a bridge after a flood of frames filled its wire end.
# usage: test_net_ping.sh XENSIM BANANAD BANANACTL SIM_NETGUEST
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
nl_start
nl_topology vm1 vm2 gen
nl_guest vm1 1
# Before vm2 exists, a generator guest floods the bridge with frames for an
# unknown MAC: they fill vm2's wire end (opened by the Corm at apply), which
# must not leave vm2 deaf when it joins.
"$NG" --name gen --mac 02:00:00:77:00:09 --peer-mac 02:00:00:77:00:99 --gen 100:0:30000 \
    --gen-on-usr1 --timeout 20 >"$base/gen.out" 2>"$base/gen.log" &
g=$!
nl_pids+=($g)
nl_wait 20 grep -q connected "$base/gen.out" || nl_fail "generator guest did not connect"
nl_wait 15 bash -c "'$BANANACTL' wires gen-net | grep -qw up" || nl_fail "wire gen-net not up"
kill -USR1 $g
wait $g || nl_fail "generator guest failed: $(tail -2 "$base/gen.out")"
nl_guest vm2 2

nl_in vm1 ping -c 3 -i 0.2 -W 5 10.77.0.2 >"$base/ping4.out" 2>&1 || nl_fail "IPv4 ping vm1 -> vm2: $(cat "$base/ping4.out")"
grep -q " 0% packet loss" "$base/ping4.out" || nl_fail "IPv4 ping lost packets: $(tail -2 "$base/ping4.out")"
nl_in vm1 ip neigh show 10.77.0.2 | grep -q "02:00:00:77:00:02" || nl_fail "vm1 has no ARP entry for vm2"
echo "ok: ARP resolved and IPv4 ping vm1 -> vm2: $(grep -E 'rtt|round-trip' "$base/ping4.out")"

nl_in vm2 ping -6 -c 3 -i 0.2 -W 5 fd77::1 >"$base/ping6.out" 2>&1 || nl_fail "IPv6 ping vm2 -> vm1: $(cat "$base/ping6.out")"
grep -q " 0% packet loss" "$base/ping6.out" || nl_fail "IPv6 ping lost packets"
echo "ok: IPv6 ping vm2 -> vm1"

# the guests' own counters, printed at exit, show traffic both ways
kill "${GPID[vm1]}" "${GPID[vm2]}"
wait "${GPID[vm1]}" "${GPID[vm2]}"
for vm in vm1 vm2; do
    line=$(grep "rx_frames=" "$base/$vm.out")
    rx=$(sed -n 's/.*rx_frames=\([0-9]*\).*/\1/p' <<<"$line")
    [ "${rx:-0}" -ge 6 ] || nl_fail "$vm received too few frames: $line"
done
kill -0 "$BPID" || nl_fail "bananad died"
echo "ok: both guests counted traffic; bananad alive"
exit 0
