#!/bin/bash
# tests/cluster/test_store_etcd.sh TEST_BINARY [--tls]: the etcd store backend
# (test_store_etcd.c) run from a host of the test cluster against a real
# etcd, plain or with TLS; then etcd is stopped (by its PID) and opening the
# store must fail in bounded time with a clear error.
bin=$1
XENSIM=/nonexistent BANANAD=/nonexistent BANANACTL=/nonexistent
. "$(dirname "$0")/cluster.sh"
cl_need_root
cl_underlay 1
tls=${2:-}
cl_etcd $tls
# a key outside the store's prefix, which the store must not show
cl_etcdctl put outside/key x >/dev/null || cl_fail "etcdctl put failed"
url=etcd://10.88.0.2:2379
args=()
if [ -n "$tls" ]; then
    url=etcds://10.88.0.2:2379
    args=("$CL_BASE/pki/ca.crt" "$CL_BASE/pki/client.crt" "$CL_BASE/pki/client.key")
fi
# the test compacts etcd with etcdctl (the store has no compaction of its own)
tlsargs=""
[ -n "$tls" ] && tlsargs="--cacert $CL_BASE/pki/ca.crt --cert $CL_BASE/pki/client.crt --key $CL_BASE/pki/client.key"
export BN_TEST_COMPACT="env ETCDCTL_API=3 etcdctl --endpoints $CL_ETCD $tlsargs compact"
cl_in 1 "$bin" "$url" "${args[@]}" >"$CL_BASE/store.log" 2>&1 || { cat "$CL_BASE/store.log"; cl_fail "the store test failed"; }
cat "$CL_BASE/store.log"
[ "$(cl_etcdctl get --print-value-only outside/key)" = x ] || cl_fail "the key outside the prefix changed"
stop_pid "$CL_ETCD_PID" 5
cl_in 1 "$bin" --dead etcd://10.88.0.2:2379 >"$CL_BASE/dead.log" 2>&1 || { cat "$CL_BASE/dead.log"; cl_fail "the dead-etcd test failed"; }
cat "$CL_BASE/dead.log"
echo "PASS: etcd store${tls:+ over TLS}"
