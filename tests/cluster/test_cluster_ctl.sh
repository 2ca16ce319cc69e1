#!/bin/bash
# tests/cluster/test_cluster_ctl.sh BUILD_DIR NHOSTS: NHOSTS bananads sharing
# one etcd (--store): each is a live member (status on any host lists them
# all, with their addresses); a topology applied on h1 that puts Corms and
# wires on the other hosts is realised by those hosts, and every host shows
# the state each host reported (hosts up with their counts, endpoints and
# wires of the others); disconnect from one host removes a wire another
# host holds; a SIGKILLed bananad is shown down with its endpoints within
# its lease time, and restarted it takes its wires back, none doubled; the
# disconnect reaches the other host as the watch's events, moving its
# desired state in memory (no read of the whole store).
B=$1 N=${2:-3}
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root
cl_underlay "$N"
cl_etcd
STORE=etcd://10.88.0.2:2379
TTL=3
for i in $(seq "$N"); do cl_host "$i" --store "$STORE" --address "10.88.0.$((10 + i))" --lease-ttl $TTL; done

members() { # members I: the member names host hI sees, sorted, space-separated
    cl_ctl "$1" --json status 2>/dev/null |
        python3 -c 'import json,sys; print(" ".join(sorted(m["host"] for m in json.load(sys.stdin).get("members", []))))'
}
members_are() { [ "$(members "$1")" = "$2" ]; } # evaluated at each poll
all=$(for i in $(seq "$N"); do printf 'h%s ' "$i"; done)
all=${all% }
for i in $(seq "$N"); do
    wait_for 10 members_are "$i" "$all" || cl_fail "h$i sees members '$(members "$i")', not '$all'"
done
cl_ctl 1 --json status | python3 -c '
import json,sys
m={x["host"]: x for x in json.load(sys.stdin)["members"]}
assert m["h2"]["address"] == "10.88.0.12", m
assert "shm" in m["h2"]["wire_types"], m' || cl_fail "member records lack the address or wire types"

# One file, applied on h1, with Corms and a wire on each other host.
{
    echo "version: 1"
    echo "hosts:"
    for i in $(seq "$N"); do echo "  h$i: {site: test, domain: test}"; done
    echo "endpoints:"
    for i in $(seq 2 "$N"); do
        echo "  h$i/sink1: {kind: corm, class: test}"
        echo "  h$i/sink2: {kind: corm, class: test}"
    done
    echo "wires:"
    for i in $(seq 2 "$N"); do
        echo "  w$i: {ends: [h$i/sink1, h$i/sink2], options: {ring: 524288, path: \"@$CL_T-w$i\"}}"
    done
} >"$CL_BASE/topo.yaml"
cl_ctl 1 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply.out" 2>&1 || cl_fail "apply on h1: $(cat "$CL_BASE/apply.out")"
cat "$CL_BASE/apply.out"
wire_up() { cl_ctl "$1" wires "$2" 2>/dev/null | grep -qw up; }
for i in $(seq 2 "$N"); do
    wait_for 10 wire_up "$i" "w$i" || cl_fail "h$i did not realise wire w$i: $(cl_ctl "$i" wires 2>&1)"
done
# Every host shows the whole cluster: h1 sees each wire and endpoint of the
# others in the state its host reported, and every host up with its counts.
jq_py() { python3 -c "import json,sys; r=json.load(sys.stdin); $1"; }
for i in $(seq 2 "$N"); do
    same_state() { # the state h1 shows for h$i's wire and endpoint is h$i's own
        local a b
        a=$(cl_ctl "$i" --json endpoints "h$i/sink1" | jq_py 'print(r["endpoints"][0]["state"])') &&
            b=$(cl_ctl 1 --json endpoints "h$i/sink1" | jq_py 'print(r["endpoints"][0]["state"])') &&
            [ "$a" = "$b" ] && [ "$a" != unreported ] &&
            cl_ctl 1 --json wires "w$i" | jq_py '
w=r["wires"][0]; assert w["state"] == "up", w
assert [e["host"] for e in w["ends_state"]] == ["h'"$i"'"] * 2, w
assert all(e["state"] == "up" and e["host_state"] == "up" for e in w["ends_state"]), w'
    }
    wait_for 10 same_state || cl_fail "h1 does not show h$i's state: $(cl_ctl 1 --json wires "w$i"; cl_ctl 1 --json endpoints "h$i/sink1")"
done
hosts_are() { # hosts_are I SPEC: host hI's status lists "name:state:endpoints:wires ..."
    [ "$(cl_ctl "$1" --json status | jq_py 'print(" ".join("%s:%s:%d:%d" % (h["host"], h["state"], h["endpoints"], h["wires"]) for h in r["hosts"]))')" = "$2" ]
}
spec="h1:up:0:0"
for i in $(seq 2 "$N"); do spec="$spec h$i:up:2:1"; done
for i in $(seq "$N"); do
    wait_for 10 hosts_are "$i" "$spec" || cl_fail "h$i's status shows hosts '$(cl_ctl "$i" --json status)', want '$spec'"
done
cl_ctl 1 status | grep -E "^h$N +up +10\.88\.0\.$((10 + N)) " || cl_fail "status on h1 lacks the host table: $(cl_ctl 1 status)"
# Every host answers diff against the cluster's state: nothing to do.
for i in $(seq "$N"); do
    out=$(cl_ctl "$i" diff "$CL_BASE/topo.yaml" 2>&1)
    [ "$out" = "no change" ] || cl_fail "diff on h$i: $out"
done

# h$N killed: gone once its lease ends; restarted: a member again, its wire back
last=$N
kill -9 "${CL_BPID[$last]}"
wait "${CL_BPID[$last]}" 2>/dev/null
want=$(for i in $(seq $((N - 1))); do printf 'h%s ' "$i"; done)
want=${want% }
t0=$(date +%s)
# shown DOWN, with its endpoints, within the lease time (and a tick)
down_spec=${spec/h$last:up:/h$last:down:}
wait_for $((TTL + 2)) hosts_are 1 "$down_spec" || cl_fail "h1 does not show h$last down within $((TTL + 2)) s: $(cl_ctl 1 --json status)"
echo "h$last shown down after $(($(date +%s) - t0)) s (lease $TTL s)"
members_are 1 "$want" || cl_fail "h1 still sees '$(members 1)' as members after h$last was killed"
cl_ctl 1 --json endpoints "h$last/sink1" | jq_py '
e=r["endpoints"][0]; assert e["state"] == "host-down" and e["host_state"] == "down" and e["location"] == "h'"$last"'", e' ||
    cl_fail "h1 does not show h$last/sink1 on a down host"
cl_ctl 1 --json status | jq_py '
h=[h for h in r["hosts"] if h["host"] == "h'"$last"'"][0]; assert h["last_seen"] > 0, h' || cl_fail "no last seen time for h$last"
cl_ctl 1 status | grep -E "^h$last +down " || cl_fail "status on h1 does not say h$last is down: $(cl_ctl 1 status)"
cl_bananad "$last" --store "$STORE" --address "10.88.0.$((10 + last))" --lease-ttl $TTL
wait_for 10 members_are 1 "$all" || cl_fail "h$last did not come back as a member"
wait_for 10 hosts_are 1 "$spec" || cl_fail "h1 does not show h$last up with its endpoints again: $(cl_ctl 1 --json status)"
wait_for 10 wire_up "$last" "w$last" || cl_fail "h$last did not take w$last back"
cl_ctl "$last" --json wires >"$CL_BASE/wires.json" 2>&1
n=$(python3 -c 'import json,sys; print(sum(1 for w in json.load(open(sys.argv[1]))["wires"] if w["name"] == sys.argv[2]))' \
    "$CL_BASE/wires.json" "w$last") || cl_fail "wires --json: $(cat "$CL_BASE/wires.json")"
[ "$n" = 1 ] || cl_fail "h$last lists w$last $n times after its restart, want once"
n=$(cl_ctl "$last" --json wires | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["wires"]))')
[ "$n" = $((N - 1)) ] || cl_fail "h$last lists $n wires after its restart, want the $((N - 1)) of the cluster"
# disconnect on h1 of a wire that h$N holds
reads() { grep -c "desired state read whole" "$CL_BASE/h$N/bananad.log"; }
r0=$(reads)
[ "$r0" -ge 1 ] || cl_fail "h$N never read its desired state whole (log: $(tail -3 "$CL_BASE/h$N/bananad.log"))"
cl_ctl 1 disconnect w$N >/dev/null 2>&1 || cl_fail "disconnect w$N on h1 failed"
wait_for 10 sh -c "! BANANA_CONTROL=$CL_BASE/h$N/ctl.sock $BANANACTL wires w$N >/dev/null 2>&1" ||
    cl_fail "h$N still holds w$N after disconnect on h1: $(cl_ctl "$N" wires 2>&1)"
[ "$(reads)" = "$r0" ] || cl_fail "h$N read the whole desired state again for one disconnect ($r0 -> $(reads) reads)"

echo "PASS: $N hosts on one etcd: members, apply on h1 realised on the others, disconnect across hosts (no whole read), a killed host gone and back"
