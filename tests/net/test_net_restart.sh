#!/bin/bash
# test_net_restart.sh: bananad stops under a loaded vif and starts again;
# the guests' network carries on. vm1 and vm2 ping each other every 2 ms
# (both rings of both vifs busy) while bananad is killed (SIGKILL, a crash)
# five times and stopped for a restart (SIGUSR2) once, each time started
# again at once. After each start: no vif was closed (no fatal error: a
# crash between writing answers and publishing them would otherwise leave
# answers where the new bananad reads requests), each vif was taken back
# from its ring journal, and both guests ping each other again.
# usage: test_net_restart.sh XENSIM BANANAD BANANACTL SIM_NETGUEST
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
nl_start
nl_topology vm1 vm2
nl_guest vm1 1
nl_guest vm2 2
nl_in vm1 ping -c 2 -i 0.2 -W 5 10.77.0.2 >/dev/null || nl_fail "no ping before the restarts"
echo "ok: vm1 pings vm2"
nl_bg vm1 ping -q -i 0.002 -W 1 10.77.0.2 >"$base/load1.out" 2>&1
nl_pids+=($!)
nl_bg vm2 ping -q -i 0.002 -W 1 10.77.0.1 >"$base/load2.out" 2>&1
nl_pids+=($!)
n=0
for how in KILL KILL KILL KILL KILL USR2; do
    n=$((n + 1))
    sleep 0.$((RANDOM % 9 + 1))
    kill -$how "$BPID"
    wait "$BPID" 2>/dev/null
    rc=$?
    [ $how = USR2 ] && [ $rc != 0 ] && nl_fail "bananad exited $rc on SIGUSR2"
    [ $how = KILL ] && rm -f "$base/ctl.sock"
    mv "$base/bananad.log" "$base/bananad.$n.txt"
    "$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$dir" \
        --state-dir "$base/state" --control "$base/ctl.sock" --log-level ${NL_LOG:-info} \
        >>"$base/bananad.out" 2>"$base/bananad.log" &
    BPID=$!
    nl_pids+=($BPID)
    nl_wait 15 test -S "$base/ctl.sock" || nl_fail "bananad did not start again ($n)"
    for vm in vm1 vm2; do
        nl_wait 15 grep -q "hostA/$vm/vif0: queue 0: taken back from the ring journal" "$base/bananad.log" ||
            nl_fail "restart $n (SIG$how): $vm's vif not taken back from its journal"
        nl_wait 15 bash -c "'$BANANACTL' wires $vm-net | grep -qw up" ||
            nl_fail "restart $n (SIG$how): wire $vm-net not up: $("$BANANACTL" wires 2>&1)"
    done
    nl_wait 20 nl_in vm1 ping -c 1 -W 1 10.77.0.2 >/dev/null ||
        nl_fail "restart $n (SIG$how): vm1 cannot ping vm2"
    nl_wait 20 nl_in vm2 ping -c 1 -W 1 10.77.0.1 >/dev/null ||
        nl_fail "restart $n (SIG$how): vm2 cannot ping vm1"
    if grep -E "vif0: (fatal|.*bad request)" "$base/bananad.log"; then
        nl_fail "restart $n (SIG$how): a vif was closed"
    fi
    echo "ok: restart $n (SIG$how): $(grep -h "taken back from the ring journal" "$base/bananad.log" | sed 's/.*hostA/hostA/' | paste -sd';')"
done
for vm in vm1 vm2; do
    kill -0 "${GPID[$vm]}" 2>/dev/null || nl_fail "guest $vm died"
done
kill -0 "$BPID" || nl_fail "bananad died"
exit 0
