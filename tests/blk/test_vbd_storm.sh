#!/bin/bash
# test_vbd_storm.sh MODE XENSIM BANANAD BANANACTL SIM_BLKGUEST SIM_NETGUEST
# Hostile and churning control beside good guests, in one bananad (issue 10:
# thread ownership). Around every mode: a verify guest (sim-blkguest) on one
# disk Corm and a ping pair (two sim-netguests in their own network
# namespaces on a bridge Corm) run the whole time.
#   handshake  ROUNDS (BN_STORM_ROUNDS, default 50) rounds of the ten broken
#              disk handshakes of sim-blkguest --evil-handshake, run at once,
#              each a new domain whose Spike is wired to a second disk Corm
#              (so the disk's INFO arrives as the handshake fails): each is
#              refused (error node "<errno> <message>", back-end Closing or
#              Closed; every other round the guests leave at once instead,
#              the device released mid-handshake), bananad never dies, the verify guest ends with 0
#              mismatches and 0 errors, the ping pair (10 pings in each
#              round) loses at most 1%, and the verify guest's disk Corm
#              counts each message once (msgs_in = msgs_out within 8).
#   churn      CYCLES (BN_STORM_CYCLES, default 200) cycles of disconnect /
#              connect of the verify guest's wire and of one ping guest's,
#              with a swap to the same type (kept) and to an unavailable type
#              (refused, the old one kept) every tenth, 3 pings in each
#              cycle: bananad never dies, the verify run has 0 mismatches
#              and 0 errors, the wires are up at the end and the ping pair
#              answers again.
# Both are bounded in count and in time (BN_STORM_SECONDS, default 100).
# Needs root (network namespaces, TAP, bridges): exit 77 otherwise.
MODE=$1 XENSIM=$2 BANANAD=$3 BANANACTL=$4 G=$5 NG=$6
. "$(dirname "$0")/../net/netlib.sh" # nl_* (xensim, bananad, netns guests), $base, $dir, $BR
nl_need_root
ROUNDS=${BN_STORM_ROUNDS:-50} CYCLES=${BN_STORM_CYCLES:-200} LIMIT=${BN_STORM_SECONDS:-100}
EVIL="ring-ref-ungranted ring-ref-garbage ring-ref-empty queues-1000 queues-0 ring-order-10
      ring-order-short bad-evtchn evtchn-garbage protocol-x86_32"
ctl() { "$BANANACTL" "$@"; }

nl_start
truncate -s 64M "$base/good.img" "$base/evil.img"
{
    printf 'version: 1\nhosts:\n  hostA: {site: test, domain: test}\nendpoints:\n'
    printf '  hostA/%s: {kind: corm, class: vif, params: {bridge: %s, create: yes}}\n' "$BR" "$BR"
    printf '  hostA/disk: {kind: corm, class: vbd, params: {path: %s}}\n' "$base/good.img"
    printf '  hostA/evildisk: {kind: corm, class: vbd, params: {path: %s}}\n' "$base/evil.img"
    printf '  hostA/good/vbd0: {kind: spike}\n'
    for vm in p1 p2; do printf '  hostA/%s/vif0: {kind: spike}\n' $vm; done
    for k in 0 1 2 3 4 5 6 7 8 9; do printf '  hostA/e%s/vbd0: {kind: spike}\n' $k; done
    printf 'wires:\n'
    printf '  good-disk: {ends: [hostA/good/vbd0, hostA/disk]}\n'
    for vm in p1 p2; do printf '  %s-net: {ends: [hostA/%s/vif0, hostA/%s]}\n' $vm $vm "$BR"; done
    for k in 0 1 2 3 4 5 6 7 8 9; do printf '  e%s-disk: {ends: [hostA/e%s/vbd0, hostA/evildisk]}\n' $k $k; done
} >"$base/topo.yaml"
ctl apply "$base/topo.yaml" >"$base/apply.out" 2>&1 || nl_fail "apply: $(cat "$base/apply.out")"
nl_guest p1 1
nl_guest p2 2

# the verify guest runs until told (SIGUSR1) after the storm
"$G" --name good --sim-dir "$dir" --timeout 40 --verify --qd 16 \
    --seconds $((LIMIT + 30)) --flush-every 64 >"$base/good.out" 2>"$base/good.log" &
gp=$!
nl_pids+=($gp)
nl_wait 20 grep -q connected "$base/good.out" || nl_fail "the verify guest did not connect"
# ping_round [N]: N (10) pings vm1 -> vm2 in the background (pingp),
# counted by ping_count into ptx / prx
ptx=0 prx=0
ping_round() {
    nl_bg p1 ping -q -c "${1:-10}" -i 0.05 -W 2 10.77.0.2 >"$base/ping.out" 2>&1
    pingp=$!
}
ping_count() {
    local sum tx rx
    wait "$pingp"
    sum=$(grep "packets transmitted" "$base/ping.out")
    tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$sum")
    rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$sum")
    ptx=$((ptx + ${tx:-0})) prx=$((prx + ${rx:-0}))
}
sleep 1
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }

case $MODE in
handshake)
    r=0
    while [ $r -lt "$ROUNDS" ] && [ "$(elapsed)" -lt "$LIMIT" ]; do
        r=$((r + 1))
        k=0 ps=() leave=()
        # every other round the guests go away at once after the broken
        # handshake: the device is released while its Spike may still be
        # handling the disk's INFO
        [ $((r % 2)) = 0 ] && leave=(--leave)
        ping_round
        for m in $EVIL; do
            timeout 30 "$G" --name "e$k" --sim-dir "$dir" --timeout 20 --evil-handshake "$m" \
                "${leave[@]}" >"$base/e$k.out" 2>"$base/e$k.log" &
            ps+=($!)
            k=$((k + 1))
        done
        k=0
        for m in $EVIL; do
            wait "${ps[$k]}" || nl_fail "round $r, --evil-handshake $m (e$k) ${leave[*]}: $(cat "$base/e$k.log")"
            if [ ${#leave[@]} = 0 ]; then
                grep -q "refused the handshake" "$base/e$k.out" || nl_fail "round $r, $m: $(cat "$base/e$k.out")"
                grep -Eq 'error/backend/vbd/[0-9]+/[0-9]+/error = "[0-9]+ .+"' "$base/e$k.out" ||
                    nl_fail "round $r, $m: no error node: $(cat "$base/e$k.out")"
                [ $r = 1 ] && echo "ok: $m refused: $(grep -o '= ".*"' "$base/e$k.out")"
            fi
            k=$((k + 1))
        done
        ping_count
        kill -0 "$BPID" 2>/dev/null || nl_fail "bananad died in round $r"
    done
    [ $r -eq "$ROUNDS" ] || nl_fail "only $r of $ROUNDS rounds in ${LIMIT} s"
    echo "ok: $r rounds of 10 broken handshakes (refused; every other round left at once) in $(elapsed) s; bananad alive"
    ;;
churn)
    i=0
    while [ $i -lt "$CYCLES" ] && [ "$(elapsed)" -lt "$LIMIT" ]; do
        i=$((i + 1))
        if [ $((i % 2)) = 0 ]; then w=good-disk a=hostA/good/vbd0 b=hostA/disk; else w=p2-net a=hostA/p2/vif0 b=hostA/$BR; fi
        ping_round 3
        ctl disconnect "$w" >"$base/ctl.out" 2>&1 || nl_fail "cycle $i: disconnect $w: $(cat "$base/ctl.out")"
        ctl connect "$a" "$b" --name "$w" >"$base/ctl.out" 2>&1 ||
            nl_fail "cycle $i: connect $w: $(cat "$base/ctl.out")"
        if [ $((i % 10)) = 0 ]; then
            ctl swap "$w" shm >"$base/ctl.out" 2>&1 || nl_fail "cycle $i: swap $w shm: $(cat "$base/ctl.out")"
            ! ctl swap "$w" nosuchwire >"$base/ctl.out" 2>&1 || nl_fail "cycle $i: swap to an unknown type passed"
            grep -q "not available" "$base/ctl.out" || nl_fail "cycle $i: swap refused how? $(cat "$base/ctl.out")"
        fi
        ping_count
        kill -0 "$BPID" 2>/dev/null || nl_fail "bananad died in cycle $i"
    done
    [ $i -eq "$CYCLES" ] || nl_fail "only $i of $CYCLES cycles in ${LIMIT} s"
    for w in good-disk p1-net p2-net; do
        nl_wait 10 bash -c "'$BANANACTL' wires $w | grep -qw up" || nl_fail "wire $w not up: $(ctl wires $w 2>&1)"
    done
    echo "ok: $i connect/disconnect cycles (swaps every 10th) in $(elapsed) s; bananad alive"
    ;;
*)
    nl_fail "unknown mode $MODE"
    ;;
esac

sum="$prx of $ptx pings answered"
[ "$ptx" -ge 100 ] || nl_fail "too few pings sent: $ptx"
if [ "$MODE" = handshake ]; then
    [ $((100 * (ptx - prx))) -le "$ptx" ] || nl_fail "ping lost more than 1%: $sum"
    echo "ok: ping pair beside the storm: $sum"
else
    # the ping guest's wire went down half the cycles: it must answer again
    nl_in p1 ping -c 5 -i 0.1 -W 2 10.77.0.2 >"$base/ping2.out" 2>&1 ||
        nl_fail "ping after the churn: $(tail -n 2 "$base/ping2.out")"
    echo "ok: ping pair during the churn: $sum; after it: $(grep 'packets transmitted' "$base/ping2.out")"
fi
kill -0 "$gp" 2>/dev/null || nl_fail "the verify guest ended before the storm did: $(tail -n 2 "$base/good.out" "$base/good.log")"
kill -USR1 "$gp"
wait "$gp" || nl_fail "the verify guest failed: $(tail -n 3 "$base/good.out" "$base/good.log")"
grep -q "verified=[1-9][0-9]* mismatches=0 errors=0" "$base/good.out" ||
    nl_fail "verify guest: $(tail -1 "$base/good.out")"
echo "ok: verify guest: $(tail -1 "$base/good.out")"
if [ "$MODE" = handshake ]; then
    # the verify guest's disk Corm (one wire, never rewired) counts each
    # message once: as many in (requests, hello) as out (answers, info)
    read -r cin cout <<<"$(ctl --json endpoints | python3 -c '
import json, sys
e = [x for x in json.load(sys.stdin)["endpoints"] if x["name"] == "hostA/disk"][0]
print(e["msgs_in"], e["msgs_out"])')"
    [ "${cin:-0}" -gt 1000 ] && [ $((cin - cout)) -le 8 ] && [ $((cout - cin)) -le 8 ] ||
        nl_fail "disk Corm counters: msgs_in ${cin:-?}, msgs_out ${cout:-?} (counted twice?)"
    echo "ok: disk Corm counted $cin messages in, $cout out"
fi
kill -0 "$BPID" 2>/dev/null || nl_fail "bananad died"
exit 0
