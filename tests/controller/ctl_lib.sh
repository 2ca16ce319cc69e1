# tests/controller/ctl_lib.sh: the set-up the controller's shell tests share
# (test_ctl.sh, test_hostile.sh), sourced after tests/lib.sh.
#
#   ctl_lib_init PREFIX   a mktemp base /tmp/PREFIX.XXXXXX and in it:
#                         $sim (xensim's folder), $sock (the control
#                         socket), $state (bananad's state directory);
#                         $tag, a name unique to this run
#   cleanup               stops the client ($cpid) and bananad ($bpid) by
#                         PID, then xensim by its pid file; removes $base
#   fail MESSAGE...       says FAIL with bananad's log's end, cleans up,
#                         exits 1
#   ctl ARGS...           bananactl on $sock (each call limited to 20 s)
#   expect RC ARGS...     bananactl, its exit code checked; output in $out
#   start_bananad [ARGS]  bananad on xensim in $base (see below)
# The caller sets MODE, BANANAD, CTL and XENSIM before using them.
bpid= cpid=
ctl_lib_init() {
    base=$(mktemp -d "/tmp/$1.XXXXXX")
    sim=$base/sim sock=$base/control.sock state=$base/state
    tag=$1$$
    tag=${tag//[^a-z0-9]/}
}
cleanup() {
    stop_pid "$cpid"
    stop_pid "$bpid"
    [ -f "$base/xensim.pid" ] && kill "$(cat "$base/xensim.pid")" 2>/dev/null
    for _ in $(seq 50); do [ -d "$sim" ] || break; sleep 0.1; done
    rm -rf "$base"
}
fail() {
    echo "FAIL: $*"
    echo "--- bananad log"; tail -c 3000 "$base"/bananad*.log 2>/dev/null
    cleanup
    exit 1
}
ctl() { timeout 20 "$CTL" --control "$sock" "$@"; }
expect() {
    local want=$1; shift
    out=$(ctl "$@" 2>&1); local rc=$?
    [ $rc -eq "$want" ] || fail "bananactl $* exited $rc, want $want: $out"
}
# start_bananad [ARGS...]: bananad on xensim in $base, host hostA, two
# workers, ARGS added; waits until it answers on $sock (its PID in $bpid)
start_bananad() {
    "$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$sim" \
        --state-dir "$state" --control "$sock" --workers 2 "$@" 2>>"$base/bananad.log" &
    bpid=$!
    wait_for 20 ctl status || fail "bananad did not answer on $sock"
}
