#!/bin/bash
# tests/cluster/test_nbd_wire.sh BUILD_DIR: a disk across hosts over the
# nbd wire (issue 16 item 1). A simulated guest g1 on h1 has a vbd Spike
# wired by nbd to an io_uring file Corm on h2, whose end is an NBD server on
# h2's underlay address. No etcd: each host applies the same file and
# realises its half. Checks: nbdinfo (libnbd, not ours) against h2's end
# reports the Corm's size; a verify run (QD32, overlapping writes, flushes,
# discards) ends with 0 mismatches and 0 errors; a second run with h2's
# bananad SIGKILLed and restarted in its middle also ends with 0
# mismatches, the Spike's link going down with the reason meanwhile, and
# the wire's client having replayed what was unanswered.
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
echo "PASS: a disk on h2 served to a guest on h1 over nbd, across h2's bananad killed and restarted"
