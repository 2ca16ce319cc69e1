#!/bin/bash
# test_net_hostile.sh: hostile front-ends on the same bridge Corm as two good
# guests. While vm1 pings vm2 continuously, four hostile guests (bad grant
# ref, a request past its page, too many slots, a producer index far past
# the consumer) each get their vif closed with the reason in bananad's log;
# vm1's ping goes on (at least 90% of 80 answered),
# and afterwards vm1 and vm2 still exchange traffic and bananad is alive.
# usage: test_net_hostile.sh XENSIM BANANAD BANANACTL SIM_NETGUEST
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
nl_start
nl_topology vm1 vm2 evil1 evil2 evil3 evil4
nl_guest vm1 1
nl_guest vm2 2
nl_in vm1 ping -c 1 -W 5 10.77.0.2 >/dev/null || nl_fail "no ping before the hostile guests"

nl_bg vm1 ping -i 0.1 -c 80 -W 2 10.77.0.2 >"$base/ping.out" 2>&1
ppid=$!
nl_pids+=($ppid)
i=0
for mode in bad-gref size-past-page bad-slot-count prod-far-ahead; do
    i=$((i + 1))
    "$NG" --name "evil$i" --evil $mode --timeout 15 >"$base/evil$i.out" 2>"$base/evil$i.log" ||
        nl_fail "--evil $mode: its vif was not closed"
    reason=$(grep "evil$i/vif0" "$base/bananad.log" | grep -iE "fatal|error|bad|past" | head -1)
    [ -n "$reason" ] || nl_fail "--evil $mode: no reason in bananad's log"
    echo "ok: --evil $mode: vif closed: ${reason#*: }"
done
wait $ppid
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$base/ping.out")
[ "${got:-0}" -ge 72 ] || nl_fail "vm1's ping during the attacks: $(grep received "$base/ping.out")"
echo "ok: vm1's ping went on during the attacks: $(grep received "$base/ping.out")"
nl_in vm2 ping -c 3 -i 0.2 -W 5 10.77.0.1 >/dev/null || nl_fail "vm2 cannot ping vm1 after the attacks"
kill -0 "$BPID" || nl_fail "bananad died"
echo "ok: vm1 and vm2 still talk; bananad alive"
exit 0
