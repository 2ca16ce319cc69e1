#!/bin/bash
# test_metrics.sh: bananad --metrics on a Unix socket (suite 'controller'):
# the page (read with curl --unix-socket) passes promtool check metrics and
# lists the applied Corms and wire; the socket is mode 0600 (no group); a bad
# --metrics address or a port in use stops start-up with a clear error; a
# secret in a wire's options (psk) appears in no reply, page or log.
# usage: test_metrics.sh BANANAD BANANACTL XENSIM
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid
BANANAD=$1 CTL=$2 XENSIM=$3
for c in curl promtool python3; do
    command -v $c >/dev/null || { echo "SKIP: $c not installed (scripts/deps.sh installs it)"; exit 77; }
done
base=$(mktemp -d /tmp/bn-metrics.XXXXXX)
sim=$base/sim bpid=
cleanup() {
    stop_pid "$bpid"
    [ -f "$base/xensim.pid" ] && stop_pid "$(cat "$base/xensim.pid")" 3
    rm -rf "$base"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$base"/bananad*.log 2>/dev/null; exit 1; }
run_bananad() { # run_bananad LOG ARGS...: in the foreground, in the background
    local log=$1
    shift
    "$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$sim" \
        --state-dir "$base/state" --control "$base/ctl.sock" "$@" 2>>"$base/$log" &
    bpid=$!
}

"$XENSIM" --dir "$sim" --pidfile "$base/xensim.pid" 2>"$base/xensim.log" || fail "xensim did not start"
export XENSIM_DIR=$sim XENSTORED_PATH=$sim/xenstored.sock

# refused_start LOG ARGS...: bananad must exit 1 within 10 s
refused_start() {
    local log=$1 rc
    shift
    run_bananad "$log" "$@"
    for _ in $(seq 100); do kill -0 $bpid 2>/dev/null || break; sleep 0.1; done
    kill -0 $bpid 2>/dev/null && fail "bananad $* kept running"
    wait $bpid
    rc=$?
    bpid=
    [ $rc -eq 1 ] || fail "bananad $*: exit $rc, want 1"
}
# bad addresses: exit 1 before serving, the reason on stderr
for bad in "nonsense" "127.0.0.1:" "256.1.1.1:9" "unix:$base/no/such/dir/m.sock"; do
    refused_start bad.log --metrics "$bad"
    grep -q -- "metrics: --metrics $bad: " "$base/bad.log" || fail "--metrics '$bad': no clear error: $(tail -2 "$base/bad.log")"
done
[ -e "$base/ctl.sock" ] && fail "a refused start left the control socket"
echo "ok: 4 bad --metrics addresses refused: $(grep -- '--metrics nonsense' "$base/bad.log" | sed 's/.*metrics: //')"
# a port in use (held by a listener that picked it)
python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
open('$base/port', 'w').write(str(s.getsockname()[1])); time.sleep(20)" &
hold=$!
wait_for 5 test -s "$base/port" || fail "no port holder"
port=$(cat "$base/port")
refused_start bad.log --metrics "127.0.0.1:$port"
kill $hold 2>/dev/null
wait $hold 2>/dev/null
grep -q -- "--metrics 127.0.0.1:$port: cannot listen: Address already in use" "$base/bad.log" || fail "port in use: $(tail -2 "$base/bad.log")"
echo "ok: a port in use is refused: $(tail -1 "$base/bad.log" | sed 's/.*metrics: //')"

msock=$base/metrics.sock
run_bananad bananad.log --metrics "unix:$msock"
wait_for 20 "$CTL" --control "$base/ctl.sock" status >/dev/null || fail "bananad did not answer"
[ "$(stat -c %a "$msock")" = 600 ] || fail "metrics socket mode $(stat -c %a "$msock"), want 600"
cat >"$base/t.yaml" <<YAML
version: 1
hosts:
  hostA: {site: lab, domain: test}
endpoints:
  hostA/sink1: {kind: corm, class: test}
  hostA/sink2: {kind: corm, class: test}
wires:
  w1: {ends: [hostA/sink1, hostA/sink2], options: {ring: 524288, path: "@bnmetrics$$"}}
YAML
"$CTL" --control "$base/ctl.sock" apply "$base/t.yaml" >/dev/null || fail "apply failed"
curl -sS --max-time 5 --unix-socket "$msock" -o "$base/page.txt" http://localhost/metrics || fail "curl over the Unix socket failed"
promtool check metrics <"$base/page.txt" >"$base/promtool.out" 2>&1 || fail "promtool: $(cat "$base/promtool.out")"
grep -q '^banana_wire_up{wire="w1",type="shm"} 1$' "$base/page.txt" || fail "w1 not up: $(grep wire_up "$base/page.txt")"
grep -q '^banana_endpoint_info{endpoint="hostA/sink2",kind="corm",class="test",state="connected"} 1$' "$base/page.txt" || fail "no sink2"
grep -q '^banana_store_revision 1$' "$base/page.txt" || fail "store revision: $(grep revision "$base/page.txt")"
grep -q "bnmetrics$$" "$base/page.txt" && fail "a wire option's value is in the metrics"
echo "ok: Unix socket (mode 600) page passes promtool check metrics: $(grep -vc '^#' "$base/page.txt") samples"
# a secret in a wire's options never shows: not in replies, metrics or logs
secret=TOPSECRET$$
sed "s/options: {/options: {psk: $secret, /" "$base/t.yaml" >"$base/s.yaml"
"$CTL" --control "$base/ctl.sock" apply "$base/s.yaml" >"$base/s.out" 2>&1 && fail "the shm wire took a psk option"
# No wire type here takes a psk yet (the shm wire refuses it before anything
# is stored), so it goes into the store by hand, as a vpn wire's would be.
stop_pid "$bpid" 5
python3 - "$base/state/store.json" "$secret" <<'PY'
import json, sys
path, secret = sys.argv[1], sys.argv[2]
st = json.load(open(path))
w = json.loads(st["data"]["wires/w1"])
w.setdefault("options", {})["psk"] = secret
st["data"]["wires/w1"] = json.dumps(w)
json.dump(st, open(path, "w"))
PY
run_bananad bananad.log --metrics "unix:$msock"
wait_for 20 "$CTL" --control "$base/ctl.sock" status >/dev/null || fail "bananad did not answer after the restart"
for cmd in "--json wires" "wires" "--json endpoints" "endpoints" "--json status" "diff $base/s.yaml"; do
    "$CTL" --control "$base/ctl.sock" $cmd >"$base/cmd.out" 2>&1
    grep -q "$secret" "$base/cmd.out" && fail "bananactl $cmd shows the secret: $(grep "$secret" "$base/cmd.out")"
done
"$CTL" --control "$base/ctl.sock" --json wires | grep -q '"psk":"(hidden)"' || fail "wires --json does not say the psk is hidden"
curl -sS --unix-socket "$msock" http://localhost/metrics | grep -q "$secret" && fail "the metrics show the secret"
grep -q "$secret" "$base/s.out" "$base"/bananad*.log && fail "a log or apply's output shows the secret"
echo "ok: a psk in a wire's options is hidden in bananactl (tables and --json), metrics and logs"
stop_pid "$bpid"
bpid=
[ -e "$msock" ] && fail "the metrics socket is left after stop"
echo "ok: socket removed at stop"
exit 0
