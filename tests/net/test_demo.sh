#!/bin/bash
# test_demo.sh: the README's demo (scripts/demo.sh) against this build dir:
#  1. --once: on two hosts sharing etcd, vm1 pings vm2 across a vxlan wire,
#     vm2's wire is swapped shm -> vxlan -> shm under a ping (make before
#     break: at least 97 of its 100 pings answered), vm1 still reaches vm2;
#     the output says so, exit 0;
#  2. without --once: it stays up pinging until Ctrl-C (SIGINT), then stops;
# both times nothing is left behind: no process, netns (the bridges and TAPs
# live in them) or temporary folder of the demo.
# usage: test_demo.sh SOURCE_ROOT BUILD_DIR
set -u
SRC=$1 BUILDDIR=$2
if [ "$(id -u)" != 0 ]; then echo "SKIP: the network demo needs root"; exit 77; fi
ip netns add "bnprobe$$" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del "bnprobe$$"
out=$(mktemp /tmp/bn-demo-test.XXXXXX)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*"; echo "== demo output"; cat "$out"; exit 1; }

# What a demo could leave behind, of that demo only: it names its
# namespaces $CL_T-* (printed as "network namespace cNNN-vm1"), its folder
# /tmp/bn-cluster.* holds its processes' files. Other tests running on the
# machine meanwhile (their own tags) do not count.
snapshot() { # snapshot TAG
    local tag=$1 base
    ip netns list | awk -v t="$tag-" 'index($1, t) == 1 {print "netns " $1}'
    for base in $(sed -nE 's/.*(\/tmp\/bn-cluster\.[A-Za-z0-9]+).*/\1/p' "$out" | sort -u); do
        [ -e "$base" ] && echo "folder $base"
        pgrep -f "$base" | sed 's/^/process /'
    done
}
check_clean() { # check_clean WHEN: nothing of the demo whose output is $out
    local tag new
    tag=$(sed -nE 's/.*network namespace (c[0-9]+)-vm1.*/\1/p' "$out" | head -n 1)
    [ -n "$tag" ] || fail "the demo did not say which namespaces it made"
    new=$(snapshot "$tag")
    [ -z "$new" ] || fail "left behind after $1: $(echo "$new" | tr '\n' ' ')"
}

# 1. --once
BANANA_BUILD=$BUILDDIR BANANA_NO_BUILD=1 timeout 120 "$SRC/scripts/demo.sh" --once >"$out" 2>&1
rc=$?
[ $rc = 0 ] || fail "demo --once exited $rc"
grep -q "3 received, 0% packet loss" "$out" || fail "no successful ping in the output"
grep -q "vm1 reached vm2 through bananad, across the two hosts" "$out" || fail "the demo did not say vm1 reached vm2"
grep -q "vm2's wire was swapped twice" "$out" || fail "the demo did not swap vm2's wire"
# make before break: (nearly) every ping of the 100 sent across the swaps is
# answered (79-81 were when each swap closed the old wire first)
got=$(sed -nE "s/.*vm2 answered ([0-9]+) of the 100 pings.*/\1/p" "$out")
[ -n "$got" ] && [ "$got" -ge 97 ] || fail "only ${got:-?} of 100 pings answered across the swaps"
grep -q "vm1 reached vm2 through bananad after the swaps" "$out" || fail "vm1 did not reach vm2 after the swaps"
mig=$(sed -nE 's/.*vm2 answered ([0-9]+) of the 60.*/\1/p' "$out")
grep -q "vm1 was live-migrated to h2 and its wire is shm now" "$out" && [ "${mig:-0}" -ge 50 ] ||
    fail "the migration: vm2 answered ${mig:-no} of 60 pings across it (want >= 50)"
grep -q "vm1 reached vm2 through bananad after the migration" "$out" || fail "vm1 did not reach vm2 after the migration"
grep -q "nothing left behind" "$out" || fail "the demo did not stop cleanly"
check_clean "--once"
echo "ok: demo --once: vm1 pinged vm2 across two hosts, through two live swaps, and the demo stopped cleanly"

# 2. stays up until Ctrl-C
: >"$out"
set -m # the demo in its own process group, SIGINT not ignored
BANANA_BUILD=$BUILDDIR BANANA_NO_BUILD=1 "$SRC/scripts/demo.sh" >"$out" 2>&1 &
pid=$!
set +m
n=0
# the first ping (3 packets), then at least 2 of the endless one
until [ "$(grep -c "icmp_seq=" "$out")" -ge 5 ]; do
    n=$((n + 1)); [ $n -lt 600 ] || { kill -INT -- -$pid; sleep 5; fail "demo never kept pinging"; }
    kill -0 $pid 2>/dev/null || fail "demo ended by itself"
    sleep 0.1
done
grep -q "press Ctrl-C" "$out" || { kill -INT -- -$pid; sleep 5; fail "the demo did not say how to stop"; }
kill -INT -- -$pid # what Ctrl-C does: the whole foreground group
for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -KILL -- -$pid; fail "demo did not stop on SIGINT"; }
wait $pid
rc=$?
[ $rc = 0 ] || fail "demo exited $rc after Ctrl-C"
grep -q "nothing left behind" "$out" || fail "the demo did not stop cleanly after Ctrl-C"
check_clean "Ctrl-C"
echo "ok: demo stayed up pinging until Ctrl-C and stopped cleanly"
exit 0
