#!/bin/bash
# tests/cluster/test_cluster_compact.sh BUILD_DIR: an etcd compaction during
# a watch, with bananads running. h2's bananad is stopped (SIGSTOP) while
# etcd restarts (its watch's connection is cut), a change for h2 is applied
# on h1 and etcd compacts its history past the revision h2's watch saw; h2
# resumed makes its watch again from that revision, is told it was
# compacted, reads everything and realises the change (and keeps what it
# had: no wire doubled).
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root
cl_underlay 2
cl_etcd
cl_etcd_hosts 2 --lease-ttl 30

topo() { # topo WIRES...: two hosts, Corms and the given wires on h2
    printf 'version: 1\nhosts:\n  h1: {site: t, domain: t}\n  h2: {site: t, domain: t}\nendpoints:\n'
    for w in "$@"; do printf '  h2/%s-a: {kind: corm, class: test}\n  h2/%s-b: {kind: corm, class: test}\n' "$w" "$w"; done
    printf 'wires:\n'
    for w in "$@"; do printf '  %s: {ends: [h2/%s-a, h2/%s-b], options: {ring: 524288, path: "@%s-%s"}}\n' "$w" "$w" "$w" "$CL_T" "$w"; done
}
wire_up() { cl_ctl "$1" wires "$2" 2>/dev/null | grep -qw up; }
topo wa >"$CL_BASE/t1.yaml"
cl_ctl 1 apply "$CL_BASE/t1.yaml" >/dev/null || cl_fail "first apply"
wait_for 10 wire_up 2 wa || cl_fail "h2 did not realise wa"

kill -STOP "${CL_BPID[2]}"
cl_etcd_stop
cl_etcd_start
topo wa wb >"$CL_BASE/t2.yaml"
cl_ctl 1 apply "$CL_BASE/t2.yaml" >"$CL_BASE/apply2.out" 2>&1 || cl_fail "second apply: $(cat "$CL_BASE/apply2.out")"
rev=$(cl_etcdctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])') ||
    cl_fail "no revision from etcdctl"
cl_etcdctl compact "$rev" >/dev/null || cl_fail "etcdctl compact $rev"
echo "etcd compacted at revision $rev while h2 was stopped"
kill -CONT "${CL_BPID[2]}"

wait_for 15 wire_up 2 wb || cl_fail "h2 did not realise wb after the compaction: $(cl_ctl 2 wires 2>&1)"
grep -q "watch missed changes" "$CL_BASE/h2/bananad.log" || cl_fail "h2's watch was not told of the compaction"
wire_up 2 wa || cl_fail "h2 lost wa"
n=$(cl_ctl 2 --json wires | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["wires"]))')
[ "$n" = 2 ] || cl_fail "h2 lists $n wires, want 2"
echo "PASS: a compaction during h2's watch: it read everything again and realised the change"
