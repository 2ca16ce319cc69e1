#!/bin/bash
# test_xenbus.sh: the xenbus handshake of the "test" device class between
# sim-testfront (a simulated guest) and bananad, on a private xensim.
#   test_xenbus.sh SCENARIO XENSIM BANANAD SIM_TESTFRONT
# SCENARIO: handshake | die | reconnect | hostile
# Each run starts its own xensim and bananad in a mktemp dir and stops them
# by PID; it fails (exit 1) with the reason, and leaves nothing behind.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid, san_reports
scenario=$1 XENSIM=$2 BANANAD=$3 TF=$4

T=$(mktemp -d /tmp/fwxb.XXXXXX)
SIM=$T/sim
BPID= XPID=
declare -a GUESTS=()

fail() { echo "FAIL ($scenario): $*"; echo "--- bananad log:"; cat "$T/bananad.log" 2>/dev/null; exit 1; }

cleanup() {
        for g in "${GUESTS[@]}"; do kill -TERM "$g" 2>/dev/null; done
        for g in "${GUESTS[@]}"; do stop_pid "$g" 10; done
        stop_pid "$BPID" 10
        stop_pid "$XPID" 10
        rm -rf "$T"
}
trap cleanup EXIT

# wait_log PATTERN [SECONDS]: until bananad's log matches
wait_log() { wait_for "${2:-20}" grep -q -- "$1" "$T/bananad.log"; }
# wait_out FILE PATTERN [SECONDS]
wait_out() { wait_for "${3:-20}" grep -q -- "$2" "$1"; }

"$XENSIM" --dir "$SIM" --pidfile "$T/xensim.pid" -q || fail "xensim did not start"
XPID=$(cat "$T/xensim.pid")
"$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$SIM" \
        --state-dir "$T/state" --control "$T/ctl.sock" --workers 2 >"$T/bananad.log" 2>&1 &
BPID=$!
wait_log "bananad: running" || fail "bananad did not start"

guest() { # guest NAME ARGS... : run sim-testfront in the foreground, output in $T/NAME.out
        local name=$1; shift
        timeout 60 "$TF" --xensim-dir "$SIM" --name "$name" "$@" >"$T/$name.out" 2>&1
        local rc=$?
        sed "s/^/  | /" "$T/$name.out"
        return $rc
}

case $scenario in
handshake)
        guest vm1 --requests 200 || fail "vm1 failed"
        grep -q "back-end is Connected" "$T/vm1.out" || fail "vm1 never saw Connected"
        grep -q "200 echo request(s) answered correctly" "$T/vm1.out" || fail "echo failed"
        grep -q "back-end is Closed" "$T/vm1.out" || fail "back-end did not reach Closed"
        wait_log "hostA/vm1/test0: back-end state InitWait -> Connected" || fail "no Connected in log"
        wait_log "hostA/vm1/test0: back-end state Closing -> Closed" || fail "no Closed in log"
        wait_log "hostA/vm1/test0: test spike stopped after 200 echo" || fail "spike count wrong"
        # bananad stopping closes a connected device the Xen way
        timeout 60 "$TF" --xensim-dir "$SIM" --name vm2 --stay >"$T/vm2.out" 2>&1 &
        VM2=$!
        GUESTS+=("$VM2")
        wait_out "$T/vm2.out" "front-end is Connected" 30 || fail "vm2 did not connect"
        kill -TERM "$BPID"
        wait "$BPID"
        rc=$?
        BPID=
        [ $rc -eq 0 ] || fail "bananad exited $rc on SIGTERM with a connected guest"
        wait_log "hostA/vm2/test0: releasing the device: bananad is stopping" ||
                fail "bananad did not release vm2's device"
        wait_log "hostA/vm2/test0: back-end state Closing -> Closed" || fail "vm2: no Closed"
        wait_out "$T/vm2.out" "back-end left Connected (now Clos" 20 ||
                fail "vm2 did not see its back-end close"
        wait "$VM2"
        GUESTS=()
        grep -q "back-end is Closed" "$T/vm2.out" || fail "vm2 did not close cleanly"
        sed "s/^/  | /" "$T/vm2.out"
        echo "PASS ($scenario)"
        exit 0
        ;;
die)
        n=0
        for stage in added initwait ring initialised connected; do
                n=$((n + 1))
                before=$(grep -c "releasing the device" "$T/bananad.log")
                guest "die$n" --die-at "$stage"
                rc=$?
                [ $rc -eq 3 ] || fail "sim-testfront --die-at $stage exited $rc, not 3"
                # (the endpoint is named dom<id> when the domain was gone before probe)
                released=no
                for _ in $(seq 200); do
                        [ "$(grep -c "releasing the device" "$T/bananad.log")" -gt "$before" ] &&
                                released=yes && break
                        sleep 0.1
                done
                [ $released = yes ] ||
                        fail "bananad did not release the device of a guest that died at $stage"
                kill -0 "$BPID" 2>/dev/null || fail "bananad died"
                guest "next$n" --requests 20 || fail "the guest after one that died at $stage failed"
                grep -q "back-end is Connected" "$T/next$n.out" || fail "next$n not Connected"
        done
        ;;
reconnect)
        guest vm1 --requests 50 --reconnect 2 || fail "vm1 failed"
        [ "$(grep -c "back-end is Connected" "$T/vm1.out")" -eq 3 ] ||
                fail "expected 3 handshakes reaching Connected"
        [ "$(grep -c "50 echo request(s) answered correctly" "$T/vm1.out")" -eq 3 ] ||
                fail "echo after reconnect failed"
        wait_log "front-end restarted: taking it back" || fail "no take-back in the log"
        ;;
hostile)
        timeout 90 "$TF" --xensim-dir "$SIM" --name good --stay --requests 20 >"$T/good.out" 2>&1 &
        GOOD=$!
        GUESTS+=("$GOOD")
        wait_out "$T/good.out" "front-end is Connected" 30 || fail "the good guest did not connect"
        for h in ring-ref event-channel frontend ring-overflow; do
                guest "bad-$h" --hostile "$h" --timeout-ms 15000 || fail "hostile $h: no fatal error"
                grep -Eq 'error/backend/test/[0-9]+/0/error = "[0-9]+ .+"' "$T/bad-$h.out" ||
                        fail "hostile $h: error node not '<errno> <message>'"
                grep -q "back-end is Closing" "$T/bad-$h.out" || fail "hostile $h: no Closing"
        done
        wait_log "fatal: mapping ring ring-ref" || fail "bad ring-ref not reported"
        wait_log "fatal: binding event channel 4000" || fail "bad event channel not reported"
        wait_log "fatal: frontend path" || fail "bad frontend path not reported"
        wait_log "fatal: ring producer index .* is impossible" || fail "ring overflow not reported"
        kill -0 "$GOOD" 2>/dev/null || fail "the good guest exited early: $(cat "$T/good.out")"
        kill -TERM "$GOOD"
        wait "$GOOD"
        rc=$?
        GUESTS=()
        sed "s/^/  | /" "$T/good.out"
        [ $rc -eq 0 ] || fail "the good guest lost its connection or did not close cleanly ($rc)"
        grep -q "back-end is Closed" "$T/good.out" || fail "good guest: no Closed"
        ;;
remove)
        # The toolstack takes devices away: online=0 (detach), then removing
        # the back-end directory. xenstore-utils talk to xensim as Dom0.
        command -v xenstore-write >/dev/null || { echo "SKIP: xenstore-utils missing"; exit 77; }
        export XENSTORED_PATH=$SIM/xenstored.sock
        for vm in va vb; do
                timeout 60 "$TF" --xensim-dir "$SIM" --name $vm --stay --timeout-ms 3000 \
                        >"$T/$vm.out" 2>&1 &
                GUESTS+=("$!")
                wait_out "$T/$vm.out" "front-end is Connected" 30 || fail "$vm did not connect"
        done
        da=$(sed -n 's/.*guest va (domid \([0-9]*\)).*/\1/p' "$T/va.out" | head -1)
        db=$(sed -n 's/.*guest vb (domid \([0-9]*\)).*/\1/p' "$T/vb.out" | head -1)
        xenstore-write -s "/local/domain/0/backend/test/$da/0/online" 0 ||
                fail "xenstore-write failed"
        wait_log "hostA/va/test0: the toolstack set online=0: closing" || fail "online=0 ignored"
        wait_log "hostA/va/test0: releasing the device: the device is offline and the front-end closed" 30 ||
                fail "va's device was not released after online=0 and the front-end closing"
        wait_out "$T/va.out" "back-end is Closed" 20 || fail "va did not see Closed"
        xenstore-rm -s "/local/domain/0/backend/test/$db/0" || fail "xenstore-rm failed"
        wait_log "hostA/vb/test0: releasing the device: the back-end directory was removed" ||
                fail "vb's device was not released after its directory was removed"
        for g in "${GUESTS[@]}"; do wait "$g"; done
        GUESTS=()
        timeout 60 "$TF" --xensim-dir "$SIM" --name vc --requests 5 >"$T/vc.out" 2>&1 ||
                fail "a new guest after the removals failed: $(cat "$T/vc.out")"
        ;;
*)
        fail "unknown scenario"
        ;;
esac

# bananad stops cleanly on SIGTERM
kill -TERM "$BPID"
wait "$BPID"
rc=$?
BPID=
[ $rc -eq 0 ] || fail "bananad exited $rc on SIGTERM"
grep -q "bananad: stopped" "$T/bananad.log" || fail "bananad did not log its stop"
echo "PASS ($scenario)"
exit 0
