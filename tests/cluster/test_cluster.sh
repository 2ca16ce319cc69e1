#!/bin/bash
# tests/cluster/test_cluster.sh [--tls]: the test cluster itself (cluster.sh):
# three hosts on one underlay, each with its own xensim and bananad, and a
# real etcd; every host reaches the others and etcd over the underlay, a key
# written from one host is read from another (with --tls: only with the
# client certificate), and the tear-down leaves no process, namespace or file.
# Usage: test_cluster.sh BUILD_DIR [--tls]
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root

cl_underlay 3
tls=""
[ "${2:-}" = --tls ] && tls=--tls
cl_etcd $tls
for i in 1 2 3; do cl_host "$i"; done

for i in 1 2 3; do
    cl_ctl "$i" status >"$CL_BASE/status$i.out" 2>&1 || cl_fail "h$i: bananactl status failed"
    grep -q "h$i" "$CL_BASE/status$i.out" || cl_fail "h$i: status does not name host h$i: $(cat "$CL_BASE/status$i.out")"
    for j in 1 2 3; do
        [ "$i" = "$j" ] && continue
        cl_in "$i" ping -c 1 -W 2 "10.88.0.$((10 + j))" >/dev/null || cl_fail "h$i cannot reach h$j on the underlay"
    done
done
# etcd from the hosts' namespaces: h1 writes, h3 reads.
scheme=${CL_ETCD%%:*}
curl_tls=()
[ -n "$tls" ] && curl_tls=(--cacert "$CL_BASE/pki/ca.crt" --cert "$CL_BASE/pki/client.crt" --key "$CL_BASE/pki/client.key")
# the v3 JSON gateway (keys and values base64): put banana/test = from-h1
cl_in 1 curl -sSf -m 5 "${curl_tls[@]}" -X POST "$CL_ETCD/v3/kv/put" \
    -d "{\"key\":\"$(printf banana/test | base64)\",\"value\":\"$(printf from-h1 | base64)\"}" >/dev/null ||
    cl_fail "h1 could not write to etcd at $CL_ETCD"
got=$(cl_in 3 curl -sf -m 5 "${curl_tls[@]}" -X POST "$CL_ETCD/v3/kv/range" -d "{\"key\":\"$(printf banana/test | base64)\"}" |
    python3 -c 'import base64,json,sys; print(base64.b64decode(json.load(sys.stdin)["kvs"][0]["value"]).decode())') ||
    cl_fail "h3 could not read from etcd"
[ "$got" = from-h1 ] || cl_fail "h3 read '$got' from etcd, not 'from-h1'"
[ "$(cl_etcdctl get --print-value-only banana/test)" = from-h1 ] || cl_fail "etcdctl does not see the key"
if [ -n "$tls" ]; then
    [ "$scheme" = https ] || cl_fail "--tls but etcd's URL is $CL_ETCD"
    cl_in 2 curl -s -m 5 --cacert "$CL_BASE/pki/ca.crt" -X POST "$CL_ETCD/v3/kv/range" \
        -d "{\"key\":\"$(printf banana/test | base64)\"}" 2>/dev/null | grep -q kvs &&
        cl_fail "etcd answered a client without a certificate"
fi

# Tear-down, checked from outside: no process, namespace or file left.
pids=("${cl_pids[@]}")
for i in 1 2 3; do pids+=("$(cat "$CL_BASE/h$i/xensim.pid")"); done
base=$CL_BASE tag=$CL_T
(cl_cleanup) || exit 1
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && { echo "FAIL: process $p still runs after the tear-down"; exit 1; }; done
pgrep -f "$base/" >/dev/null && { echo "FAIL: processes of $base left: $(pgrep -af "$base/")"; exit 1; }
ip netns list | grep -q "^$tag-" && { echo "FAIL: namespaces left: $(ip netns list | grep "^$tag-")"; exit 1; }
[ -e "$base" ] && { echo "FAIL: $base left behind"; exit 1; }
trap - EXIT
echo "PASS: 3 hosts, etcd${tls:+ with TLS}, tear-down clean"
