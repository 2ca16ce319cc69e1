#!/bin/bash
# test_vbd_swap.sh XENSIM BANANAD BANANACTL SIM_BLKGUEST: hot-swap of a disk's
# wire, make before break (issue 16). One bananad; a verify guest
# (sim-blkguest --verify, QD32, overlapping writes, a flush every 64) on a
# disk Corm, its wire swapped SWAPS times (BN_SWAPS, default 20) between shm
# and nbd (the nbd server on loopback) with `bananactl swap`, while it runs.
# Then an apply moves the wire's Corm end to a second disk Corm (of the
# same file, so that the run goes on), also make before break.
# Asserts: a swap to vxlan is refused (a disk needs ordered, reliable
# messages), saying so, and nothing changes; every swap is answered and the wire is up (the new type) after
# it, and after the move on the new Corm; the run ends with 0 mismatches and 0 errors; at the Corm no request
# was lost or executed twice: the messages the disk Corms took from their
# wires are the guest's requests plus one HELLO per shm port (the nbd
# client answers the Spike's own), nothing more, nothing less; each swap
# logged the longest wait of a new request, and the worst is printed (also
# with the wait at the Corm's fence after the switch); each old nbd port was
# drained at the Corm by the client's DISC.
# Bounded: SWAPS swaps, 60 s at most. Needs root (xensim's guests): 77 otherwise.
XENSIM=$1 BANANAD=$2 BANANACTL=$3 G=$4
NG=/bin/true
. "$(dirname "$0")/../net/netlib.sh" # nl_* (xensim, bananad), $base, $dir
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root"; exit 77; fi
SWAPS=${BN_SWAPS:-20}
PORT=$((20000 + $$ % 20000))
ctl() { "$BANANACTL" "$@"; }

nl_start
truncate -s 64M "$base/disk.img"
cat >"$base/topo.yaml" <<EOF
version: 1
hosts:
  hostA: {site: test, domain: test}
endpoints:
  hostA/disk: {kind: corm, class: vbd, params: {path: $base/disk.img}}
  hostA/disk2: {kind: corm, class: vbd, params: {path: $base/disk.img, direct: 0}}
  hostA/g/vbd0: {kind: spike}
wires:
  d: {ends: [hostA/g/vbd0, hostA/disk], type: shm}
EOF
ctl apply "$base/topo.yaml" >"$base/apply.out" 2>&1 || nl_fail "apply: $(cat "$base/apply.out")"
"$G" --name g --sim-dir "$dir" --timeout 30 --verify --qd 32 --blocks 2048 --seconds 60 \
    --flush-every 64 >"$base/g.out" 2>"$base/g.log" &
gp=$!
nl_pids+=($gp)
nl_wait 20 grep -q connected "$base/g.out" || nl_fail "the verify guest did not connect"
sleep 0.5
# a disk over vxlan is refused before anything changes, saying why
! ctl swap d vxlan -o vni=7 -o end0.addr=127.0.0.1 -o end1.addr=127.0.0.1 -o end1.port=4799 \
    >"$base/swap.out" 2>&1 || nl_fail "a swap of a disk to vxlan was accepted"
grep -q "cannot carry device class 'vbd': it is not ordered, not reliable.*(kept shm)" "$base/swap.out" ||
    nl_fail "swap to vxlan refused how? $(cat "$base/swap.out")"
ctl wires d | grep -Eq 'shm .* up' || nl_fail "the refused swap changed the wire: $(ctl wires d)"
start=$(date +%s%N)
shm=1
for i in $(seq 1 "$SWAPS"); do
    if [ $((i % 2)) = 1 ]; then
        ctl swap d nbd -o "end1.listen=tcp:127.0.0.1:$PORT" >"$base/swap.out" 2>&1 ||
            nl_fail "swap $i to nbd: $(cat "$base/swap.out")"
        want=nbd
    else
        ctl swap d shm --no-options >"$base/swap.out" 2>&1 ||
            nl_fail "swap $i to shm: $(cat "$base/swap.out")"
        want=shm shm=$((shm + 1))
    fi
    nl_wait 10 bash -c "'$BANANACTL' wires d | grep -Eq '$want .* up'" ||
        nl_fail "swap $i: the wire is not up as $want: $(ctl wires d 2>&1)"
    sleep 0.25
done
ms=$((($(date +%s%N) - start) / 1000000))
# a topology change moves the wire's Corm end to another disk Corm (of the
# same file here, so that the verify run goes on): make before break too
sed 's#^  d: .*#  d: {ends: [hostA/g/vbd0, hostA/disk2], type: shm}#' "$base/topo.yaml" >"$base/topo2.yaml"
ctl apply "$base/topo2.yaml" >"$base/apply2.out" 2>&1 || nl_fail "apply (move): $(cat "$base/apply2.out")"
nl_wait 10 bash -c "'$BANANACTL' wires d | grep -Eq 'shm .*hostA/disk2 .* up'" ||
    nl_fail "the move: the wire is not up on hostA/disk2: $(ctl wires d 2>&1)"
grep -q "wire d: swapped from shm to shm" "$base/bananad.log" || nl_fail "the move was not a swap: $(grep 'wire d' "$base/bananad.log" | tail -5)"
shm=$((shm + 1))
sleep 1
kill -USR1 "$gp" 2>/dev/null
wait "$gp" || nl_fail "the verify guest failed: $(tail -5 "$base/g.log")"
res=$(grep -E "mismatches=" "$base/g.out" "$base/g.log" | tail -1)
echo "$res"
grep -q "mismatches=0 errors=0" <<<"$res" || nl_fail "verify run: $res"
ops=$(sed -nE 's/.* ops=([0-9]+) .*/\1/p' <<<"$res")
in=0
for k in disk disk2; do
    ctl --json endpoints hostA/$k >"$base/ep.json" || nl_fail "endpoints: $(cat "$base/ep.json")"
    in=$((in + $(grep -oE '"msgs_in": *[0-9]+' "$base/ep.json" | head -1 | grep -oE '[0-9]+$')))
done
echo "corms took $in messages: $ops requests + $shm hellos (shm ports); $SWAPS swaps in $ms ms"
[ -n "$ops" ] && [ "$ops" -gt 1000 ] || nl_fail "too few requests ($ops)"
[ "$in" = $((ops + shm)) ] || nl_fail "requests lost or doubled at the Corm: took $in, want $((ops + shm))"
# an nbd -> shm swap: the old nbd port drained at the Corm by the client's
# DISC (the Corm then reads the new port at once, not when the controller
# closes the old one)
d=$(grep -c "info: d: nbd: the client said DISC, every request answered: drained" "$base/bananad.log")
[ "$d" -ge $((SWAPS / 2)) ] || nl_fail "only $d of $((SWAPS / 2)) old nbd ports drained by DISC at the Corm"
waits=$(sed -nE "s/.*swapped from .* \(new requests waited ([0-9]+) us.*/\1/p" "$base/bananad.log" | sort -n)
n=$(wc -l <<<"$waits")
[ "$n" -ge "$SWAPS" ] || nl_fail "only $n swaps logged their wait"
echo "disk swap wait: median $(sed -n "$(((n + 1) / 2))p" <<<"$waits") us, worst $(tail -1 <<<"$waits") us over $n swaps"
# the same with what new requests then waited at the Corm's fence: a Corm
# port read only after the Spike switched (nbd -> shm) adds the time from
# the switch to its unfence (both counted from about the swap's start)
full=$(awk '/switched to the new port after/ { match($0, /after [0-9]+ us/); a = substr($0, RSTART + 6, RLENGTH - 9) + 0
        match($0, /waited [0-9]+ us/); w = substr($0, RSTART + 7, RLENGTH - 10) + 0; if (s) print ws; s = 1; c = 0; ws = w; next }
    /the new one is read \(fenced/ && s && !c++ { match($0, /fenced [0-9]+ us/); f = substr($0, RSTART + 7, RLENGTH - 10) + 0
        if (f > a) ws = w + f - a }
    END { if (s) print ws }' "$base/bananad.log" | sort -n)
n=$(wc -l <<<"$full")
echo "disk swap wait with the Corm's fence: median $(sed -n "$(((n + 1) / 2))p" <<<"$full") us, worst $(tail -1 <<<"$full") us over $n swaps"
echo "ok: $SWAPS swaps shm <-> nbd and a move to another Corm under a verify run: 0 mismatches, each request once at the Corms"
