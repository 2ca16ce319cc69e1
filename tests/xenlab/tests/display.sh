# display: a DomU declared with `vdispl=` (one connector, 320x240), its
# Linux drm_xen_front served by bananad's vdispl Spike, wired to a display
# Corm. The guest (guest/display.sh) writes a known pattern into its frame
# buffer through KMS (guest/kmsdraw.c: a modeset, then a page flip: Linux's
# drm_xen_front has no fbdev); Dom0 takes the
# Corm's snapshot as PPM and as PNG: the PPM's pixels must equal the
# guest's pattern byte for byte (sha256 of the RGB bytes), the PNG must be a
# PNG of the connector's size.
# lab-timeout: 400
. /lab/lib.sh
H=$LAB_HOST
G=disp
command -v bananad > /dev/null || skip "no bananad in this checkout's build"
lab_bananad bananad.log disp-state --log-level debug
cat > $LAB_RUN/disp.yaml << YAML
version: 1
hosts:
  $H: {}
endpoints:
  $H/screen/$G: {kind: corm, class: vdispl}
  $H/$G/vdispl0: {kind: spike, class: vdispl}
wires:
  $G-screen: {ends: [$H/$G/vdispl0, $H/screen/$G]}
YAML
bananactl apply $LAB_RUN/disp.yaml > $LAB_RUN/disp.apply 2>&1 || fail "bananactl apply of the display Corm failed: $(tail -2 $LAB_RUN/disp.apply | tr '\n' ' ')"
cfg=$(guest_cfg $G "" "" "lab.run=display lab.display=1")
echo "vdispl = [ 'backend=0,be-alloc=0,connectors=id0:320x240' ]" >> "$cfg"
guest_create "$cfg" || fail "xl create with a vdispl failed: $(grep -m2 -iE 'error|vdispl' $LAB_RUN/$G.create.log | tr '\n' ' ')"
DOM=$(domid_of $G)
BE=/local/domain/0/backend/vdispl/$DOM/0
ok=1
wait_for 120 xs_state_ge $BE 4
check vdispl-connected xs_state_ge $BE 4 || ok=0
wait_watched 200 sh -c "grep -qE 'DISPLAY-(OK|FAIL)' $(guest_console $G)"
log "$G console:"
{ grep -E 'GUEST-RUN' $(guest_console $G) | tail -12; grep GUEST-TICK $(guest_console $G) | tail -1; } | sed "s/^/[$LAB_TEST]   /"
want=$(sed -n 's/.*DISPLAY-OK 320x240 \([0-9a-f]*\).*/\1/p' $(guest_console $G) | tail -1)
check guest-drew-pattern [ -n "$want" ] || ok=0
# the flip's frame reached the Corm before its event reached the guest
snap_sum() {
        bananactl snapshot $H/screen/$G $LAB_RUN/snap.ppm > /dev/null 2>&1 &&
                [ "$(tail -c $((320 * 240 * 3)) $LAB_RUN/snap.ppm | sha256sum | cut -d' ' -f1)" = "$want" ]
}
if [ -n "$want" ]; then
        wait_for 30 snap_sum
        check ppm-equals-guest-pattern snap_sum || ok=0
        head -c 20 $LAB_RUN/snap.ppm | head -2 | tr '\n' ' ' | sed "s/^/[$LAB_TEST]   snapshot: /"
        echo
        bananactl snapshot $H/screen/$G $LAB_RUN/snap.png > /dev/null 2>&1
        # PNG signature, then IHDR: width 320 (0x140) and height 240 (0xf0)
        check png-is-320x240 [ "$(od -An -tx1 -j0 -N24 $LAB_RUN/snap.png | tr -d ' \n')" = \
                "89504e470d0a1a0a0000000d4948445200000140000000f0" ] || ok=0
fi
guest_destroy $G || ok=0
check bananad-alive kill -0 $BPID || ok=0
[ $ok = 1 ] || { grep -E 'vdispl|display|error|warn' $LAB_RUN/bananad.log | tail -20 | sed "s/^/[$LAB_TEST]   bananad: /"; fail "the guest's display did not reach the Corm (above)"; }
pass
