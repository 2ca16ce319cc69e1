#!/bin/bash
# tests/cluster/test_display_remote.sh BUILD_DIR: a remote console, the
# double split for displays (issue 18 item 2). A simulated display guest on
# h1 has a vdispl Spike wired by the stream wire (TCP on the underlay) to a
# display Corm with VNC on h2: the frames go as the wire's regions (only the
# changed bands) and frame messages. No etcd: each host applies the same
# file and realises its half. Checks:
#  - the wire between hosts is refused for vxlan (the class needs ordered,
#    reliable messages with regions), naming what is missing, and a stream
#    wire without a listening end is refused with the reason;
#  - h2's snapshot (PNG) of the guest's 1280x720 screen after 10 flips is
#    its last frame pixel for pixel, and a VNC viewer nobody here wrote
#    (libvncclient's) on h2 reads the same pixels;
#  - h2's bananad is killed and started again: the stream wire reconnects,
#    the Spike sends every band again, and 5 more flips reach h2's screen.
B=$1
GRAB=$B/tests/display/vnc-grab
HERE=$(dirname "$0")
. "$HERE/cluster.sh"
cl_programs "$B"
cl_need_root
cl_underlay 2
cl_host 1
cl_host 2
ADDR=tcp:10.88.0.12:$((20000 + RANDOM % 20000))
topo() { # topo TYPE: the remote console over a wire of that type
    cat <<YAML
version: 1
hosts:
  h1: {site: test, domain: test}
  h2: {site: test, domain: test}
endpoints:
  h2/screen/vm1: {kind: corm, class: vdispl, params: {vnc-socket: $CL_BASE/vm1.vnc}}
  h1/vm1/vdispl0: {kind: spike, class: vdispl}
wires:
  vm1-console:
    ends: [h1/vm1/vdispl0, h2/screen/vm1]
    type: $1
    options:
$([ "$1" = stream ] && echo "      end1: {listen: \"$ADDR\"}" || echo "      end0: {remote: 10.88.0.12}")
YAML
}
topo vxlan >"$CL_BASE/vxlan.yaml"
cl_ctl 1 apply "$CL_BASE/vxlan.yaml" >"$CL_BASE/vxlan.out" 2>&1 && cl_fail "a display over vxlan was accepted"
grep -q "cannot carry device class 'vdispl'.*without regions" "$CL_BASE/vxlan.out" ||
    cl_fail "wrong refusal of vxlan: $(cat "$CL_BASE/vxlan.out")"
echo "ok: vxlan refused: $(grep -o "it is .*" "$CL_BASE/vxlan.out" | head -1)"
topo stream | sed '/end1: {listen/d; /options:/d' >"$CL_BASE/nolisten.yaml"
cl_ctl 1 apply "$CL_BASE/nolisten.yaml" >"$CL_BASE/nolisten.out" 2>&1 && cl_fail "a stream wire with no listening end was accepted"
grep -q "exactly one end needs 'listen'" "$CL_BASE/nolisten.out" ||
    cl_fail "wrong refusal of a stream wire without listen: $(cat "$CL_BASE/nolisten.out")"
echo "ok: a stream wire with no listening end refused: $(head -1 "$CL_BASE/nolisten.out")"
topo stream >"$CL_BASE/topo.yaml"
for i in 2 1; do
    cl_ctl $i apply "$CL_BASE/topo.yaml" >"$CL_BASE/apply$i.out" 2>&1 ||
        cl_fail "apply on h$i: $(cat "$CL_BASE/apply$i.out")"
done
"$DG" --dir "$CL_BASE/h1/sim" --name vm1 --res 1280x720 --flips 10 --expect "$CL_BASE/vm1.ppm" \
    --stay >"$CL_BASE/vm1.out" 2>&1 &
VM1=$!
cl_pids+=($VM1)
wait_for 60 grep -q "done" "$CL_BASE/vm1.out" || cl_fail "vm1 did not finish its flips: $(cat "$CL_BASE/vm1.out")"
sed "s/^/  | /" "$CL_BASE/vm1.out"
snap() { cl_ctl 2 snapshot h2/screen/vm1 "$CL_BASE/vm1.png" >/dev/null 2>&1 &&
    python3 "$HERE/../display/png_equal.py" "$CL_BASE/vm1.png" "$CL_BASE/vm1.ppm" >/dev/null; }
wait_for 15 snap || { snap; cl_fail "h2's snapshot is not vm1's last frame"; }
echo "ok: h2's snapshot of h1's guest: 1280x720 equal pixel for pixel"
timeout 60 "$GRAB" "$CL_BASE/vm1.vnc" 1280x720 "$CL_BASE/vm1.vnc.ppm" || cl_fail "VNC viewer failed"
cmp -s "$CL_BASE/vm1.vnc.ppm" "$CL_BASE/vm1.ppm" || cl_fail "h2's VNC screen differs from vm1's frame"
echo "ok: a VNC viewer on h2 reads the same pixels"

# h2's bananad crashes and comes back: the wire reconnects, the screen fills again
kill -KILL "${CL_BPID[2]}"
wait "${CL_BPID[2]}" 2>/dev/null
rm -f "$CL_BASE/h2/ctl.sock"
mv "$CL_BASE/h2/bananad.log" "$CL_BASE/h2/bananad.1.txt"
cl_bananad 2
wait_for 15 snap || { snap; cl_fail "after h2's restart its screen is not vm1's frame"; }
echo "ok: after h2's bananad restarted, the stream wire reconnected and the screen is whole again"
kill -USR1 $VM1
wait_for 30 grep -q "done again" "$CL_BASE/vm1.out" || cl_fail "vm1 could not flip on: $(cat "$CL_BASE/vm1.out")"
wait_for 15 snap || { snap; cl_fail "vm1's new frames did not reach h2"; }
echo "ok: 10 more flips reached h2's screen"
grep -q "wire vm1-console.*connected to $ADDR\|wire .*connected to $ADDR" "$CL_BASE/h1/bananad.log" ||
    cl_fail "h1 does not say it connected to $ADDR"
echo PASS
