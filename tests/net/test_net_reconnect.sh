#!/bin/bash
# test_net_reconnect.sh: a guest that disconnects and comes back gets traffic
# again. vm1 and vm2 ping; vm2's sim-netguest stops (its front-end closes and
# its domain goes away), the ping fails meanwhile; vm2 starts again (a new
# domain, same VM name, so the same endpoint hostA/vm2/vif0) and the
# controller re-attaches its wire: ping works again, both ways. Before vm2
# first comes the bridge Corm's TAP for its wire has no carrier; while it is
# away the TAP is gone. Then the same
# once more with vm2 killed by SIGKILL (no clean close).
# usage: test_net_reconnect.sh XENSIM BANANAD BANANACTL SIM_NETGUEST
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
nl_start
nl_topology vm1 vm2
nl_guest vm1 1
# vm2 is not there yet: the bridge Corm's TAP for its wire has no carrier,
# so the bridge forwards nothing into it (no stale frames for vm2 later)
tap=$(sed -n 's/.*wire vm2-net end 1: TAP \(bn[0-9a-f]*\) on bridge.*/\1/p' "$base/bananad.log" | tail -1)
[ -n "$tap" ] || nl_fail "no TAP for wire vm2-net before vm2 came: $(grep TAP "$base/bananad.log")"
[ "$(cat /sys/class/net/$tap/carrier 2>&1)" = 0 ] || nl_fail "TAP $tap has carrier before vm2 is there"
echo "ok: before vm2 comes, TAP $tap (its wire's Corm end) has no carrier"
nl_guest vm2 2
[ "$(cat /sys/class/net/$tap/carrier 2>&1)" = 1 ] || nl_fail "TAP $tap has no carrier with vm2 there"
nl_in vm1 ping -c 2 -i 0.2 -W 5 10.77.0.2 >/dev/null || nl_fail "no ping before the reconnect"
echo "ok: vm1 pings vm2"

for how in TERM KILL; do
    kill -$how "${GPID[vm2]}"
    wait "${GPID[vm2]}" 2>/dev/null
    nl_wait 15 bash -c "'$BANANACTL' wires vm2-net | grep -qw waiting" ||
        nl_fail "wire vm2-net not waiting after vm2 left ($how): $("$BANANACTL" wires vm2-net 2>&1)"
    nl_in vm1 ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1 && nl_fail "vm2 answered while gone"
    # the wire is closed at both ends: the Corm's TAP for it is gone
    nl_wait 5 bash -c "! ip link show $tap" || nl_fail "TAP $tap of the waiting wire vm2-net is still there"
    echo "ok: vm2 gone (SIG$how), its wire waits for it, TAP $tap removed"
    nl_guest vm2 2 # same name: same endpoint; waits for its wire to be up
    nl_wait 20 nl_in vm1 ping -c 1 -W 1 10.77.0.2 || nl_fail "vm1 cannot ping vm2 after it came back ($how)"
    nl_in vm2 ping -c 3 -i 0.2 -W 5 10.77.0.1 >"$base/ping.out" 2>&1 || nl_fail "vm2 -> vm1 after reconnect: $(cat "$base/ping.out")"
    echo "ok: vm2 came back after SIG$how and traffic flows both ways"
done
kill -0 "$BPID" || nl_fail "bananad died"
exit 0
