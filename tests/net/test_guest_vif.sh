#!/bin/bash
# test_guest_vif.sh: sim-netguest against bananad's vif Spike over xensim.
#  1. a guest reaches Connected (1 queue, split event channels) and its
#     generator frames all go through the TX ring without an error status;
#  2. a guest asking for 4 queues gets 4;
#  3. each hostile front-end (bad grant ref, size past the page, too many
#     slots, producer index far past the consumer) gets its vif closed with
#     the reason in bananad's log, while a well-behaved guest started before
#     keeps sending without an error.
# usage: test_guest_vif.sh XENSIM BANANAD SIM_NETGUEST
set -u
XENSIM=$1 BANANAD=$2 NG=$3
base=$(mktemp -d /tmp/bn-vif.XXXXXX)
dir=$base/sim
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -f "$base/pid" ] && kill "$(cat "$base/pid")" 2>/dev/null
    sleep 0.2
    rm -rf "$base"
}
fail() {
    echo "FAIL: $*"
    for f in "$base"/*.log "$base"/*.out; do [ -f "$f" ] && { echo "== $f"; tail -30 "$f"; }; done
    cleanup
    exit 1
}
wait_for() { # wait_for SECONDS COMMAND...
    local n=$(($1 * 10)); shift
    while ! "$@" >/dev/null 2>&1; do
        n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.1
    done
}

"$XENSIM" --dir "$dir" --pidfile "$base/pid" 2>"$base/xensim.log" || fail "xensim did not start"
export XENSIM_DIR=$dir XENSTORED_PATH=$dir/xenstored.sock
"$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$dir" \
    --state-dir "$base/state" --control "$base/ctl.sock" --log-level info \
    >"$base/bananad.out" 2>"$base/bananad.log" & bpid=$!; pids+=($bpid)
wait_for 10 test -S "$base/ctl.sock" || fail "bananad did not start"

# 1. handshake and TX through the ring
"$NG" --name alpha --gen 1000:0:3000 --timeout 20 >"$base/alpha.out" 2>"$base/alpha.log" ||
    fail "generator guest alpha failed"
grep -q "connected, 1 queue" "$base/alpha.out" || fail "alpha did not connect"
grep -q "tx_frames=3000 .*tx_errors=0 " "$base/alpha.out" || fail "alpha: $(tail -1 "$base/alpha.out")"
wait_for 10 grep -q "alpha/vif0: connected" "$base/bananad.log" || fail "Spike did not log connect"
echo "ok: alpha connected and sent 3000 frames"

# 2. four queues
"$NG" --name beta --queues 4 --gen 1500:0:1000 --timeout 20 >"$base/beta.out" 2>"$base/beta.log" ||
    fail "guest beta (4 queues) failed"
grep -q "connected, 4 queue" "$base/beta.out" || fail "beta did not get 4 queues"
echo "ok: beta connected with 4 queues"

# 3. hostile front-ends, while gamma keeps sending
"$NG" --name gamma --gen 200:2000:16000 --timeout 25 >"$base/gamma.out" 2>"$base/gamma.log" &
gpid=$!; pids+=($gpid)
wait_for 10 grep -q connected "$base/gamma.out" || fail "gamma did not connect"
i=0
for mode in bad-gref size-past-page bad-slot-count prod-far-ahead; do
    i=$((i + 1))
    "$NG" --name "evil$i" --evil $mode --timeout 10 >"$base/evil$i.out" 2>"$base/evil$i.log" ||
        fail "--evil $mode: vif not closed"
    grep -q "evil$i/vif0.*" "$base/bananad.log" || fail "--evil $mode: nothing in bananad's log"
    echo "ok: --evil $mode closed: $(grep "evil$i/vif0" "$base/bananad.log" | grep -iE 'fatal|error' | head -1)"
done
wait "$gpid" || fail "gamma failed while the hostile guests ran"
grep -q "tx_frames=16000 .*tx_errors=0 " "$base/gamma.out" || fail "gamma: $(tail -1 "$base/gamma.out")"
kill -0 "$bpid" || fail "bananad died"
echo "ok: gamma sent 16000 frames undisturbed; bananad alive"
cleanup
exit 0
