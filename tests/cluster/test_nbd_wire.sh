#!/bin/bash
# tests/cluster/test_nbd_wire.sh BUILD_DIR: a disk across hosts over the
# nbd wire (issue 16 item 1). A simulated guest g1 on h1 has a vbd Spike
# wired by nbd to an io_uring file Corm on h2, whose end is an NBD server on
# h2's underlay address. No etcd: each host applies the same file and
# realises its half. Checks:
#  - nbdinfo (libnbd, not ours) against h2's end reports the Corm's size;
#  - a verify run (QD32, overlapping writes, flushes, discards): 0
#    mismatches, 0 errors;
#  - a verify run with h2's bananad SIGKILLed and restarted in its middle:
#    0 mismatches, h1's link down with the reason meanwhile (the client
#    replays what was unanswered); another across a 5 s underlay cut;
#  - nbdcopy writes and reads 64 MiB through h2's end in 1 MiB requests
#    (sha256 equal); fio's nbd engine writes at QD32, md5-verified;
#  - a second disk over an nbd wire with TLS (a CA made here, both ends
#    checked): 0 mismatches, a plaintext nbdinfo refused;
#  - the Spike's end against qemu-nbd on h2: 0 mismatches;
#  - an nbd wire with no listening end refused by apply, with its line.
B=$1
XENSIM=$B/sim/xensim/xensim BANANAD=$B/controller/bananad BANANACTL=$B/controller/bananactl
G=$B/sim/blkguest/sim-blkguest
. "$(dirname "$0")/cluster.sh"
cl_need_root
command -v nbdinfo >/dev/null || { echo "SKIP: no nbdinfo (libnbd-bin)"; exit 77; }
cl_underlay 2
cl_host 1
cl_host 2
ADDR=tcp:10.88.0.12:10809
truncate -s 64M "$CL_BASE/disk.img"
cat >"$CL_BASE/topo.yaml" <<YAML
version: 1
hosts:
  h1: {site: test, domain: test}
  h2: {site: test, domain: test}
endpoints:
  h2/disk: {kind: corm, class: vbd, params: {path: $CL_BASE/disk.img}}
  h1/g1/xvda: {kind: spike, class: vbd}
wires:
  g1-nbd:
    ends: [h1/g1/xvda, h2/disk]
    type: nbd
    options:
      end1: {listen: "$ADDR"}
YAML
for i in 2 1; do
    cl_ctl $i apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply$i.out" 2>&1 ||
        cl_fail "apply on h$i: $(cat "$CL_BASE/apply$i.out")"
done
wire_up() { cl_ctl "$1" wires g1-nbd 2>/dev/null | grep -qw up; }
wait_for 10 wire_up 2 || cl_fail "h2's end is not up: $(cl_ctl 2 wires 2>&1)"

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

guest g1 --verify --qd 32 --seconds 3 --flush-every 64 --discard-every 64 ||
    cl_fail "verify over nbd failed: $(tail -3 "$CL_BASE/g1.out")"
report_ok g1 || cl_fail "verify over nbd: $(tail -1 "$CL_BASE/g1.out")"
echo "ok: verify over nbd: $(tail -1 "$CL_BASE/g1.out")"

# h2's bananad SIGKILLed in the middle of a run, restarted 1 s later
guest g1 --verify --qd 32 --seconds 8 --flush-every 64 &
gpid=$!
sleep 2
kill -9 "${CL_BPID[2]}"
wait "${CL_BPID[2]}" 2>/dev/null
link_down() { cl_ctl 1 wires g1-nbd 2>/dev/null | grep -q "no connection to $ADDR"; }
wait_for 5 link_down || cl_fail "h1's link did not go down with the reason: $(cl_ctl 1 wires g1-nbd 2>&1)"
echo "down: $(cl_ctl 1 wires g1-nbd 2>&1 | grep -o 'nbd: no connection.*' | head -1)"
sleep 1
rm -f "$CL_BASE/h2/ctl.sock"
cl_bananad 2
wire_up 2 || cl_ctl 2 apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply2b.out" 2>&1 ||
    cl_fail "re-apply on h2: $(cat "$CL_BASE/apply2b.out")"
wait_for 10 wire_up 1 || cl_fail "h1's link did not come back: $(cl_ctl 1 wires g1-nbd 2>&1)"
wait "$gpid" || cl_fail "verify across h2's restart failed: $(tail -3 "$CL_BASE/g1.out")"
report_ok g1 || cl_fail "verify across h2's restart: $(tail -1 "$CL_BASE/g1.out")"
echo "ok: verify across h2's SIGKILL and restart: $(tail -1 "$CL_BASE/g1.out")"
rep=$(grep -o "nbd: connected to $ADDR again.*" "$CL_BASE/h1/bananad.log" | tail -1)
echo "$rep" | grep -qE "replaying [1-9][0-9]* unanswered" || cl_fail "h1's client replayed nothing: '$rep'"
echo "replayed: $rep"

# the underlay cut for 5 s in the middle of a run (h2's link down): TCP
# carries on, or the client reconnects and replays; 0 mismatches either way
guest g1 --verify --qd 32 --seconds 9 --flush-every 64 &
gpid=$!
sleep 2
ip -n "$CL_T-h2" link set ul0 down
sleep 5
ip -n "$CL_T-h2" link set ul0 up
wait "$gpid" || cl_fail "verify across a 5 s underlay cut failed: $(tail -3 "$CL_BASE/g1.out")"
report_ok g1 || cl_fail "verify across a 5 s underlay cut: $(tail -1 "$CL_BASE/g1.out")"
echo "ok: verify across a 5 s underlay cut: $(tail -1 "$CL_BASE/g1.out")"

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
truncate -s 32M "$CL_BASE/disk2.img"
cat >"$CL_BASE/topo2.yaml" <<YAML
version: 1
hosts:
  h1: {site: test, domain: test}
  h2: {site: test, domain: test}
endpoints:
  h2/disk: {kind: corm, class: vbd, params: {path: $CL_BASE/disk.img}}
  h1/g1/xvda: {kind: spike, class: vbd}
  h2/disk2: {kind: corm, class: vbd, params: {path: $CL_BASE/disk2.img}}
  h1/g2/xvda: {kind: spike, class: vbd}
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
YAML
for i in 2 1; do
    cl_ctl $i apply "$CL_BASE/topo2.yaml" >"$CL_BASE/apply$i.out" 2>&1 ||
        cl_fail "apply (TLS) on h$i: $(cat "$CL_BASE/apply$i.out")"
done
tls_up() { cl_ctl 2 wires g2-tls 2>/dev/null | grep -qw up; }
wait_for 10 tls_up || cl_fail "the TLS wire's server end is not up on h2: $(cl_ctl 2 wires g2-tls 2>&1)"
guest g2 --verify --qd 32 --seconds 3 --flush-every 64 || cl_fail "verify over nbd with TLS failed: $(tail -3 "$CL_BASE/g2.out")"
report_ok g2 || cl_fail "verify over nbd with TLS: $(tail -1 "$CL_BASE/g2.out")"
echo "ok: verify over nbd with TLS: $(tail -1 "$CL_BASE/g2.out")"
if out=$(cl_in 1 nbdinfo --size "nbd://10.88.0.12:10810" 2>&1); then
    cl_fail "a plaintext client was served by the TLS wire's end: $out"
fi
echo "ok: plaintext nbdinfo refused: $(echo "$out" | head -1)"
# the Spike's end against an NBD server nobody here wrote: qemu-nbd on h2
# (h2's bananad not told: only h1 applies), a verify run with 0 mismatches
if command -v qemu-nbd >/dev/null; then
    truncate -s 32M "$CL_BASE/q.img"
    # not through cl_in: $! must be qemu-nbd itself (ip netns exec execs it)
    ip netns exec "$CL_T-h2" qemu-nbd -t -f raw -x vol -b 10.88.0.12 -p 10811 "$CL_BASE/q.img" 2>"$CL_BASE/qemu-nbd.log" &
    cl_pids+=($!)
    qemu_up() { cl_in 1 nbdinfo --size "nbd://10.88.0.12:10811/vol" >/dev/null 2>&1; }
    wait_for 10 qemu_up || cl_fail "qemu-nbd did not start: $(cat "$CL_BASE/qemu-nbd.log")"
    {
        sed "s|^endpoints:|endpoints:\n  h2/qn: {kind: corm, class: vbd, params: {path: $CL_BASE/q.img}}\n  h1/g4/xvda: {kind: spike, class: vbd}|" \
            "$CL_BASE/topo2.yaml"
        echo "  g4-qemu:"
        echo "    ends: [h1/g4/xvda, h2/qn]"
        echo "    type: nbd"
        echo "    options: {export: vol, end1: {listen: \"tcp:10.88.0.12:10811\"}}"
    } >"$CL_BASE/topo4.yaml"
    cl_ctl 1 apply "$CL_BASE/topo4.yaml" >"$CL_BASE/apply1.out" 2>&1 ||
        cl_fail "apply (qemu-nbd) on h1: $(cat "$CL_BASE/apply1.out")"
    guest g4 --verify --qd 32 --seconds 3 --flush-every 64 --discard-every 64 ||
        cl_fail "verify against qemu-nbd failed: $(tail -3 "$CL_BASE/g4.out")"
    report_ok g4 || cl_fail "verify against qemu-nbd: $(tail -1 "$CL_BASE/g4.out")"
    echo "ok: verify against qemu-nbd: $(tail -1 "$CL_BASE/g4.out")"
else
    echo "note: no qemu-nbd, the Spike's end against it not run"
fi

# an nbd wire with no end listening is refused, saying what to give
sed "s|^endpoints:|endpoints:\n  h1/g3/xvda: {kind: spike, class: vbd}\n  h1/disk3: {kind: corm, class: vbd, params: {path: $CL_BASE/disk.img}}|" \
    "$CL_BASE/topo2.yaml" >"$CL_BASE/topo3.yaml"
echo "  g3-bad: {ends: [h1/g3/xvda, h1/disk3], type: nbd}" >>"$CL_BASE/topo3.yaml" # wires: is last
if cl_ctl 1 apply "$CL_BASE/topo3.yaml" >"$CL_BASE/c.out" 2>&1; then
    cl_fail "an nbd wire with no listening end was connected: $(cat "$CL_BASE/c.out")"
fi
grep -q "nbd: give exactly one end 'listen=tcp:HOST:PORT'" "$CL_BASE/c.out" ||
    cl_fail "apply of an nbd wire without listen: $(cat "$CL_BASE/c.out")"
cl_ctl 1 wires g3-bad >/dev/null 2>&1 && cl_fail "the refused apply made wire g3-bad"
echo "refused: $(cat "$CL_BASE/c.out")"
echo "PASS: a disk on h2 served to a guest on h1 over nbd, across h2's bananad killed and restarted, and over TLS"
