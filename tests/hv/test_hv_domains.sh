#!/bin/bash
# test_hv_domains.sh: simulated domains in xenstore, seen with the real
# xenstore-ls; a killed guest process disappears from /local/domain and
# @releaseDomain fires; xensim on SIGTERM leaves nothing behind (process,
# sockets, its directory, /dev/shm files).
# usage: test_hv_domains.sh XENSIM HV_GUEST
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid, san_reports
XENSIM=$1 HV_GUEST=$2
for t in xenstore-ls xenstore-watch; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
base=$(mktemp -d /tmp/hvdom.XXXXXX)
dir=$base/sim
pids=()
fail() {
    echo "FAIL: $*"
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -f "$base/pid" ] && kill -9 "$(cat "$base/pid")" 2>/dev/null
    cat "$base"/*.log 2>/dev/null
    rm -rf "$base"
    exit 1
}

shm_before=$(ls /dev/shm | sort)
"$XENSIM" --dir "$dir" --pidfile "$base/pid" 2>"$base/xensim.log" || fail "xensim did not start"
xpid=$(cat "$base/pid")
export XENSIM_DIR=$dir XENSTORED_PATH=$dir/xenstored.sock

"$HV_GUEST" alpha 32 >"$base/g1.out" 2>"$base/g1.log" & pids+=($!); g1=$!
"$HV_GUEST" beta 32 >"$base/g2.out" 2>"$base/g2.log" & pids+=($!); g2=$!
wait_for 10 test -s "$base/g1.out" || fail "guest alpha did not start"
wait_for 10 test -s "$base/g2.out" || fail "guest beta did not start"
d1=$(cat "$base/g1.out") d2=$(cat "$base/g2.out")
[ "$d1" != "$d2" ] || fail "two guests got the same domid $d1"

ls=$(xenstore-ls -s /local/domain) || fail "xenstore-ls failed"
echo "$ls"
echo "$ls" | grep -q "^$d1 = " || fail "dom$d1 not listed"
echo "$ls" | grep -q "^$d2 = " || fail "dom$d2 not listed"
[ "$(xenstore-read /local/domain/$d1/name)" = alpha ] || fail "dom$d1 name"
[ "$(xenstore-read /local/domain/$d2/domid)" = "$d2" ] || fail "dom$d2 domid"

# @releaseDomain: the first event is the registration, the second the release.
xenstore-watch -n 2 @releaseDomain >"$base/watch.out" 2>"$base/watch.log" & wpid=$!; pids+=($wpid)
wait_for 10 test -s "$base/watch.out" || fail "watch did not register"
kill -9 "$g1"; wait "$g1" 2>/dev/null
wait_for 10 bash -c "! xenstore-ls -s /local/domain | grep -q '^$d1 = '" ||
    fail "dom$d1 still in xenstore after its guest was killed"
xenstore-ls -s /local/domain | grep -q "^$d2 = " || fail "dom$d2 vanished too"
wait_for 10 bash -c "! kill -0 $wpid" || fail "@releaseDomain did not fire"
[ "$(grep -c @releaseDomain "$base/watch.out")" -ge 2 ] || fail "watch output: $(cat "$base/watch.out")"
[ -S "$dir/dom$d1.sock" ] && fail "dom$d1.sock left behind"
[ -S "$dir/dom$d2.sock" ] || fail "dom$d2.sock missing"

# SIGTERM with a guest still connected: nothing left behind.
kill -TERM "$xpid"
wait_for 10 bash -c "! kill -0 $xpid" || fail "xensim did not exit on SIGTERM"
[ -e "$dir" ] && fail "xensim left $dir: $(ls -la "$dir")"
[ -e "$base/pid" ] && fail "xensim left its pidfile"
[ "$(ls /dev/shm | sort)" = "$shm_before" ] || fail "/dev/shm changed"
grep -q "exit 0" "$base/xensim.log" || fail "xensim did not exit 0"
kill -9 "$g2" 2>/dev/null; wait "$g2" 2>/dev/null
rm -rf "$base"
echo "PASS"
