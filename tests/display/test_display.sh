#!/bin/bash
# test_display.sh: the vdispl device class end to end on a private xensim:
# sim-dispguest (a displif front-end) creates a 1920x1080 display buffer by
# grant directory, draws a known pattern and flips pages; the Spike sends
# the frames over an shm wire to a display Corm; `bananactl snapshot` must
# give the guest's last frame pixel for pixel. Then guests with a bad grant
# directory and an out-of-range offset are disconnected, and only they: the
# first display still answers snapshots and a new guest still works.
# A VNC viewer built on libvncclient (vnc-grab) reads the same pixels from
# the Corm's VNC server, on a Unix socket and on 127.0.0.1 with a password.
# bananad is killed and restarted under vm1: its display comes back from
# the ring journal (buffers mapped again, screen served, flips go on). A
# two-head guest's connectors are side by side on the VNC screen.
#   test_display.sh XENSIM BANANAD BANANACTL SIM_DISPGUEST VNC_GRAB
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid
XENSIM=$1 BANANAD=$2 CTL=$3 DG=$4 GRAB=$5
HERE=$(dirname "${BASH_SOURCE[0]}")

T=$(mktemp -d /tmp/disp.XXXXXX)
SIM=$T/sim
BPID= XPID=
declare -a GUESTS=()

fail() { echo "FAIL: $*"; echo "--- bananad log:"; grep -v "info:" "$T/bananad.log" | tail -60; exit 1; }
cleanup() {
	for g in "${GUESTS[@]}"; do kill -TERM "$g" 2>/dev/null; done
	for g in "${GUESTS[@]}"; do stop_pid "$g" 10; done
	stop_pid "$BPID" 10
	stop_pid "$XPID" 10
	rm -rf "$T"
}
trap cleanup EXIT
wait_log() { wait_for "${2:-20}" grep -q -- "$1" "$T/bananad.log"; }
ctl() { "$CTL" --control "$T/ctl.sock" "$@"; }

"$XENSIM" --dir "$SIM" --pidfile "$T/xensim.pid" -q || fail "xensim did not start"
XPID=$(cat "$T/xensim.pid")
start_bananad() {
	"$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$SIM" \
		--state-dir "$T/state" --control "$T/ctl.sock" --workers 2 >"$T/bananad.log" 2>&1 &
	BPID=$!
	wait_log "bananad: running" || fail "bananad did not start"
}
start_bananad

PORT=$((20000 + RANDOM % 20000))
echo "sesame42" >"$T/vnc.pw"
# a VNC port without a password is refused, with the reason
cat >"$T/nopw.yaml" <<YAML
version: 1
hosts:
  hostA: {site: lab, domain: example}
endpoints:
  hostA/screen/open: {kind: corm, class: vdispl, params: {vnc-port: $PORT}}
YAML
ctl apply "$T/nopw.yaml" >"$T/nopw.out" 2>&1 && fail "a VNC port without a password was accepted"
grep -q "served with a password only" "$T/nopw.out" || { cat "$T/nopw.out"; fail "wrong refusal"; }

cat >"$T/topo.yaml" <<YAML
version: 1
hosts:
  hostA: {site: lab, domain: example}
endpoints:
  hostA/screen/vm1: {kind: corm, class: vdispl, params: {vnc-socket: $T/vm1.vnc}}
  hostA/vm1/vdispl0: {kind: spike, class: vdispl}
  hostA/screen/vm4:
    kind: corm
    class: vdispl
    params: {vnc-port: $PORT, vnc-password-file: $T/vnc.pw}
  hostA/vm4/vdispl0: {kind: spike, class: vdispl}
wires:
  vm1-screen: {ends: [hostA/vm1/vdispl0, hostA/screen/vm1]}
  vm4-screen: {ends: [hostA/vm4/vdispl0, hostA/screen/vm4]}
YAML
ctl apply "$T/topo.yaml" >"$T/apply.out" 2>&1 || { cat "$T/apply.out"; fail "apply failed"; }

# 1. a 1920x1080 display: flips, then the snapshot is the last frame
# (no timeout(1) around it: SIGUSR1 goes to the guest itself, whose every
# request times out by itself)
"$DG" --dir "$SIM" --name vm1 --res 1920x1080 --flips 10 --expect "$T/vm1.ppm" \
	--stay >"$T/vm1.out" 2>&1 &
VM1=$!
GUESTS+=($VM1)
wait_for 60 grep -q "done" "$T/vm1.out" || { cat "$T/vm1.out"; fail "vm1 did not finish its flips"; }
sed "s/^/  | /" "$T/vm1.out"
grep -q "10 page flip(s) answered with their events" "$T/vm1.out" || fail "vm1: flips unanswered"
ctl snapshot hostA/screen/vm1 "$T/vm1.png" || fail "snapshot failed"
python3 "$HERE/png_equal.py" "$T/vm1.png" "$T/vm1.ppm" || fail "vm1's snapshot differs"
# a VNC viewer nobody here wrote (libvncclient's) sees the same pixels
timeout 90 "$GRAB" "$T/vm1.vnc" 1920x1080 "$T/vm1.vnc.ppm" || fail "VNC viewer failed"
cmp -s "$T/vm1.vnc.ppm" "$T/vm1.ppm" || fail "the VNC screen differs from the guest's frame"
echo "VNC viewer on the Unix socket: 1920x1080 equal pixel for pixel"
# 1b. bananad crashes (SIGKILL) and, later, stops for a restart (SIGUSR2):
# each time the next one takes vm1's display back from its ring journal
# (the guest's buffer mapped again from its grant directory, no new
# handshake), the screen is still served, and vm1 flips on without noticing
n=0
for how in KILL USR2; do
	n=$((n + 1))
	kill -$how "$BPID"
	wait "$BPID"
	rc=$?
	[ $how = USR2 ] && [ $rc -ne 0 ] && fail "bananad exited $rc on SIGUSR2"
	mv "$T/bananad.log" "$T/bananad.$n.txt"
	rm -f "$T/ctl.sock"
	start_bananad
	wait_log "hostA/vm1/vdispl0: taken back from the ring journal: 1 display buffer(s) mapped again, 1 frame buffer(s)" ||
		fail "vm1's display was not taken back from its journal after SIGKILL"
	snap1() { ctl snapshot hostA/screen/vm1 "$T/vm1.r.png" >/dev/null 2>&1 && python3 "$HERE/png_equal.py" "$T/vm1.r.png" "$T/vm1.ppm" >/dev/null; }
	wait_for 10 snap1 || { snap1; fail "after the SIG$how restart the screen is not vm1's last frame"; }
	echo "after SIG$how: vm1's screen served again from the journal's buffer"
	kill -USR1 "$VM1"
	wait_for 30 grep -q "done again, frame $((10 * n + 10))" "$T/vm1.out" ||
		{ cat "$T/vm1.out"; fail "vm1 could not flip on after the SIG$how restart"; }
	wait_for 10 snap1 || { snap1; fail "vm1's frame after the restart did not reach the screen"; }
	echo "after SIG$how: 10 more flips of vm1 reached the screen"
done
grep -q "hostA/vm1/vdispl0: back-end state Connected -> Closing" "$T"/bananad*.* &&
	fail "vm1 was disconnected by a restart"
timeout 90 "$GRAB" "$T/vm1.vnc" 1920x1080 "$T/vm1.vnc.ppm" || fail "VNC viewer failed after the restarts"
cmp -s "$T/vm1.vnc.ppm" "$T/vm1.ppm" || fail "the VNC screen after the restarts differs"
# a snapshot of a Spike, or of nothing, is refused with the reason
ctl snapshot hostA/vm1/vdispl0 "$T/x.png" 2>"$T/err" && fail "snapshot of a Spike worked"
grep -q "not a Corm that shows images" "$T/err" || { cat "$T/err"; fail "wrong refusal"; }
ctl snapshot hostA/screen/vm4 "$T/x.png" 2>"$T/err" && fail "snapshot of an empty screen worked"
grep -q "has shown no frame yet" "$T/err" || { cat "$T/err"; fail "wrong refusal (empty)"; }

# 2. hostile guests: each is disconnected, nobody else is
for bad in dir offset prod; do
	timeout 60 "$DG" --dir "$SIM" --name "bad$bad" --hostile $bad >"$T/bad$bad.out" 2>&1 ||
		{ cat "$T/bad$bad.out"; fail "hostile guest ($bad) was not disconnected"; }
	sed "s/^/  | /" "$T/bad$bad.out"
done
wait_log "hostA/baddir/vdispl0.*grant directory" || fail "no error naming the bad directory"
wait_log "hostA/badoffset/vdispl0.*needs .* bytes, the buffer has" || fail "no error for the offset"
wait_log "hostA/badprod/vdispl0.*ring producer .* is impossible" || fail "no error for the producer"
grep -q "hostA/vm1/vdispl0: back-end state Connected -> Closing" "$T/bananad.log" &&
	fail "vm1 was disconnected by someone else's bad request"
ctl snapshot hostA/screen/vm1 "$T/vm1b.png" || fail "snapshot after the hostile guests failed"
python3 "$HERE/png_equal.py" "$T/vm1b.png" "$T/vm1.ppm" || fail "vm1's snapshot changed"
# vm4 ends drawing a frame without a flip (as fbdev does): the Spike's
# refresh finds the changed tiles and the screen shows it
# vm4 has two heads (connectors 0 and 1 show the same frame buffer): the
# Corm's VNC screen is them side by side, 1600x600
timeout 60 "$DG" --dir "$SIM" --name vm4 --res 800x600 --flips 3 --draw-without-flip --connectors 2 \
	--expect "$T/vm4.ppm" --stay >"$T/vm4.out" 2>&1 &
GUESTS+=($!)
wait_for 60 grep -q "done" "$T/vm4.out" || { cat "$T/vm4.out"; fail "vm4 failed after the hostile guests"; }
sed "s/^/  | /" "$T/vm4.out"
snap4() { ctl snapshot hostA/screen/vm4 "$T/vm4.png" >/dev/null && python3 "$HERE/png_equal.py" "$T/vm4.png" "$T/vm4.ppm"; }
wait_for 10 snap4 || { snap4; fail "vm4's snapshot is not the frame drawn without a flip"; }
echo "the frame drawn without a flip reached the Corm"
ctl snapshot hostA/screen/vm4 "$T/vm4.snap.ppm" || fail "snapshot as PPM failed"
cmp -s "$T/vm4.snap.ppm" "$T/vm4.ppm" || fail "vm4's PPM snapshot differs"
# 1920x1080 as PPM is larger than a control reply (4 MiB): refused, with the reason
ctl snapshot hostA/screen/vm1 "$T/vm1.ppm2" >/dev/null 2>&1 # .ppm2: PNG, fits
ctl snapshot hostA/screen/vm1 "$T/big.ppm" 2>"$T/err" && fail "a 6 MB reply was sent"
grep -q "do not fit a reply" "$T/err" || { cat "$T/err"; fail "wrong refusal (big PPM)"; }
python3 - "$T/vm4.ppm" "$T/vm4.side.ppm" <<'PY'
import sys
p = open(sys.argv[1], 'rb').read().split(maxsplit=4)
w, h, px = int(p[1]), int(p[2]), p[4]
rows = b''.join(px[y * w * 3:(y + 1) * w * 3] * 2 for y in range(h))
open(sys.argv[2], 'wb').write(b'P6\n%d %d\n255\n' % (2 * w, h) + rows)
PY
grab4() { timeout 60 "$GRAB" "127.0.0.1:$PORT" 1600x600 "$T/vm4.vnc.ppm" --password-file "$T/vnc.pw" &&
	cmp -s "$T/vm4.vnc.ppm" "$T/vm4.side.ppm"; }
wait_for 10 grab4 || fail "vm4's VNC screen is not its two heads side by side"
echo "VNC viewer on 127.0.0.1:$PORT with the password: 1600x600 (two heads side by side) equal pixel for pixel"
echo "wrong" >"$T/bad.pw"
timeout 30 "$GRAB" "127.0.0.1:$PORT" 1600x600 "$T/x.ppm" --password-file "$T/bad.pw" 2>/dev/null &&
	fail "a wrong VNC password was let in"
kill -0 "$BPID" || fail "bananad died"
# bananad stops cleanly (its Corms, VNC servers and screens freed), and no
# sanitizer spoke in any process
for g in "${GUESTS[@]}"; do kill -TERM "$g" 2>/dev/null; done
for g in "${GUESTS[@]}"; do stop_pid "$g" 10; done
GUESTS=()
kill -TERM "$BPID"
wait "$BPID"
rc=$?
BPID=
[ $rc -eq 0 ] || fail "bananad exited $rc on SIGTERM"
if [ -n "$(san_reports "$T"/*.log "$T"/*.out)" ]; then
	san_show "$T"/*.log "$T"/*.out
	fail "a sanitizer reported"
fi
echo "PASS"
