#!/bin/bash
# tests/cluster/test_nbd_wire.sh BUILD_DIR: disks across hosts over the nbd
# wire and over nbd inside the vpn wire's tunnel (issue 16 item 1). h1 and
# h2 are hosts of different administrative domains. Simulated guests on h1
# have vbd Spikes wired to io_uring file Corms on h2, whose ends are NBD
# servers: g1 over nbd (on h2's underlay address), g5 over nbd-vpn (on h2's
# address inside the OpenVPN tunnel between h1 and h2, whose type the
# policy picks: the hosts are in different domains), g2 over nbd with TLS,
# g4 against qemu-nbd. No etcd: each host applies the one topology file and
# realises its half. Checks:
#  - nbdinfo (libnbd, not ours) against h2's end reports the Corm's size;
#  - verify runs (QD32, overlapping writes, flushes, discards) over nbd and
#    over nbd-vpn at once: 0 mismatches, 0 errors; g5's wire is nbd-vpn,
#    one openvpn on h1, the NBD port not on h2's underlay;
#  - g5's wire swapped 4 times nbd-vpn <-> nbd during a verify run (g6 on
#    nbd-vpn beside it): 0 mismatches, each old nbd port drained at h2 by
#    the client's DISC, h2's Corm took each request once;
#  - both again with h2's bananad SIGKILLed and restarted in their middle:
#    0 mismatches, h1's links down with the reason meanwhile (the clients
#    replay what was unanswered); both again across a 5 s underlay cut;
#  - nbdcopy writes and reads 64 MiB through h2's end in 1 MiB requests
#    (sha256 equal); fio's nbd engine writes at QD32, md5-verified;
#  - g2 over TLS (a CA made here, both ends checked): 0 mismatches, a
#    plaintext nbdinfo refused;
#  - the Spike's end against qemu-nbd on h2: 0 mismatches;
#  - a disk over vpn refused by apply (not ordered, not reliable), an nbd
#    wire with no listening end refused by apply, with its line.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root
command -v nbdinfo >/dev/null || { echo "SKIP: no nbdinfo (libnbd-bin)"; exit 77; }
VPN=1
[ -c /dev/net/tun ] && command -v openvpn >/dev/null || { VPN=0; echo "note: no /dev/net/tun or openvpn: nbd-vpn not run"; }
cl_underlay 2
cl_host 1
cl_host 2
ADDR=tcp:10.88.0.12:10809
truncate -s 64M "$CL_BASE/disk.img"
truncate -s 32M "$CL_BASE/disk2.img" "$CL_BASE/disk5.img" "$CL_BASE/disk6.img" "$CL_BASE/q.img"

# TLS: a CA, h2's server certificate (for 10.88.0.12) and h1's client one
pki=$CL_BASE/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=nbd wire test CA" -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>"$pki/log" || cl_fail "openssl CA"
for who in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=nbd $who" \
        -keyout "$pki/$who.key" -out "$pki/$who.csr" 2>>"$pki/log" || cl_fail "openssl $who key"
    printf 'subjectAltName=IP:10.88.0.12\nextendedKeyUsage=%s\n' \
        "$([ $who = server ] && echo serverAuth || echo clientAuth)" >"$pki/$who.ext"
    openssl x509 -req -in "$pki/$who.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
        -days 2 -extfile "$pki/$who.ext" -out "$pki/$who.crt" 2>>"$pki/log" || cl_fail "openssl $who cert"
done
# the hosts' certificates for the tunnel (made by each bananad at start)
if [ $VPN = 1 ]; then
    for i in 1 2; do
        wait_for 10 test -s "$CL_BASE/h$i/state/vpn/host.fp" || cl_fail "h$i made no certificate"
    done
    FP1=$(sed 's/.*=//' "$CL_BASE/h1/state/vpn/host.fp") FP2=$(sed 's/.*=//' "$CL_BASE/h2/state/vpn/host.fp")
fi

# topo FILE [WIRE_YAML]: the one topology (plus a wire, for the refusals).
# g4's Corm is on h3, which runs no bananad: qemu-nbd on h2 serves g4.
# g5's wire has no type: the policy picks nbd-vpn for a disk between
# domains.
topo() {
    cat >"$1" <<YAML
version: 1
hosts:
  h1: {site: a, domain: a}
  h2: {site: b, domain: b}
  h3: {site: b, domain: b}
endpoints:
  h2/disk: {kind: corm, class: vbd, params: {path: $CL_BASE/disk.img}}
  h2/disk2: {kind: corm, class: vbd, params: {path: $CL_BASE/disk2.img}}
  h3/qn: {kind: corm, class: vbd, params: {path: $CL_BASE/q.img}}
  h1/g1/xvda: {kind: spike, class: vbd}
  h1/g2/xvda: {kind: spike, class: vbd}
  h1/g3/xvda: {kind: spike, class: vbd}
  h1/g4/xvda: {kind: spike, class: vbd}
$([ $VPN = 1 ] && cat <<V5
  h2/disk5: {kind: corm, class: vbd, params: {path: $CL_BASE/disk5.img}}
  h1/g5/xvda: {kind: spike, class: vbd}
  h2/disk6: {kind: corm, class: vbd, params: {path: $CL_BASE/disk6.img}}
  h1/g6/xvda: {kind: spike, class: vbd}
V5
)
wires:
  g1-nbd:
    ends: [h1/g1/xvda, h2/disk]
    type: nbd
    options:
      end1: {listen: "$ADDR"}
  g2-tls:
    ends: [h1/g2/xvda, h2/disk2]
    type: nbd
    options:
      tls-ca: $pki/ca.crt
      end0: {tls-cert: $pki/client.crt, tls-key: $pki/client.key}
      end1: {listen: "tcp:10.88.0.12:10810", tls-cert: $pki/server.crt, tls-key: $pki/server.key}
  g4-qemu:
    ends: [h1/g4/xvda, h3/qn]
    type: nbd
    options: {export: vol, end1: {listen: "tcp:10.88.0.12:10811"}}
$([ $VPN = 1 ] && cat <<V5
  g5-vpn:
    ends: [h1/g5/xvda, h2/disk5]
    options:
      end0: {addr: 10.88.0.11, fingerprint: "$FP1"}
      end1: {addr: 10.88.0.12, fingerprint: "$FP2", listen: "tcp:10.88.0.12:10812"}
  g6-vpn:
    ends: [h1/g6/xvda, h2/disk6]
    options:
      end0: {addr: 10.88.0.11, fingerprint: "$FP1"}
      end1: {addr: 10.88.0.12, fingerprint: "$FP2", listen: "tcp:10.88.0.12:10820"}
V5
)
${2:-}
YAML
}
topo "$CL_BASE/topo.yaml"
for i in 2 1; do
    cl_ctl $i apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply$i.out" 2>&1 ||
        cl_fail "apply on h$i: $(cat "$CL_BASE/apply$i.out")"
done
wire_up() { cl_ctl "$1" wires "$2" 2>/dev/null | grep -qw up; }
wait_for 10 wire_up 2 g1-nbd || cl_fail "h2's end is not up: $(cl_ctl 2 wires 2>&1)"

# a tool nobody here wrote sees the Corm's export
out=$(cl_in 1 nbdinfo "nbd://10.88.0.12:10809" 2>&1) || cl_fail "nbdinfo: $out"
echo "$out" | grep -q "export-size: 67108864" || cl_fail "nbdinfo does not show the 64 MiB export: $out"
echo "ok: nbdinfo: $(echo "$out" | grep export-size)"

guest() { # guest NAME ARGS...: the guest on h1, to completion, output in NAME.out
    local name=$1; shift
    cl_in 1 env XENSIM_DIR="$CL_BASE/h1/sim" timeout 90 "$G" --name "$name" --vdev xvda \
        --sim-dir "$CL_BASE/h1/sim" --timeout 30 "$@" >"$CL_BASE/$name.out" 2>"$CL_BASE/$name.log"
}
report_ok() { grep -q "verified=[1-9][0-9]* mismatches=0 errors=0" "$CL_BASE/$1.out"; }
# verify WHAT SECONDS [FAULT]: g1 (nbd) and g5 (nbd-vpn) verify at once
# while FAULT (a function) runs; both complete with 0 mismatches, 0 errors
GUESTS="g1"
[ $VPN = 1 ] && GUESTS="g1 g5"
verify() {
    local what=$1 secs=$2 fault=${3:-} g pids=()
    for g in $GUESTS; do
        guest "$g" --verify --qd 32 --seconds "$secs" --flush-every 64 --discard-every 64 &
        pids+=($!)
    done
    [ -n "$fault" ] && $fault
    for g in $GUESTS; do
        wait "${pids[0]}" || cl_fail "$g: verify $what failed: $(tail -3 "$CL_BASE/$g.out")"
        pids=("${pids[@]:1}")
        report_ok "$g" || cl_fail "$g: verify $what: $(tail -1 "$CL_BASE/$g.out")"
        echo "ok: $g: verify $what: $(tail -1 "$CL_BASE/$g.out")"
    done
}

# g5's Spike end (and so h1's openvpn) comes with the guest: its first
# requests wait in the client until the tunnel is up
verify "over nbd / nbd-vpn" 3
if [ $VPN = 1 ]; then
    t=$(cl_ctl 1 --json wires g5-vpn | python3 -c 'import json,sys; print(json.load(sys.stdin)["wires"][0]["type"])')
    [ "$t" = nbd-vpn ] || cl_fail "the policy gave the disk between domains type '$t', want nbd-vpn"
    # the NBD server of g5 is inside the tunnel, not on h2's underlay
    cl_in 2 ss -ltn | grep -q "10.250.[0-9.]*:10812 " || cl_fail "g5's server does not listen inside the tunnel: $(cl_in 2 ss -ltn)"
    cl_in 1 nbdinfo --size "nbd://10.88.0.12:10812" >/dev/null 2>&1 && cl_fail "g5's server answers on the underlay"
    n=$(pgrep -P "${CL_BPID[1]}" -x openvpn | wc -l)
    [ "$n" = 1 ] || cl_fail "h1 runs $n openvpn processes, want 1"
    echo "ok: g5 over $t (chosen by the policy) inside the tunnel: $(cl_in 2 ss -ltn | grep -o '10.250.[0-9.]*:10812')"
fi

# g5's wire swapped nbd-vpn -> nbd -> nbd-vpn -> nbd -> nbd-vpn during a
# verify run (bananactl swap on h2, the Corm's host, then on h1, the
# Spike's: make before break, no store), beside g6 on nbd-vpn (which keeps
# the hosts' tunnel up: a tunnel whose last wire went is stopped, and one
# started afresh takes seconds to link): 0 mismatches, each swap done on
# h1, the old nbd port drained at h2 by the client's DISC, and h2's Corm
# took exactly the guest's requests (none lost, none twice)
g5_is() { cl_ctl 1 wires g5-vpn 2>/dev/null | grep -Eq "^g5-vpn +$1 .* up"; }
corm_in() { cl_ctl 2 --json endpoints h2/disk5 | grep -oE '"msgs_in": *[0-9]+' | head -1 | grep -oE '[0-9]+$'; }
swap_g5() {
    local i t o
    wait_for 10 wire_up 1 g6-vpn && wait_for 10 wire_up 1 g5-vpn ||
        cl_fail "g5/g6 not up on h1 before the swaps: $(cl_ctl 1 wires 2>&1)"
    for i in 1 2 3 4; do
        sleep 0.3
        # a port of its own each time (h2's old server may still listen);
        # the last swap gives back the topology's options, port 10812
        o=(-o "end1.listen=tcp:10.88.0.12:$((10812 + i % 4))")
        if [ $((i % 2)) = 1 ]; then
            t=nbd
        else
            t=nbd-vpn o+=(-o end0.addr=10.88.0.11 -o "end0.fingerprint=$FP1" -o end1.addr=10.88.0.12
                -o "end1.fingerprint=$FP2")
        fi
        for h in 2 1; do
            cl_ctl $h swap g5-vpn $t "${o[@]}" >"$CL_BASE/swap.out" 2>&1 ||
                cl_fail "swap $i of g5-vpn to $t on h$h: $(cat "$CL_BASE/swap.out")"
        done
        wait_for 10 g5_is "$t" ||
            cl_fail "swap $i: g5-vpn not up as $t on h1: $(cl_ctl 1 wires g5-vpn 2>&1)"
    done
}
if [ $VPN = 1 ]; then
    in0=$(corm_in)
    GUESTS="g5 g6" verify "across 4 swaps nbd-vpn <-> nbd" 8 swap_g5
    ops=$(sed -nE 's/.* ops=([0-9]+) .*/\1/p' "$CL_BASE/g5.out" | tail -1)
    n=$(grep -c "wire g5-vpn: swapped from nbd" "$CL_BASE/h1/bananad.log")
    [ "$n" = 4 ] || cl_fail "h1 logged $n swaps of g5-vpn, want 4: $(grep 'g5-vpn' "$CL_BASE/h1/bananad.log" | tail -5)"
    d=$(grep -c "g5-vpn: nbd: the client said DISC, every request answered: drained" "$CL_BASE/h2/bananad.log")
    [ "$d" -ge 3 ] || cl_fail "h2 saw $d old nbd ports drained by DISC, want 4"
    corm_took() { [ "$(corm_in)" = "$1" ]; }
    wait_for 5 corm_took $((in0 + ops)) ||
        cl_fail "h2's Corm took $(($(corm_in) - in0)) requests over the swaps, the guest made $ops: lost or doubled"
    echo "ok: 4 swaps nbd-vpn <-> nbd under a verify run: $ops requests, each once at h2's Corm; waits: $(grep -oE 'g5-vpn: swapped from .*' "$CL_BASE/h1/bananad.log" | grep -oE 'waited [0-9]+ us' | tr '\n' ' ')"
fi

# h2's bananad SIGKILLed in the middle of a run, restarted 1 s later
link_down() { cl_ctl 1 wires g1-nbd 2>/dev/null | grep -q "no connection to $ADDR"; }
kill_h2() {
    sleep 2
    kill -9 "${CL_BPID[2]}"
    wait "${CL_BPID[2]}" 2>/dev/null
    wait_for 5 link_down || cl_fail "h1's link did not go down with the reason: $(cl_ctl 1 wires g1-nbd 2>&1)"
    echo "down: $(cl_ctl 1 wires g1-nbd 2>&1 | grep -o 'nbd: no connection.*' | head -1)"
    sleep 1
    rm -f "$CL_BASE/h2/ctl.sock"
    cl_bananad 2
    wire_up 2 g1-nbd || cl_ctl 2 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply2b.out" 2>&1 ||
        cl_fail "re-apply on h2: $(cat "$CL_BASE/apply2b.out")"
    wait_for 10 wire_up 1 g1-nbd || cl_fail "h1's link did not come back: $(cl_ctl 1 wires g1-nbd 2>&1)"
}
verify "across h2's SIGKILL and restart" 8 kill_h2
rep=$(grep -o "nbd: connected to $ADDR again.*" "$CL_BASE/h1/bananad.log" | tail -1)
echo "$rep" | grep -qE "replaying [1-9][0-9]* unanswered" || cl_fail "h1's client replayed nothing: '$rep'"
echo "replayed: $rep"
if [ $VPN = 1 ]; then
    rep=$(grep -o "nbd: connected to tcp:10\.250\.[0-9.]*:10812 again.*" "$CL_BASE/h1/bananad.log" | tail -1)
    echo "$rep" | grep -qE "replaying [1-9][0-9]* unanswered" || cl_fail "h1's nbd-vpn client replayed nothing: '$rep'"
    echo "replayed (nbd-vpn): $rep"
fi

# the underlay cut for 5 s in the middle of a run (h2's link down): TCP
# carries on, or the client reconnects and replays; 0 mismatches either way
cut_h2() {
    sleep 2
    ip -n "$CL_T-h2" link set ul0 down
    sleep 5
    ip -n "$CL_T-h2" link set ul0 up
}
verify "across a 5 s underlay cut" 9 cut_h2

# nbdcopy (libnbd) through h2's end, 1 MiB requests (split into 128 KiB
# messages for the Corm) with a final flush: the file on h2 holds the bytes,
# and reading them back through the wire gives them again
head -c 64M /dev/urandom >"$CL_BASE/rand.bin"
cl_in 1 nbdcopy --request-size=1048576 --flush "$CL_BASE/rand.bin" "nbd://10.88.0.12:10809" \
    >"$CL_BASE/copy.out" 2>&1 || cl_fail "nbdcopy to h2's end: $(cat "$CL_BASE/copy.out")"
want=$(sha256sum <"$CL_BASE/rand.bin")
[ "$(sha256sum <"$CL_BASE/disk.img")" = "$want" ] || cl_fail "h2's disk does not hold what nbdcopy wrote"
cl_in 1 nbdcopy --request-size=1048576 "nbd://10.88.0.12:10809" "$CL_BASE/back.bin" \
    >"$CL_BASE/copy.out" 2>&1 || cl_fail "nbdcopy from h2's end: $(cat "$CL_BASE/copy.out")"
[ "$(sha256sum <"$CL_BASE/back.bin")" = "$want" ] || cl_fail "what nbdcopy read back differs"
rm -f "$CL_BASE/rand.bin" "$CL_BASE/back.bin"
echo "ok: nbdcopy 64 MiB in 1 MiB requests to h2's end and back: sha256 equal"

# fio's nbd engine against h2's end: random writes at QD32 verified by md5
if fio --enghelp 2>/dev/null | grep -qw nbd; then
    cl_in 1 timeout 120 fio --name=nbdverify --ioengine=nbd --uri="nbd://10.88.0.12:10809" \
        --rw=randwrite --bs=4k --iodepth=32 --size=16M --verify=md5 --verify_fatal=1 \
        --do_verify=1 --verify_state_save=0 --output="$CL_BASE/fio.out" >/dev/null 2>&1 ||
        cl_fail "fio against h2's end: $(tail -20 "$CL_BASE/fio.out")"
    grep -q "err= 0" "$CL_BASE/fio.out" || cl_fail "fio reported errors: $(grep err= "$CL_BASE/fio.out")"
    echo "ok: fio's nbd engine, randwrite QD32 md5-verified: $(grep -o 'IOPS=[^,]*' "$CL_BASE/fio.out" | head -2 | tr '\n' ' ')"
else
    echo "note: fio has no nbd engine, not run"
fi

# g2 over TLS
wait_for 10 wire_up 2 g2-tls || cl_fail "the TLS wire's server end is not up on h2: $(cl_ctl 2 wires g2-tls 2>&1)"
guest g2 --verify --qd 32 --seconds 2 --flush-every 64 || cl_fail "verify over nbd with TLS failed: $(tail -3 "$CL_BASE/g2.out")"
report_ok g2 || cl_fail "verify over nbd with TLS: $(tail -1 "$CL_BASE/g2.out")"
echo "ok: verify over nbd with TLS: $(tail -1 "$CL_BASE/g2.out")"
if out=$(cl_in 1 nbdinfo --size "nbd://10.88.0.12:10810" 2>&1); then
    cl_fail "a plaintext client was served by the TLS wire's end: $out"
fi
echo "ok: plaintext nbdinfo refused: $(echo "$out" | head -1)"
# the Spike's end against an NBD server nobody here wrote: qemu-nbd on h2
# (h2's bananad not told: only h1 applies), a verify run with 0 mismatches
if command -v qemu-nbd >/dev/null; then
    # not through cl_in: $! must be qemu-nbd itself (ip netns exec execs it)
    ip netns exec "$CL_T-h2" qemu-nbd -t -f raw -x vol -b 10.88.0.12 -p 10811 "$CL_BASE/q.img" 2>"$CL_BASE/qemu-nbd.log" &
    cl_pids+=($!)
    qemu_up() { cl_in 1 nbdinfo --size "nbd://10.88.0.12:10811/vol" >/dev/null 2>&1; }
    wait_for 10 qemu_up || cl_fail "qemu-nbd did not start: $(cat "$CL_BASE/qemu-nbd.log")"
    guest g4 --verify --qd 32 --seconds 2 --flush-every 64 --discard-every 64 ||
        cl_fail "verify against qemu-nbd failed: $(tail -3 "$CL_BASE/g4.out")"
    report_ok g4 || cl_fail "verify against qemu-nbd: $(tail -1 "$CL_BASE/g4.out")"
    echo "ok: verify against qemu-nbd: $(tail -1 "$CL_BASE/g4.out")"
else
    echo "note: no qemu-nbd, the Spike's end against it not run"
fi

# a disk over vpn (NIC frames: not ordered, not reliable) is refused by
# apply, naming what is missing; nothing changed
topo "$CL_BASE/topo6.yaml" "  g6-bad: {ends: [h1/g3/xvda, h2/disk2], type: vpn, options: {vni: 6}}"
if cl_ctl 1 apply "$CL_BASE/topo6.yaml" >"$CL_BASE/c.out" 2>&1; then
    cl_fail "a disk was connected over vpn: $(cat "$CL_BASE/c.out")"
fi
grep -q "wire type 'vpn' cannot carry device class 'vbd': it is not ordered, not reliable (vbd needs ordered and reliable messages)" "$CL_BASE/c.out" ||
    cl_fail "apply of a disk over vpn: $(cat "$CL_BASE/c.out")"
cl_ctl 1 wires g6-bad >/dev/null 2>&1 && cl_fail "the refused apply made wire g6-bad"
echo "refused: $(cat "$CL_BASE/c.out")"

# an nbd wire with no end listening is refused, saying what to give
topo "$CL_BASE/topo3.yaml" "  g3-bad: {ends: [h1/g3/xvda, h2/disk2], type: nbd}"
if cl_ctl 1 apply "$CL_BASE/topo3.yaml" >"$CL_BASE/c.out" 2>&1; then
    cl_fail "an nbd wire with no listening end was connected: $(cat "$CL_BASE/c.out")"
fi
grep -q "nbd: give exactly one end 'listen=tcp:HOST:PORT'" "$CL_BASE/c.out" ||
    cl_fail "apply of an nbd wire without listen: $(cat "$CL_BASE/c.out")"
cl_ctl 1 wires g3-bad >/dev/null 2>&1 && cl_fail "the refused apply made wire g3-bad"
echo "refused: $(cat "$CL_BASE/c.out")"
echo "PASS: disks on h2 served to guests on h1 over nbd and nbd-vpn, across h2's bananad killed and restarted and a 5 s cut, over TLS, and against qemu-nbd"
