#!/bin/bash
# test_net_peer.sh: a cross-process wire whose peer dies, and comes back.
# Two bananads (hostA, hostB), each with its own xensim and a bridge Corm
# (brA, brB), joined by one shm wire across processes (path=@...); a network
# namespace on each bridge (10.88.0.1, 10.88.0.2) pings the other through
# the wire. bananad B is killed (SIGKILL): A's TAP for the wire loses its
# carrier (the bridge sees the link down) and the ping stops; A re-opens
# its end, whose new TAP has no carrier while B is away. B starts again
# with its state: the TAP has carrier again and the ping answers again.
# usage: test_net_peer.sh XENSIM BANANAD BANANACTL
set -u
XENSIM=$1 BANANAD=$2 BANANACTL=$3
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid, san_check
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces, TAP, bridges)"; exit 77; fi
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
ip netns add "bnprobe$$" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del "bnprobe$$"
T=p$$
T=${T:0:8}
base=$(mktemp -d /tmp/bn-peer.XXXXXX)
pids=()
cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do stop_pid "$p" 5; done
    for h in A B; do
        [ -f "$base/xs$h.pid" ] && stop_pid "$(cat "$base/xs$h.pid")" 3
        ip netns del "$T$h" 2>/dev/null
        ip link del "v$T$h" 2>/dev/null
        ip link del "br$T$h" 2>/dev/null
    done
    san_check "$base"/*.log || { rm -rf "$base"; exit 1; }
    rm -rf "$base"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
    echo "FAIL: $*"
    for f in "$base"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done
    exit 1
}
declare -A BP
start() { # start A|B: xensim (first time) + bananad for host$1
    local h=$1
    [ -f "$base/xs$h.pid" ] || "$XENSIM" --dir "$base/sim$h" --pidfile "$base/xs$h.pid" 2>"$base/xensim$h.log" ||
        fail "xensim $h did not start"
    "$BANANAD" --foreground --host "host$h" --hypervisor xensim --xensim-dir "$base/sim$h" \
        --state-dir "$base/state$h" --control "$base/ctl$h.sock" >>"$base/bananad$h.log" 2>&1 &
    BP[$h]=$!
    pids+=(${BP[$h]})
    wait_for 15 test -S "$base/ctl$h.sock" || fail "bananad $h did not start"
}
ctl() { local h=$1; shift; "$BANANACTL" --control "$base/ctl$h.sock" "$@"; }
carrier() { cat "/sys/class/net/$1/carrier" 2>/dev/null; }
carrier_is() { [ "$(carrier "$1")" = "$2" ]; } # carrier_is TAP 0|1

cat >"$base/topo.yaml" <<Y
version: 1
hosts:
  hostA: {site: s1, domain: d1}
  hostB: {site: s1, domain: d1}
endpoints:
  hostA/br: {kind: corm, class: vif, params: {bridge: br${T}A, create: yes}}
  hostB/br: {kind: corm, class: vif, params: {bridge: br${T}B, create: yes}}
wires:
  ab: {ends: [hostA/br, hostB/br], type: shm, options: {path: "@$T-ab"}}
Y
for h in A B; do
    start $h
    ctl $h apply "$base/topo.yaml" >"$base/apply$h.out" 2>&1 || fail "apply on host$h: $(cat "$base/apply$h.out")"
    ip netns add "$T$h" || fail "cannot create netns $T$h"
    ip link add "v$T$h" type veth peer name eth0 netns "$T$h" || fail "cannot create veth"
    ip link set "v$T$h" master "br$T$h" up
    n=1; [ $h = B ] && n=2
    ip -n "$T$h" addr add "10.88.0.$n/24" dev eth0
    ip -n "$T$h" link set eth0 up
    ip -n "$T$h" link set lo up
done
wait_for 15 bash -c "'$BANANACTL' --control '$base/ctlA.sock' wires ab | grep -q ' up\$'" || fail "wire ab not up on A: $(ctl A wires 2>&1)"
tap=$(sed -n 's/.*wire ab end 0: TAP \(bn[0-9a-f]*\) on bridge.*/\1/p' "$base/bananadA.log" | tail -1)
[ -n "$tap" ] || fail "no TAP for wire ab on A"
wait_for 10 carrier_is "$tap" 1 || fail "TAP $tap has no carrier with the peer there"
wait_for 20 ip netns exec "${T}A" ping -c 1 -W 1 10.88.0.2 >/dev/null || fail "no ping from A to B through the wire"
echo "ok: A pings B through the cross-process wire (TAP $tap carrier $(carrier "$tap"))"

kill -9 "${BP[B]}"; wait "${BP[B]}" 2>/dev/null
rm -f "$base/ctlB.sock"
wait_for 10 carrier_is "$tap" 0 || fail "TAP $tap still has carrier after the peer died"
grep -q "wire ab: the peer has gone: TAP $tap has no carrier" "$base/bananadA.log" || fail "A did not say the peer has gone"
ip netns exec "${T}A" ping -c 1 -W 1 10.88.0.2 >/dev/null 2>&1 && fail "B answered while its bananad was dead"
echo "ok: bananad B killed: TAP $tap lost its carrier"
# A re-opens its end a second later: the new TAP has no carrier while B is away
wait_for 10 bash -c "[ \$(grep -c 'wire ab end 0: TAP' '$base/bananadA.log') -ge 2 ]" || fail "A did not re-open its end of wire ab"
tapr=$(sed -n 's/.*wire ab end 0: TAP \(bn[0-9a-f]*\) on bridge.*/\1/p' "$base/bananadA.log" | tail -1)
sleep 1
[ "$(carrier "$tapr")" = 0 ] || fail "the re-opened TAP $tapr has carrier with no peer"
echo "ok: A re-opened its end: TAP $tapr waits without carrier"

start B # its state has the topology
wait_for 20 bash -c "'$BANANACTL' --control '$base/ctlA.sock' wires ab | grep -q ' up\$'" || fail "wire ab not up again on A: $(ctl A wires 2>&1)"
tap2=$(sed -n 's/.*wire ab end 0: TAP \(bn[0-9a-f]*\) on bridge.*/\1/p' "$base/bananadA.log" | tail -1)
wait_for 10 carrier_is "$tap2" 1 || fail "TAP $tap2 has no carrier after the peer came back"
wait_for 20 ip netns exec "${T}A" ping -c 1 -W 1 10.88.0.2 >/dev/null || fail "no ping from A to B after B came back"
grep -q "wire ab: end 0's peer has gone: reopening it" "$base/bananadA.log" || fail "A did not re-open its end"
echo "ok: bananad B back: wire re-opened, TAP $tap2 carrier $(carrier "$tap2"), ping answers"
kill "${BP[A]}"; wait "${BP[A]}" || fail "bananad A did not stop cleanly"
kill "${BP[B]}"; wait "${BP[B]}" || fail "bananad B did not stop cleanly"
exit 0
