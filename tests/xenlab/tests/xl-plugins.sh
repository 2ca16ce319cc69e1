# xl-plugins: vif-banana and block-banana run by the real xl/libxl of Xen
# 4.17, with the shell stand-in back-end (libxl runs hotplug scripts only
# once the back-end is in InitWait) and a recorder in place of bananactl:
#  - xl create: the scripts get libxl's arguments and environment, call
#    `bananactl connect <host>/<vm>/vif0 <host>/br0` and
#    `bananactl connect <host>/<vm>/xvda <host>/disk/images/g.raw`, and
#    answer hotplug-status=connected;
#  - xl destroy: they disconnect the same wires;
#  - when bananactl fails, xl create fails and prints the scripts'
#    hotplug-error ("script: ... bananactl connect ... failed: <why> ...");
#  - with no bananactl at all, the error says so.
. /lab/lib.sh
G=plug
H=$LAB_HOST
S=/etc/xen/scripts
for f in vif-banana block-banana banana-common.sh; do
        [ -f $S/$f ] || fail "$S/$f is not installed in the lab's Dom0 (xl-plugins/ of this checkout)"
done
start_standin_backend
export LAB_CALLS=$LAB_RUN/bananactl.calls
export BANANACTL=/lab/bin/bananactl-recorder
VIF="'mac=00:16:3e:00:00:02,bridge=br0,script=vif-banana'"
DISK="'vdev=xvda,format=raw,script=block-banana,target=/images/g.raw'"
cfg=$(guest_cfg $G "$VIF" "$DISK")
ok=1

# 1. connect on xl create, hotplug-status=connected
: > $LAB_CALLS
guest_create "$cfg" || fail "xl create with vif-banana/block-banana failed: $(grep -m1 'script:' $LAB_RUN/$G.create.log)"
D=$(domid_of $G)
BV=/local/domain/0/backend/vif/$D/0
BB=/local/domain/0/backend/vbd/$D/51712
log "recorded: $(tr '\n' ';' < $LAB_CALLS)"
check vif-connect grep -qxF "connect $H/$G/vif0 $H/br0" $LAB_CALLS || ok=0
check blk-connect grep -qxF "connect $H/$G/xvda $H/disk/images/g.raw" $LAB_CALLS || ok=0
check vif-hotplug-status [ "$(xs_read $BV/hotplug-status)" = connected ] || ok=0
check blk-hotplug-status [ "$(xs_read $BB/hotplug-status)" = connected ] || ok=0
check vif-wire-recorded [ "$(xs_read $BV/banana-spike)" = "$H/$G/vif0" ] || ok=0

# 2. disconnect on xl destroy
: > $LAB_CALLS
guest_destroy $G || fail "xl destroy $G failed"
log "recorded: $(tr '\n' ';' < $LAB_CALLS)"
check vif-disconnect grep -qxF "disconnect $H/$G/vif0" $LAB_CALLS || ok=0
check blk-disconnect grep -qxF "disconnect $H/$G/xvda" $LAB_CALLS || ok=0

# 3. bananactl fails: xl create fails with the script's message
export LAB_CTL_RC=3 LAB_CTL_MSG="cannot reach bananad at /run/banana/ctl.sock: Connection refused"
cfg=$(guest_cfg $G "$VIF" "")
if guest_create "$cfg"; then
        echo "FAIL $LAB_TEST/error-fails-create: xl create succeeded although bananactl failed"
        ok=0
        guest_destroy $G
else
        msg=$(grep -m1 'script:' $LAB_RUN/$G.create.log)
        log "xl says: $msg"
        check error-reported sh -c "echo \"\$1\" | grep -q 'bananactl connect $H/$G/vif0 $H/br0 failed: cannot reach bananad'" _ "$msg" || ok=0
fi
wait_for 20 sh -c "! xl list $G >/dev/null 2>&1" || fail "failed guest $G still listed"

# 4. no bananactl at all
export BANANACTL=/nonexistent/bananactl
unset LAB_CTL_RC
if guest_create "$cfg"; then
        echo "FAIL $LAB_TEST/missing-bananactl: xl create succeeded without bananactl"
        ok=0
        guest_destroy $G
else
        msg=$(grep -m1 'script:' $LAB_RUN/$G.create.log)
        log "xl says: $msg"
        check missing-bananactl sh -c "echo \"\$1\" | grep -q 'not found in PATH'" _ "$msg" || ok=0
fi
[ $ok = 1 ] || fail "some checks failed (above)"
pass
