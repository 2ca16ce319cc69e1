#!/bin/bash
# tests/cluster/test_cluster_race.sh BUILD_DIR: two applies racing from two
# hosts, made deterministic: both were prepared from the same generation of
# the desired state (apply --generation G, G read by diff --json on each
# host), and run at once. Exactly one wins; the other is refused with the
# retry message and changes nothing; etcd (read with etcdctl) holds the
# generation G + 1 and the winner's wire only. Run again without
# --generation, the loser's apply goes in (its file the desired state now),
# and a stale --generation is refused however late it comes.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root
cl_underlay 2
cl_etcd
cl_etcd_hosts 2 --lease-ttl 3

topo() { # topo I: hosts, and two Corms and a wire on host hI
    printf 'version: 1\nhosts:\n  h1: {site: t, domain: t}\n  h2: {site: t, domain: t}\n'
    printf 'endpoints:\n  h%s/a: {kind: corm, class: test}\n  h%s/b: {kind: corm, class: test}\n' "$1" "$1"
    printf 'wires:\n  w%s: {ends: [h%s/a, h%s/b], options: {ring: 524288, path: "@%s-w%s"}}\n' "$1" "$1" "$1" "$CL_T" "$1"
}
topo 1 >"$CL_BASE/t1.yaml"
topo 2 >"$CL_BASE/t2.yaml"
gen() { cl_ctl "$1" --json diff "$CL_BASE/t$1.yaml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])'; }
g1=$(gen 1) && g2=$(gen 2) || cl_fail "diff --json gives no generation"
[ "$g1" = "$g2" ] || cl_fail "the two hosts read generations $g1 and $g2 of one store"
echo "both hosts prepared their apply at generation $g1"

cl_ctl 1 apply --generation "$g1" "$CL_BASE/t1.yaml" >"$CL_BASE/a1.out" 2>&1 &
p1=$!
cl_ctl 2 apply --generation "$g2" "$CL_BASE/t2.yaml" >"$CL_BASE/a2.out" 2>&1 &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
echo "apply on h1: exit $r1: $(head -3 "$CL_BASE/a1.out")"
echo "apply on h2: exit $r2: $(head -3 "$CL_BASE/a2.out")"
if [ $r1 = 0 ] && [ $r2 != 0 ]; then
    win=1 lose=2
elif [ $r2 = 0 ] && [ $r1 != 0 ]; then
    win=2 lose=1
else
    cl_fail "want exactly one apply to win, got exits $r1 (h1) and $r2 (h2)"
fi
want="apply $CL_BASE/t$lose.yaml: the desired state changed while this was being prepared (a change made on another host or by another client): nothing changed, run it again"
grep -qxF "bananactl: $want" "$CL_BASE/a$lose.out" || grep -qxF "$want" "$CL_BASE/a$lose.out" ||
    cl_fail "the loser (h$lose) was not told to retry: $(cat "$CL_BASE/a$lose.out")"

# the store, read with etcdctl: the winner's commit and nothing of the loser's
[ "$(cl_etcdctl get --print-value-only banana/generation)" = $((g1 + 1)) ] ||
    cl_fail "generation in etcd: $(cl_etcdctl get --print-value-only banana/generation), want $((g1 + 1))"
keys=$(cl_etcdctl get --keys-only --prefix banana/wires/ | grep . | tr '\n' ' ')
[ "$keys" = "banana/wires/w$win " ] || cl_fail "wires in etcd after the race: '$keys', want w$win only"
keys=$(cl_etcdctl get --keys-only --prefix banana/endpoints/ | grep . | tr '\n' ' ')
[ "$keys" = "banana/endpoints/h$win/a banana/endpoints/h$win/b " ] ||
    cl_fail "endpoints in etcd after the race: '$keys'"
wire_up() { cl_ctl "$1" wires "$2" 2>/dev/null | grep -qw up; }
wait_for 10 wire_up "$win" "w$win" || cl_fail "h$win did not realise w$win: $(cl_ctl "$win" wires 2>&1)"

# the loser runs it again (reading the desired state anew): its file is now
# the desired state, as a later apply's is (the winner's wire goes)
cl_ctl "$lose" apply "$CL_BASE/t$lose.yaml" >"$CL_BASE/again.out" 2>&1 ||
    cl_fail "the loser's apply again: $(cat "$CL_BASE/again.out")"
[ "$(cl_etcdctl get --print-value-only banana/generation)" = $((g1 + 2)) ] || cl_fail "generation after the retry"
keys=$(cl_etcdctl get --keys-only --prefix banana/wires/ | grep . | tr '\n' ' ')
[ "$keys" = "banana/wires/w$lose " ] || cl_fail "wires in etcd after the retry: '$keys'"
wait_for 10 wire_up "$lose" "w$lose" || cl_fail "h$lose did not realise w$lose: $(cl_ctl "$lose" wires 2>&1)"
# a stale generation is refused however late it comes
cl_ctl 1 apply --generation "$g1" "$CL_BASE/t1.yaml" >"$CL_BASE/stale.out" 2>&1 &&
    cl_fail "apply at a stale generation went in: $(cat "$CL_BASE/stale.out")"
grep -q "run it again" "$CL_BASE/stale.out" || cl_fail "stale apply: $(cat "$CL_BASE/stale.out")"
echo "PASS: two applies racing from two hosts: h$win won, h$lose was told to retry, etcd consistent"
