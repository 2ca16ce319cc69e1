#!/bin/bash
# tests/cluster/test_store_move.sh BUILD_DIR: moving from one host to many
# and back (bananactl store export / import). A host's embedded store holds
# a topology; its export is imported into a cluster's etcd by a bananad
# started with --store (a bad export and a second import are refused,
# nothing changed); the wire comes back up, diff says no change, and the
# etcd's export equals the first one; imported again into a fresh embedded
# store, the same.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root
cl_underlay 1
cl_etcd
STORE=etcd://10.88.0.2:2379
cl_host 1
cat >"$CL_BASE/topo.yaml" <<YAML
version: 1
hosts:
  h1: {site: test, domain: test}
endpoints:
  h1/sink1: {kind: corm, class: test}
  h1/sink2: {kind: corm, class: test}
wires:
  w1: {ends: [h1/sink1, h1/sink2], options: {ring: 524288, path: "@$CL_T-w1"}}
YAML
cl_ctl 1 apply "$CL_BASE/topo.yaml" >/dev/null || cl_fail "apply on the embedded store"
wire_up() { cl_ctl 1 wires w1 2>/dev/null | grep -qw up; }
wait_for 10 wire_up || cl_fail "w1 not up on the embedded store"
cl_ctl 1 store export >"$CL_BASE/e1.json" || cl_fail "store export: $(cat "$CL_BASE/e1.json")"
grep -q '"wires/w1"' "$CL_BASE/e1.json" || cl_fail "the export has no wires/w1: $(cat "$CL_BASE/e1.json")"

# the same host, now a member of a cluster on etcd
stop_pid "${CL_BPID[1]}" 5
cl_bananad 1 --store "$STORE"
python3 - "$CL_BASE/e1.json" "$CL_BASE/bad.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
e["data"]["endpoints/../../etc"] = "{}"
json.dump(e, open(sys.argv[2], "w"))
PY
rev0=$(cl_ctl 1 --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["revision"])')
cl_ctl 1 store import "$CL_BASE/bad.json" >"$CL_BASE/bad.out" 2>&1 && cl_fail "a bad export was imported"
grep -q "endpoints/../../etc" "$CL_BASE/bad.out" || cl_fail "the refusal does not name the bad key: $(cat "$CL_BASE/bad.out")"
[ -z "$(cl_etcdctl get --prefix --keys-only banana/wires/)" ] || cl_fail "a refused import wrote wires"
cl_ctl 1 store import "$CL_BASE/e1.json" >"$CL_BASE/imp.out" 2>&1 || cl_fail "store import into etcd: $(cat "$CL_BASE/imp.out")"
cat "$CL_BASE/imp.out"
wait_for 10 wire_up || cl_fail "w1 not up after the import into etcd: $(cl_ctl 1 wires 2>&1)"
[ "$(cl_ctl 1 diff "$CL_BASE/topo.yaml")" = "no change" ] || cl_fail "diff after the import: $(cl_ctl 1 diff "$CL_BASE/topo.yaml")"
cl_ctl 1 store import "$CL_BASE/e1.json" >"$CL_BASE/imp2.out" 2>&1 && cl_fail "a second import into a full store went through"
grep -q "already holds" "$CL_BASE/imp2.out" || cl_fail "second import: $(cat "$CL_BASE/imp2.out")"
cl_ctl 1 store export >"$CL_BASE/e2.json" || cl_fail "export from etcd"
same() { python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["data"] != json.load(open(sys.argv[2]))["data"])' "$1" "$2"; }
same "$CL_BASE/e1.json" "$CL_BASE/e2.json" || cl_fail "etcd's export differs from the embedded store's"
[ -n "$(cl_etcdctl get --keys-only banana/wires/w1)" ] || cl_fail "wires/w1 is not in etcd under banana/"
echo "rev before the imports $rev0; etcd holds: $(cl_etcdctl get --prefix --keys-only banana/ | grep -c .) keys"

# and back into a fresh embedded store
stop_pid "${CL_BPID[1]}" 5
cl_bananad 1 --state-dir "$CL_BASE/h1/state2"
cl_ctl 1 store import "$CL_BASE/e2.json" >/dev/null 2>&1 || cl_fail "import back into an embedded store"
wait_for 10 wire_up || cl_fail "w1 not up after the import back"
cl_ctl 1 store export >"$CL_BASE/e3.json" && same "$CL_BASE/e1.json" "$CL_BASE/e3.json" || cl_fail "the round trip changed the state"
echo "PASS: embedded -> etcd -> embedded: the same desired state, w1 up at each step"
