#!/bin/bash
# test_hostile.sh: bananad against a careless or hostile client (issue 11),
# on xensim (suite 'controller'). Each case fails on the code before the fix.
# usage: test_hostile.sh MODE BANANAD BANANACTL XENSIM
# MODE: socket  JSON nulls and wrong types on the control socket (connect
#               options {"x":null} / {"mtu":null} killed bananad), "prune":
#               "false" (pruned), "\u0000" in content (applied a prefix)
#       store   nulls and wrong types in store.json (crashed at start):
#               bananad refuses to start naming the key, the file kept
#       flood   a client pipelining 24 MB of requests, reading no reply:
#               bananad stays small and answers others
#       emfile  clients past the open-file limit: no busy loop, no log flood,
#               accepting resumes
#       files   topology files via bananactl: alias bomb, deep nesting, NUL
#               byte, second document, tab: refused fast with line:column
#       validate  diff refuses what apply would (wire options, Corm params);
#               a refused connect leaves the store revision alone
#       slowparse  status is answered while a big file is parsed
#       cli     --json after the command, connect --wire without a value,
#               --host of 300 characters
# Each run starts its own xensim and bananad in a mktemp dir and stops them
# by PID. Every wait is bounded.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid
MODE=$1 BANANAD=$2 CTL=$3 XENSIM=$4
RAW="python3 $(dirname "${BASH_SOURCE[0]}")/ctl_raw.py"
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh" # ctl_lib_init, cleanup, fail, ctl, expect
ctl_lib_init bn-hostile
raw() { out=$(timeout 20 $RAW "$sock" send "$@" 2>&1) || fail "raw client: $out"; }
alive() { kill -0 "$bpid" 2>/dev/null || fail "bananad died ($*)"; }
rev() { ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["revision"])'; }
topo() { # topo FILE N: corms hostA/sink1..N, wires w1..w(N-1)
    local f=$1 n=$2
    {
        echo "version: 1"
        echo "hosts:"
        echo "  hostA: {site: lab, domain: test}"
        echo "endpoints:"
        for i in $(seq 1 "$n"); do echo "  hostA/sink$i: {kind: corm, class: test}"; done
        echo "wires:"
        for i in $(seq 1 $((n - 1))); do
            echo "  w$i: {ends: [hostA/sink$i, hostA/sink$((i + 1))], options: {ring: 524288, path: \"@$tag-w$i\"}}"
        done
    } >"$f"
}
json_str() { python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1], encoding="utf-8").read()))' "$1"; }

"$XENSIM" --dir "$sim" --pidfile "$base/xensim.pid" 2>"$base/xensim.log" || fail "xensim did not start"
export XENSIM_DIR=$sim XENSTORED_PATH=$sim/xenstored.sock

case $MODE in
socket)
    start_bananad
    topo "$base/t.yaml" 3
    expect 0 apply "$base/t.yaml"
    A='"a":"hostA/sink1","b":"hostA/sink3"'
    for opts in '{"x":null}' '{"mtu":null}' '{"mtu":9000}' '{"x":[1]}'; do
        raw "{\"op\":\"connect\",$A,\"options\":$opts}"
        alive "connect options $opts"
        echo "$out" | grep -q '"ok":false' || fail "connect options $opts accepted: $out"
        echo "$out" | grep -q "must be a string" || fail "connect options $opts: $out"
    done
    # every member of every op is type-checked
    for req in '{"op":null}' '{"op":7}' '{"op":"wires","name":null}' '{"op":"endpoints","name":{}}' \
        '{"op":"connect","a":null,"b":"hostA/sink3"}' '{"op":"connect",'"$A"',"options":null}' \
        '{"op":"disconnect","wire":null}' '{"op":"swap","wire":"w1","type":null}' \
        '{"op":"apply","content":null}' '{"op":"diff","file":null,"content":""}' \
        '{"op":"apply","content":"","prune":null}' '{"op":"status","bogus":1}'; do
        raw "$req"
        alive "$req"
        echo "$out" | grep -q '"ok":false,"error":".*\(must be\|unknown argument\|no \\"op\\"\)' ||
            fail "$req: $out"
    done
    # "prune": "false" pruned the connect-made wire: now refused, wire kept
    expect 0 connect hostA/sink1 hostA/sink3 --name extra -o ring=524288 -o "path=@$tag-extra"
    r0=$(rev)
    content=$(json_str "$base/t.yaml")
    for p in '"false"' '"no"' '0' '1'; do
        raw "{\"op\":\"apply\",\"file\":\"t.yaml\",\"content\":$content,\"prune\":$p}"
        echo "$out" | grep -q "'prune' must be true or false" || fail "prune $p: $out"
    done
    expect 0 wires extra
    [ "$(rev)" = "$r0" ] || fail "refused applies moved the revision $r0 -> $(rev)"
    raw "{\"op\":\"apply\",\"file\":\"t.yaml\",\"content\":$content,\"prune\":false}"
    echo "$out" | grep -q '"ok":true' || fail "prune false: $out"
    expect 0 wires extra
    # "\u0000" in content: refused where it is, nothing applied
    topo "$base/t4.yaml" 4
    c4=$(json_str "$base/t4.yaml" | sed 's/  hostA\/sink4:/\\u0000  hostA\/sink4:/')
    r0=$(rev)
    raw "{\"op\":\"apply\",\"file\":\"t4.yaml\",\"content\":$c4}"
    echo "$out" | grep -q 't4.yaml:8:1: a NUL byte' || fail "NUL in content: $out"
    [ "$(rev)" = "$r0" ] || fail "a content with a NUL was applied: revision $r0 -> $(rev)"
    expect 1 endpoints hostA/sink3x 2>/dev/null
    alive "end of socket cases"
    expect 0 status
    ;;
store)
    # store.json variants that crashed bananad (or loaded silently wrong)
    good='{"kind":"corm","class":"test"}'
    n=0
    while IFS='|' read -r want text; do
        n=$((n + 1))
        rm -rf "$state"; mkdir -p "$state"
        printf '%s\n' "$text" >"$state/store.json"
        cp "$state/store.json" "$base/store.orig"
        : >"$base/bananad.log"
        "$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$sim" \
            --state-dir "$state" --control "$sock" --workers 2 2>>"$base/bananad.log" &
        bpid=$!
        for i in $(seq 100); do kill -0 $bpid 2>/dev/null || break; sleep 0.1; done
        kill -0 $bpid 2>/dev/null && fail "store case $n: bananad started on a bad store ($text)"
        wait $bpid; rc=$?; bpid=
        [ $rc -eq 1 ] || fail "store case $n: bananad exited $rc, want 1 (not a crash): $text"
        grep -qF -- "$want" "$base/bananad.log" || fail "store case $n: no '$want' in the log"
        cmp -s "$state/store.json" "$base/store.orig" || fail "store case $n: store.json changed"
        echo "store case $n refused: $(grep -F -- "$want" "$base/bananad.log" | head -1)"
    done <<EOF2
'format' must be a string, not null|{"format": null, "revision": 1, "data": {}}
'revision' must be an integer, not a string|{"format": "banana-store-1", "revision": "many", "data": {}}
'revision' must be an integer from 0|{"format": "banana-store-1", "revision": -3, "data": {}}
'data' must be an object, not null|{"format": "banana-store-1", "revision": 1, "data": null}
the value of 'wires/w' must be a string, not null|{"format": "banana-store-1", "revision": 1, "data": {"wires/w": null}}
key 'wires/w': 'ends[0]' must be a string, not null|{"format": "banana-store-1", "revision": 1, "data": {"wires/w": "{\"ends\":[null,null],\"type\":\"shm\"}"}}
key 'endpoints/hostA/c1': params: 'x' must be a string, not null|{"format": "banana-store-1", "revision": 1, "data": {"endpoints/hostA/c1": "{\"kind\":\"corm\",\"class\":\"test\",\"params\":{\"x\":null}}"}}
key 'endpoints/../../etc': bad endpoint name|{"format": "banana-store-1", "revision": 1, "data": {"endpoints/../../etc": "$(echo "$good" | sed 's/"/\\"/g')"}}
key 'endpoints/hostA/c1': 'kind' must be a string, not a number|{"format": "banana-store-1", "revision": 1, "data": {"endpoints/hostA/c1": "{\"kind\":7,\"class\":\"test\"}"}}
key 'wires/w': 'auto' must be true or false|{"format": "banana-store-1", "revision": 1, "data": {"wires/w": "{\"ends\":[\"hostA/a\",\"hostA/b\"],\"type\":\"shm\",\"auto\":\"yes\"}"}}
key 'wires/w': mtu must be an integer|{"format": "banana-store-1", "revision": 1, "data": {"wires/w": "{\"ends\":[\"hostA/a\",\"hostA/b\"],\"type\":\"shm\",\"options\":{\"mtu\":\"x\"}}"}}
key 'endpoints/hostA/c1': 'kind' must be spike or corm|{"format": "banana-store-1", "revision": 1, "data": {"endpoints/hostA/c1": "{\\"kind\\":\\"both\\",\\"class\\":\\"test\\"}"}}
key 'secrets/x': not a key banana writes|{"format": "banana-store-1", "revision": 1, "data": {"secrets/x": "{}"}}
EOF2
    # a good store still starts, at its revision
    rm -rf "$state"; mkdir -p "$state"
    printf '{"format": "banana-store-1", "revision": 7, "data": {"endpoints/hostA/c1": "%s"}}\n' \
        "$(echo "$good" | sed 's/"/\\"/g')" >"$state/store.json"
    start_bananad
    [ "$(rev)" = 7 ] || fail "good store: revision $(rev), want 7"
    expect 0 endpoints hostA/c1
    ;;
flood)
    # under ASan, freed memory waits in a quarantine (256 MB by default):
    # keep it small so that RSS measures what bananad holds
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=4"
    start_bananad
    rss() { awk '/^VmRSS/ {print $2}' "/proc/$bpid/status"; }
    rss0=$(rss)
    $RAW "$sock" flood 24 8 >"$base/flood.log" 2>&1 &
    cpid=$!
    max=0 slow=0
    for i in $(seq 12); do
        sleep 0.5
        r=$(rss); [ "$r" -gt "$max" ] && max=$r
        t0=$(date +%s%N)
        ctl status >/dev/null || fail "status failed during the flood"
        ms=$((($(date +%s%N) - t0) / 1000000))
        [ $ms -gt $slow ] && slow=$ms
    done
    wait "$cpid"; cpid=
    cat "$base/flood.log"
    echo "flood: bananad RSS $rss0 kB before, at most $max kB during; slowest status ${slow} ms"
    [ "$max" -lt $((rss0 + 40000)) ] || fail "bananad grew from $rss0 to $max kB queueing replies"
    [ $slow -lt 3000 ] || fail "status took $slow ms during the flood"
    alive "after the flood"
    expect 0 status
    ;;
emfile)
    # bananad at a low open-file limit (hard too: bananad takes the hard one); 100 clients hold connections
    (ulimit -n 48; exec "$BANANAD" --foreground --host hostA --hypervisor xensim \
        --xensim-dir "$sim" --state-dir "$state" --control "$sock" --workers 2) \
        2>>"$base/bananad.log" &
    bpid=$!
    wait_for 20 ctl status || fail "bananad did not answer on $sock"
    $RAW "$sock" hold 100 4 >"$base/hold.log" 2>&1 &
    cpid=$!
    sleep 1
    ticks() { awk '{print $14 + $15}' "/proc/$bpid/stat"; }
    c0=$(ticks) l0=$(stat -c %s "$base/bananad.log")
    sleep 2
    c1=$(ticks) l1=$(stat -c %s "$base/bananad.log")
    wait "$cpid"; cpid=
    cat "$base/hold.log"
    echo "emfile: $((c1 - c0)) ticks of CPU and $((l1 - l0)) bytes of log in 2 s at the limit"
    [ $((c1 - c0)) -lt 40 ] || fail "bananad spun at the open-file limit: $((c1 - c0)) ticks in 2 s"
    [ $((l1 - l0)) -lt 2000 ] || fail "bananad wrote $((l1 - l0)) bytes of log in 2 s"
    grep -q "accept: Too many open files" "$base/bananad.log" || fail "the limit was not logged"
    wait_for 10 ctl status || fail "bananad does not accept again after the clients left"
    grep -c "accept: Too many open files" "$base/bananad.log" | grep -qx 1 ||
        fail "the limit was logged more than once in 4 s: $(grep -c accept: "$base/bananad.log")"
    alive "after the limit"
    ;;
files)
    start_bananad
    topo "$base/t.yaml" 3
    expect 0 apply "$base/t.yaml"
    r0=$(rev) size0=$(stat -c %s "$state/store.json")
    { # the issue's alias bomb: 1,500 params anchored, 1,499 aliases
        echo "version: 1"; echo "hosts: {hostA: }"; echo "endpoints:"
        echo "  hostA/c0: &e"; echo "    kind: corm"; echo "    class: test"; echo "    params:"
        for i in $(seq 1500); do echo "      p$i: v"; done
        for i in $(seq 1499); do echo "  hostA/c$i: *e"; done
    } >"$base/bomb.yaml"
    { printf 'version: 1\nendpoints: '; head -c 50000 /dev/zero | tr '\0' '['; head -c 50000 /dev/zero | tr '\0' ']'; echo; } >"$base/deep.yaml"
    { printf 'version: 1\nhosts:\n  hostA:\n'; printf '  ho\0stB:\n'; } >"$base/nul.yaml"
    { cat "$base/t.yaml"; echo "---"; echo "version: 1"; } >"$base/two.yaml"
    printf 'version: 1\nhosts:\n\thostA:\n' >"$base/tab.yaml"
    for c in "bomb.yaml:1511:13: too many aliases" "deep.yaml:2:43: nested deeper than 32" \
        "nul.yaml:4:5: a NUL byte" "two.yaml:$(($(wc -l <"$base/t.yaml") + 1)):1: a second YAML document" \
        "tab.yaml:3:1: YAML syntax: a tab character"; do
        f=${c%%:*}
        for op in diff apply; do
            t0=$(date +%s%N)
            expect 1 $op "$base/$f"
            ms=$((($(date +%s%N) - t0) / 1000000))
            echo "$out" | grep -qF "$base/$c" || fail "$op $f: want '$c': $out"
            [ $ms -lt 3000 ] || fail "$op $f took $ms ms"
        done
        echo "refused in $ms ms: $(echo "$out" | tail -1)"
    done
    [ "$(rev)" = "$r0" ] || fail "refused files moved the revision $r0 -> $(rev)"
    [ "$(stat -c %s "$state/store.json")" = "$size0" ] || fail "refused files changed store.json"
    alive "after the files"
    ;;
validate)
    # diff runs apply's checks, Corm params and wire options included: what
    # diff accepts apply does, and a refused one changes nothing
    start_bananad
    topo "$base/t.yaml" 3
    expect 0 apply "$base/t.yaml"
    r0=$(rev)
    sed 's/ring: 524288, path: "@'"$tag"'-w2"/ring: 0, path: "@'"$tag"'-w2"/' "$base/t.yaml" >"$base/ring0.yaml"
    sed 's|hostA/sink2: {kind: corm, class: test}|hostA/sink2: {kind: corm, class: test, params: {colour: blue}}|' \
        "$base/t.yaml" >"$base/param.yaml"
    for c in "ring0.yaml:10:3: wire 'w2': parameter 'ring'" "param.yaml:6:3: corm 'hostA/sink2': " ; do
        f=${c%%:*}
        for op in diff apply; do
            expect 1 $op "$base/$f"
            echo "$out" | grep -qF "$base/$c" || fail "$op $f: want '$c': $out"
        done
        echo "refused by diff and apply: $(echo "$out" | tail -1)"
    done
    [ "$(rev)" = "$r0" ] || fail "refused applies moved the revision $r0 -> $(rev)"
    expect 0 wires
    [ "$(echo "$out" | grep -c ' up$')" -eq 2 ] || fail "the previous wires are not all up: $out"
    # a connect the wire type refuses does not touch the store
    expect 1 connect hostA/sink1 hostA/sink3 --name bad -o ring=0
    echo "$out" | grep -q "parameter 'ring'" || fail "connect ring=0: $out"
    expect 1 connect hostA/sink1 hostA/sink3 --name bad2 -o colour=blue
    [ "$(rev)" = "$r0" ] || fail "refused connects moved the revision $r0 -> $(rev)"
    ;;
slowparse)
    # a big file's parse runs off the control thread: status is answered
    # meanwhile (8,000 endpoints and wires with long names, 1.7 MB)
    start_bananad
    python3 - "$base/big.yaml" <<'PY'
import sys
pad = "p" * 40
with open(sys.argv[1], "w") as f:
    f.write("version: 1\nhosts:\n  hostA:\nendpoints:\n")
    for i in range(8000):
        f.write("  hostA/%s/s%d: {kind: corm, class: test}\n" % (pad, i))
    f.write("wires:\n")
    for i in range(7999):
        f.write("  w%d: {ends: [hostA/%s/s%d, hostA/%s/s%d]}\n" % (i, pad, i, pad, i + 1))
PY
    ( t0=$(date +%s%N); ctl diff "$base/big.yaml" >"$base/diff.out" 2>&1; echo "$? $((($(date +%s%N) - t0) / 1000000))" >"$base/diff.rc" ) &
    cpid=$!
    sleep 0.2
    max=0 n=0
    while kill -0 $cpid 2>/dev/null && [ $n -lt 200 ]; do
        t0=$(date +%s%N)
        ctl status >/dev/null || fail "status failed during the diff"
        ms=$((($(date +%s%N) - t0) / 1000000))
        [ $ms -gt $max ] && max=$ms
        n=$((n + 1))
    done
    wait $cpid; cpid=
    read -r rc dms <"$base/diff.rc"
    [ "$rc" = 0 ] || fail "diff of the big file exited $rc: $(tail -3 "$base/diff.out")"
    grep -c "create wire" "$base/diff.out" | grep -qx 7999 || fail "diff: $(tail -3 "$base/diff.out")"
    echo "slowparse: diff took $dms ms; $n status calls meanwhile, the slowest $max ms"
    [ $n -ge 3 ] || fail "only $n status calls during a diff of $dms ms"
    [ $((max * 3)) -lt $((dms * 2)) ] || fail "status waited $max ms during a diff of $dms ms"
    # a client that hangs up while its diff is parsed: the main thread does
    # not spin on the hang-up (it leaves the loop until the reply)
    python3 -c 'import json,sys; print(json.dumps({"op":"diff","file":"big.yaml","content":open(sys.argv[1]).read()}))' \
        "$base/big.yaml" >"$base/big.req"
    mt() { awk '{print $14 + $15}' "/proc/$bpid/task/$bpid/stat"; }
    pt() { awk '{print $14 + $15}' "/proc/$bpid/stat"; }
    m0=$(mt) p0=$(pt)
    $RAW "$sock" fire "$base/big.req" || fail "fire"
    sleep 1.5
    m1=$(mt) p1=$(pt)
    echo "slowparse: a diff whose client left: $((m1 - m0)) ticks on the main thread of $((p1 - p0)) in all"
    # spinning, the main thread would use as much as the parse thread or more
    [ $((2 * (m1 - m0))) -lt $((p1 - p0)) ] || fail "the main thread spun: $((m1 - m0)) of $((p1 - p0)) ticks"
    expect 0 status
    # requests pipelined behind an apply are answered after it, in order
    topo "$base/t.yaml" 3
    c3=$(json_str "$base/t.yaml")
    out=$(timeout 30 $RAW "$sock" pipe "{\"op\":\"apply\",\"file\":\"t.yaml\",\"content\":$c3}" \
        '{"op":"status"}' "{\"op\":\"diff\",\"file\":\"t.yaml\",\"content\":$c3}" '{"op":"wires","name":"w1"}' 2>&1) ||
        fail "pipelined requests: $out"
    echo "$out" | sed -n 1p | grep -q '"changes":\[{' || fail "pipelined apply: $out"
    echo "$out" | sed -n 2p | grep -q '"host":"hostA"' || fail "pipelined status: $out"
    echo "$out" | sed -n 3p | grep -q '"changes":\[\]' || fail "pipelined diff after the apply: $out"
    echo "$out" | sed -n 4p | grep -q '"name":"w1"' || fail "pipelined wires: $out"
    alive "after pipelined requests"
    ;;
cli)
    start_bananad
    topo "$base/t.yaml" 3
    expect 0 apply "$base/t.yaml"
    for cmd in "wires" "endpoints" "status" "wires w1"; do
        expect 0 $cmd --json
        echo "$out" | python3 -c 'import json,sys; assert json.load(sys.stdin)["ok"] is True' ||
            fail "$cmd --json is not JSON: $out"
    done
    expect 2 connect hostA/sink1 hostA/sink3 --wire
    echo "$out" | grep -q -- "--wire needs a value" || fail "connect --wire: $out"
    expect 2 connect hostA/sink1 hostA/sink3 --name
    echo "$out" | grep -q -- "--name needs a value" || fail "connect --name: $out"
    long=$(printf 'h%.0s' $(seq 300))
    out=$("$BANANAD" --foreground --host "$long" --hypervisor xensim --xensim-dir "$sim" \
        --state-dir "$base/st2" --control "$base/c2.sock" 2>&1 & p=$!; sleep 3; kill $p 2>/dev/null; wait $p; echo "rc=$?")
    echo "$out" | grep -q "a host name is 1 to 63 characters" || fail "--host of 300: $out"
    echo "$out" | grep -q "rc=2" || fail "--host of 300 characters: $out"
    ;;
*)
    fail "unknown mode $MODE"
    ;;
esac
cleanup
echo "PASS: hostile $MODE"
