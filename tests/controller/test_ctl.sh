#!/bin/bash
# test_ctl.sh: bananad + bananactl end to end on xensim (suite 'controller').
# usage: test_ctl.sh MODE BANANAD BANANACTL XENSIM TESTFRONT
# MODE: cli      protocol and CLI: status, apply/diff idempotence, wires,
#                endpoints, connect/disconnect/swap, every error path,
#                malformed and oversized messages (the daemon keeps serving)
#       yaml     a file with 3 mistakes: 3 file:line:column errors, nothing changed
#       restart  SIGKILL of bananad with a connected simulated guest, restart:
#                every endpoint and wire comes back, the guest's spike re-wired
#       scale    200 endpoints and 200 wires applied from one file
#       origin   wires made by connect (a guest's Spike to a Corm, as xl's
#                hotplug scripts do) survive apply of a file not declaring
#                them and a SIGKILL + restart; apply --prune removes them; a
#                file clashing with them is refused; a file declaring them
#                adopts them; disconnect removes their endpoint record
# Each run starts its own xensim and bananad in a mktemp dir and stops them
# by PID, leaving nothing behind.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid, san_reports
MODE=$1 BANANAD=$2 CTL=$3 XENSIM=$4 TESTFRONT=$5
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh" # ctl_lib_init, cleanup, fail, ctl, expect
ctl_lib_init bn-ctl-test

"$XENSIM" --dir "$sim" --pidfile "$base/xensim.pid" 2>"$base/xensim.log" || fail "xensim did not start"
export XENSIM_DIR=$sim XENSTORED_PATH=$sim/xenstored.sock
start_bananad

# A topology of test-class Corms; wires carry a rendezvous path so each is unique.
topo() { # topo FILE NCORMS: corms hostA/sinkI, wires wI from sinkI to sink(I+1)
    local f=$1 n=$2
    {
        echo "version: 1"
        echo "hosts:"
        echo "  hostA: {site: lab, domain: test}"
        echo "endpoints:"
        for i in $(seq 1 "$n"); do echo "  hostA/sink$i: {kind: corm, class: test}"; done
        echo "wires:"
        for i in $(seq 1 "$n"); do
            j=$((i % n + 1))
            [ "$n" -eq 2 ] && [ "$i" -eq 2 ] && break
            echo "  w$i: {ends: [hostA/sink$i, hostA/sink$j], options: {ring: 524288, path: \"@$tag-w$i\"}}"
        done
    } >"$f"
}

case $MODE in
cli)
    expect 0 status
    echo "$out" | grep -q "host: *hostA" || fail "status: $out"
    echo "$out" | grep -q "wire types: .*shm" || fail "status has no shm: $out"
    topo "$base/t.yaml" 3
    expect 0 diff "$base/t.yaml"
    echo "$out" | grep -q "create wire *w1" || fail "diff before apply: $out"
    expect 0 apply "$base/t.yaml"
    echo "$out"
    echo "$out" | grep -q "7 changes applied" || fail "apply: $out"
    expect 0 diff "$base/t.yaml"
    [ "$out" = "no change" ] || fail "diff after apply: $out"
    rev=$(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["revision"])')
    expect 0 apply "$base/t.yaml"
    [ "$out" = "no change" ] || fail "second apply changed something: $out"
    rev2=$(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["revision"])')
    [ "$rev" = "$rev2" ] || fail "second apply bumped the store revision $rev -> $rev2"
    expect 0 wires
    echo "$out"
    [ "$(echo "$out" | grep -c ' up$')" -eq 3 ] || fail "3 wires up: $out"
    expect 0 endpoints
    echo "$out" | grep -q "hostA/sink1 .*connected" || fail "endpoints: $out"
    expect 0 --json wires w2
    echo "$out" | grep -q '"state":"up"' || fail "wires --json: $out"

    # connect / swap / disconnect
    expect 0 connect hostA/sink1 hostA/sink3 --name extra -o ring=524288 -o path=@$tag-extra
    expect 0 wires extra
    echo "$out" | grep -q "extra .*shm .* up" || fail "connected wire: $out"
    expect 1 swap extra wg
    echo "$out" | grep -q "wire type 'wg' is not available" || fail "swap error: $out"
    expect 1 swap extra vxlan # there, but the options are shm's
    echo "$out" | grep -q "unknown parameter 'ring'.*(kept shm)" || fail "swap to vxlan: $out"
    expect 0 wires extra
    echo "$out" | grep -q "extra .*shm .* up" || fail "refused swap changed the wire: $out"
    # a wire that becomes vxlan with no VNI given gets one (ctl_vni.c)
    vp=$((30000 + $$ % 20000))
    expect 0 swap extra vxlan -o end0.addr=127.0.0.1 -o end0.port=$vp -o end1.addr=127.0.0.1 \
        -o end1.port=$((vp + 1))
    expect 0 --json wires extra
    echo "$out" | grep -qE '"vni":"[0-9]+"' || fail "swap to vxlan picked no VNI: $out"
    extra_vxlan_up() { ctl wires extra | grep -q 'extra .*vxlan .* up'; }
    wait_for 10 extra_vxlan_up ||
        fail "extra not up as vxlan: $(ctl wires extra 2>&1)"
    expect 0 disconnect extra
    expect 1 wires extra
    echo "$out" | grep -q "no wire named 'extra'" || fail "disconnected wire: $out"
    # diff sees no change after connect+disconnect
    expect 0 diff "$base/t.yaml"
    [ "$out" = "no change" ] || fail "diff after disconnect: $out"

    # error paths: each refused with exit 1 and a message naming the culprit
    expect 1 connect hostA/sink1 hostA/nothere
    echo "$out" | grep -q "endpoint 'hostA/nothere' does not exist" || fail "$out"
    expect 1 connect 'hostA//bad' hostA/sink1
    echo "$out" | grep -q "bad endpoint name 'hostA//bad'" || fail "$out"
    expect 1 connect 'bad name' hostA/sink1
    echo "$out" | grep -q "bad endpoint name 'bad name'" || fail "$out"
    expect 1 connect hostA/sink1 hostA/sink2 --wire wg
    echo "$out" | grep -q "wire type 'wg' is not available on hostA" || fail "$out"
    expect 1 connect hostA/sink1 hostA/sink2 --wire 'No!'
    echo "$out" | grep -q "bad wire type" || fail "$out"
    expect 1 connect hostA/sink1 hostA/sink2 --name w1
    echo "$out" | grep -q "wire 'w1' already exists" || fail "$out"
    expect 1 connect hostA/sink1 hostA/sink1
    echo "$out" | grep -q "cannot be wired to itself" || fail "$out"
    expect 1 connect hostA/sink1 hostA/sink2 -o mtu=9 -o path=@$tag-x
    echo "$out" | grep -q "mtu must be" || fail "$out"
    expect 1 connect hostA/sink1 hostA/sink2 --name bogus -o colour=blue
    echo "$out" | grep -q "colour" || fail "unknown wire option not reported: $out"
    expect 1 wires bogus
    expect 1 disconnect nosuchwire
    echo "$out" | grep -q "no wire named 'nosuchwire'" || fail "$out"
    expect 1 swap nosuchwire shm
    echo "$out" | grep -q "no wire named 'nosuchwire'" || fail "$out"
    expect 1 endpoints hostA/nothere
    expect 2 migrate
    expect 1 migrate vm1 --to hostB
    echo "$out" | grep -q "migrate needs hosts sharing a store" || fail "$out"
    expect 1 migrate vm1 --to hostB --fail-at nowhere
    echo "$out" | grep -q "fail-at must be" || fail "$out"
    expect 1 apply "$base/missing.yaml"
    # usage errors
    expect 2 frobnicate
    expect 2 connect onlyone
    expect 2 swap w1
    expect 2
    expect 2 --bogus status

    # malformed, oversized and unknown requests: that client is closed, the daemon serves on
    python3 - "$sock" <<'PY' || fail "protocol abuse test"
import socket, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(path); return s
def reply_then_eof(s):
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d: break
        buf += d
    # (a reset while reading the reply would lose it: that is a failure)
    try:
        rest = s.recv(10)
    except ConnectionResetError:  # closed with our unread bytes in its queue
        rest = b""
    return buf, rest == b""
s = conn(); s.sendall(b'{not json\n'); r, eof = reply_then_eof(s)
assert b'"ok":false' in r and b"malformed" in r and eof, (r, eof)
s = conn(); s.sendall(b'[1,2]\n'); r, eof = reply_then_eof(s)
assert b"malformed" in r and eof, r
s = conn(); s.sendall(b'{"op":"status"} trailing\n'); r, eof = reply_then_eof(s)
assert b"malformed" in r and eof, r
s = conn()
try:
    s.sendall(b"x" * (5 << 20))
except OSError:
    pass
r, eof = reply_then_eof(s)
assert b"too large" in r, r
s = conn(); s.sendall(b'{"op":"nope"}\n{"op":"status"}\n')
f = s.makefile("rb")
a = f.readline(); b = f.readline()
assert b"unknown op 'nope'" in a and b'"ok":true' in b, (a, b)
s = conn(); s.sendall(b'{"noop":1}\n'); r = s.makefile("rb").readline()
assert b'no \\"op\\"' in r, r
print("protocol abuse: ok")
PY
    expect 0 status
    kill -0 "$bpid" || fail "bananad died"
    ;;
yaml)
    topo "$base/t.yaml" 2
    expect 0 apply "$base/t.yaml"
    rev=$(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["revision"])')
    # three schema mistakes
    cat >"$base/bad.yaml" <<'Y'
version: 1
hosts:
  hostA: {site: lab}
endpoints:
  hostA/sink1: {kind: corm, class: test, colour: red}
  hostA/sink2: {kind: corm, class: test}
  hostA/sink3: {kind: korm, class: test}
wires:
  w1:
    ends: [hostA/sink1, hostA/sink2]
    type: Fast!
Y
    expect 1 apply "$base/bad.yaml"
    echo "$out"
    n=$(echo "$out" | grep -c "^$base/bad.yaml:[0-9]*:[0-9]*: ")
    [ "$n" -eq 3 ] || fail "want 3 file:line:column errors, got $n: $out"
    echo "$out" | grep -q "bad.yaml:5:42: unknown endpoint key 'colour'" || fail "colour: $out"
    echo "$out" | grep -q "bad.yaml:7:23: kind must be spike or corm, not 'korm'" || fail "korm: $out"
    echo "$out" | grep -q "bad.yaml:11:11: bad wire type 'Fast!'" || fail "type: $out"
    # three things this host cannot run
    cat >"$base/bad2.yaml" <<'Y'
version: 1
hosts:
  hostA: {site: lab}
endpoints:
  hostA/sink1: {kind: corm, class: test}
  hostA/sink2: {kind: corm, class: test}
  hostA/disk: {kind: corm, class: tset}
  hostA/vm9/xyz0: {kind: spike, class: nope}
wires:
  w1: {ends: [hostA/sink1, hostA/sink2], type: carrier-pigeon}
Y
    expect 1 diff "$base/bad2.yaml"
    expect 1 apply "$base/bad2.yaml"
    echo "$out"
    n=$(echo "$out" | grep -c "^$base/bad2.yaml:[0-9]*:[0-9]*: ")
    [ "$n" -eq 3 ] || fail "want 3 file:line:column errors, got $n: $out"
    echo "$out" | grep -q "bad2.yaml:7:35: endpoint 'hostA/disk': device class 'tset' is not available on hostA" || fail "tset: $out"
    echo "$out" | grep -q "bad2.yaml:8:40: endpoint 'hostA/vm9/xyz0': device class 'nope' is not available" || fail "nope: $out"
    echo "$out" | grep -q "bad2.yaml:10:48: wire 'w1': wire type 'carrier-pigeon' is not available on hostA" || fail "pigeon: $out"
    # nothing changed
    rev2=$(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["revision"])')
    [ "$rev" = "$rev2" ] || fail "a refused file changed the store revision $rev -> $rev2"
    expect 0 diff "$base/t.yaml"
    [ "$out" = "no change" ] || fail "refused file changed the desired state: $out"
    expect 0 wires w1
    echo "$out" | grep -q "w1 .*shm .* up" || fail "w1 changed: $out"
    ;;
restart)
    [ -x "$TESTFRONT" ] || { echo "SKIP: no sim-testfront"; cleanup; exit 77; }
    topo "$base/t.yaml" 3
    cat >>"$base/t.yaml" <<Y
  g1-wire: {ends: [hostA/g1/test0, hostA/sink1], options: {ring: 524288, path: "@$tag-g1"}}
Y
    sed -i "s|^endpoints:|endpoints:\n  hostA/g1/test0: {kind: spike, class: test}|" "$base/t.yaml"
    expect 0 apply "$base/t.yaml"
    expect 0 wires g1-wire
    echo "$out" | grep -q "waiting for endpoint hostA/g1/test0" || fail "wire before the guest: $out"
    "$TESTFRONT" --xensim-dir "$sim" --name g1 --stay >"$base/guest.log" 2>&1 &
    cpid=$!
    wait_for 20 grep -q "front-end is Connected" "$base/guest.log" || fail "guest did not connect: $(cat "$base/guest.log")"
    wait_for 20 bash -c "'$CTL' --control '$sock' wires g1-wire | grep -q ' up$'" || fail "guest wire not up: $(ctl wires)"
    before_w=$(ctl wires | awk 'NR>1 {print $1, $2, $NF}' | sort)
    before_e=$(ctl endpoints | awk 'NR>1 {print $1, $2, $3}' | sort)
    kill -9 "$bpid"; wait "$bpid" 2>/dev/null; bpid=
    start_bananad
    wait_for 20 bash -c "[ \$('$CTL' --control '$sock' wires | grep -c ' up$') -eq 4 ]" ||
        fail "after restart not every wire is up: $(ctl wires)"
    after_w=$(ctl wires | awk 'NR>1 {print $1, $2, $NF}' | sort)
    after_e=$(ctl endpoints | awk 'NR>1 {print $1, $2, $3}' | sort)
    [ "$before_w" = "$after_w" ] || fail "wires differ after restart: $before_w / $after_w"
    [ "$before_e" = "$after_e" ] || fail "endpoints differ after restart: $before_e / $after_e"
    expect 0 endpoints hostA/g1/test0
    echo "$out"
    kill -0 "$cpid" || fail "the guest died across the restart: $(cat "$base/guest.log")"
    expect 0 diff "$base/t.yaml"
    [ "$out" = "no change" ] || fail "diff after restart: $out"
    ;;
scale)
    topo "$base/t.yaml" 200
    expect 0 apply "$base/t.yaml"
    echo "$out" | tail -1
    echo "$out" | grep -q "401 changes applied" || fail "apply 200: $(echo "$out" | tail -3)"
    expect 0 wires
    [ "$(echo "$out" | grep -c ' up$')" -eq 200 ] || fail "not 200 wires up: $(echo "$out" | grep -v ' up$' | head)"
    expect 0 endpoints
    [ "$(echo "$out" | grep -c 'connected')" -eq 200 ] || fail "not 200 endpoints connected"
    expect 0 diff "$base/t.yaml"
    [ "$out" = "no change" ] || fail "diff after apply: $out"
    # shrink to 100: only the difference changes
    topo "$base/t100.yaml" 100
    expect 0 apply "$base/t100.yaml"
    echo "$out" | tail -1
    expect 0 wires
    [ "$(echo "$out" | grep -c ' up$')" -eq 100 ] || fail "not 100 wires after shrinking"
    ;;
origin)
    [ -x "$TESTFRONT" ] || { echo "SKIP: no sim-testfront"; cleanup; exit 77; }
    cw=hostA/g1/test0--hostA/sink1 # the name connect gives the guest's wire
    rev() { ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["revision"])'; }
    # origin NAME KIND(wires|endpoints): the record's "origin" ("" when none)
    origin() {
        ctl --json "$2" "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[sys.argv[1]][0].get("origin", ""))' "$2"
    }
    wire_up() { wait_for 20 bash -c "'$CTL' --control '$sock' wires '$1' | grep -q ' up$'"; }
    # the guest is wired by connect only, as vif-banana / block-banana do
    guest_connect() {
        expect 0 connect hostA/g1/test0 hostA/sink1 -o ring=524288 -o "path=@$tag-g1"
        echo "$out" | grep -q "connected: wire $cw " || fail "connect: $out"
        wire_up "$cw" || fail "connected wire not up: $(ctl wires)"
    }
    topo "$base/t.yaml" 3
    topo "$base/t4.yaml" 4
    expect 0 apply "$base/t.yaml"
    "$TESTFRONT" --xensim-dir "$sim" --name g1 --stay >"$base/guest.log" 2>&1 &
    cpid=$!
    wait_for 20 ctl endpoints hostA/g1/test0 || fail "the guest's spike did not come: $(ctl endpoints)"
    guest_connect
    [ "$(origin "$cw" wires)" = connect ] || fail "wire origin: $(ctl --json wires "$cw")"
    [ "$(origin hostA/g1/test0 endpoints)" = connect ] || fail "endpoint origin: $(ctl --json endpoints hostA/g1/test0)"
    [ "$(origin w1 wires)" = topology ] || fail "w1 origin: $(ctl --json wires w1)"
    wait_for 20 grep -q "front-end is Connected" "$base/guest.log" || fail "guest did not connect: $(cat "$base/guest.log")"

    # apply files that do not declare it: kept, and idempotent
    expect 0 diff "$base/t.yaml"
    [ "$out" = "no change" ] || fail "diff with a connect-made wire: $out"
    expect 0 apply "$base/t4.yaml"
    echo "$out"
    echo "$out" | grep -q "hostA/g1" && fail "apply touched the connect-made wire: $out"
    echo "$out" | grep -q "create endpoint hostA/sink4" || fail "apply t4: $out"
    expect 0 wires "$cw"
    echo "$out" | grep -q " up$" || fail "connect-made wire not up after apply: $out"
    expect 0 diff "$base/t4.yaml"
    [ "$out" = "no change" ] || fail "diff after apply: $out"
    r1=$(rev)
    expect 0 apply "$base/t4.yaml"
    [ "$out" = "no change" ] || fail "second apply: $out"
    [ "$r1" = "$(rev)" ] || fail "second apply bumped the store revision"

    # SIGKILL + restart: the connect-made wire comes back, still connect's
    kill -9 "$bpid"; wait "$bpid" 2>/dev/null; bpid=
    start_bananad
    wire_up "$cw" || fail "after restart the connect-made wire is not up: $(ctl wires)"
    [ "$(origin "$cw" wires)" = connect ] || fail "origin after restart: $(ctl --json wires "$cw")"
    expect 0 diff "$base/t4.yaml"
    [ "$out" = "no change" ] || fail "diff after restart: $out"

    # conflicts: refused whole (apply and diff), naming both wires and the fix
    cp "$base/t4.yaml" "$base/tc.yaml"
    echo "  g1-net: {ends: [hostA/g1/test0, hostA/sink2], options: {ring: 524288, path: \"@$tag-g1n\"}}" >>"$base/tc.yaml"
    sed -i "s|^endpoints:|endpoints:\n  hostA/g1/test0: {kind: spike, class: test}|" "$base/tc.yaml"
    r1=$(rev)
    expect 1 apply "$base/tc.yaml"
    echo "$out"
    echo "$out" | grep -q "tc.yaml:[0-9]*:[0-9]*: wire 'g1-net': spike hostA/g1/test0 is already an end of wire '$cw' made by bananactl connect: disconnect $cw first, or apply --prune" ||
        fail "spike conflict: $out"
    expect 1 diff "$base/tc.yaml"
    echo "$out" | grep -q "wire 'g1-net': spike hostA/g1/test0 is already an end of wire '$cw'" || fail "diff conflict: $out"
    { echo "version: 1"; echo "hosts: {hostA: {}}"; echo "endpoints:"
      echo "  hostA/sink2: {kind: corm, class: test}"; } >"$base/tn.yaml"
    expect 1 apply "$base/tn.yaml"
    echo "$out" | grep -q "endpoint 'hostA/sink1' is not declared, but wire '$cw' made by bananactl connect uses it: disconnect $cw first, or apply --prune" ||
        fail "endpoint conflict: $out"
    [ "$r1" = "$(rev)" ] || fail "a refused file changed the store"
    expect 0 wires "$cw"
    echo "$out" | grep -q " up$" || fail "refused files changed the wire: $out"

    # --prune: the connect-made wire and endpoint record go (the old way)
    expect 0 diff --prune "$base/t4.yaml"
    echo "$out"
    echo "$out" | grep -q "^- remove wire *$cw .*(made by bananactl connect)" || fail "diff --prune: $out"
    echo "$out" | grep -q "^- remove endpoint hostA/g1/test0 " || fail "diff --prune: $out"
    expect 0 apply --prune "$base/t4.yaml"
    echo "$out" | grep -q "2 changes applied" || fail "apply --prune: $out"
    expect 1 wires "$cw"
    expect 0 --json endpoints hostA/g1/test0 # still running: listed, not declared
    echo "$out" | grep -q '"declared":false' || fail "record left after --prune: $out"
    expect 0 diff "$base/t4.yaml"
    [ "$out" = "no change" ] || fail "diff after --prune: $out"

    # a file declaring a connect-made wire adopts it
    guest_connect
    cp "$base/t4.yaml" "$base/ta.yaml"
    echo "  $cw: {ends: [hostA/g1/test0, hostA/sink1], options: {ring: 524288, path: \"@$tag-g1\"}}" >>"$base/ta.yaml"
    sed -i "s|^endpoints:|endpoints:\n  hostA/g1/test0: {kind: spike, class: test}|" "$base/ta.yaml"
    expect 0 apply "$base/ta.yaml"
    echo "$out"
    echo "$out" | grep -q "update wire *$cw  now declared by the topology" || fail "adopt: $out"
    expect 0 diff "$base/ta.yaml"
    [ "$out" = "no change" ] || fail "diff after adoption: $out"
    [ "$(origin "$cw" wires)" = topology ] || fail "adopted wire's origin: $(ctl --json wires "$cw")"
    [ "$(origin hostA/g1/test0 endpoints)" = topology ] || fail "adopted endpoint's origin"
    expect 0 wires "$cw"
    echo "$out" | grep -q " up$" || fail "adopted wire not up: $out"
    expect 0 apply "$base/t4.yaml" # now the topology's: a file without it removes it
    echo "$out" | grep -q "remove wire *$cw" || fail "apply after adoption: $out"

    # disconnect removes the endpoint record connect made with the wire
    guest_connect
    expect 0 disconnect "$cw"
    echo "$out"
    echo "$out" | grep -q "removed endpoint hostA/g1/test0" || fail "disconnect: $out"
    expect 0 --json endpoints hostA/g1/test0
    echo "$out" | grep -q '"declared":false' || fail "record left after disconnect: $out"
    stop_pid "$cpid"; cpid=
    wait_for 20 bash -c "! '$CTL' --control '$sock' endpoints hostA/g1/test0" ||
        fail "stale endpoint after the guest left: $(ctl endpoints)"
    expect 0 diff --prune "$base/t4.yaml"
    [ "$out" = "no change" ] || fail "connect left something behind: $out"
    ;;
*)
    fail "unknown mode $MODE"
    ;;
esac

# SIGTERM: clean stop, socket removed
kill "$bpid"; wait "$bpid"; rc=$?; bpid=
[ $rc -eq 0 ] || fail "bananad exited $rc on SIGTERM"
[ -e "$sock" ] && fail "control socket left behind"
cleanup
echo "ok ($MODE)"
exit 0
