# bananad-restart: bananad stops while a DomU runs, and starts again. Two
# DomUs on the bridge Corm br0; r1 also has a disk (io_uring Corm) on which
# it loops write / drop caches / read back / compare every 2 s while pinging
# r2 (guest/persist.sh with lab.io=1). bananad is killed (SIGKILL: a crash,
# nothing told to the guests) and started again with the same state
# directory, and xl-plugins/banana-rewire wires the guests' devices again
# (the wires vif-banana / block-banana made lived in the old bananad); then
# the same with SIGTERM (a clean stop). After each restart
# the back-ends are Connected again, r1's disk I/O goes on with no mismatch
# (no IO-BAD, IO-OK rounds after the restart) and its pings answer again.
. /lab/lib.sh
H=$LAB_HOST
command -v bananad > /dev/null || skip "no bananad in this checkout's build"
IMG=$LAB_RUN/restart.raw
truncate -s 64M $IMG
ip link add br0 type bridge 2> /dev/null
ip link set br0 up
STATE=$LAB_RUN/restart-state
start_bananad() {
        lab_bg $LAB_RUN/bananad.$1.log bananad --hypervisor xen --foreground --host "$H" --state-dir $STATE
        BPID=$LAB_BG_PID
        LAB_BANANAD_LOG=$LAB_RUN/bananad.$1.log
        wait_for 30 sh -c "bananactl status > /dev/null 2>&1 || ! kill -0 $BPID 2>/dev/null"
        kill -0 $BPID 2> /dev/null || fail "bananad ($1) exited at once: $(tail -5 $LAB_RUN/bananad.$1.log | tr '\n' ' ')"
}
start_bananad first
cat > $LAB_RUN/restart.yaml << YAML
version: 1
hosts:
  $H: {}
endpoints:
  $H/br0: {kind: corm, class: vif, params: {bridge: br0}}
  $H/disk/r1: {kind: corm, class: vbd, params: {path: $IMG}}
YAML
bananactl apply $LAB_RUN/restart.yaml > $LAB_RUN/restart.apply 2>&1 || fail "bananactl apply failed: $(tail -2 $LAB_RUN/restart.apply | tr '\n' ' ')"
cfg=$(guest_cfg r2 "'mac=00:16:3e:00:03:02,bridge=br0,script=vif-banana'" \
        "" "lab.run=persist lab.ip=10.78.0.2")
guest_create "$cfg" || fail "xl create r2 failed: $(grep -m1 -E 'script:|error' $LAB_RUN/r2.create.log)"
cfg=$(guest_cfg r1 "'mac=00:16:3e:00:03:01,bridge=br0,script=vif-banana'" \
        "'vdev=xvda,format=raw,script=block-banana,target=$H/disk/r1'" "lab.run=persist lab.io=1 lab.ip=10.78.0.1 lab.peer=10.78.0.2")
guest_create "$cfg" || fail "xl create r1 failed: $(grep -m1 -E 'script:|error' $LAB_RUN/r1.create.log)"
CON=$(guest_console r1)
ok=1
connected() {
        local be
        for be in vif/$(domid_of r1)/0 vbd/$(domid_of r1)/51712 vif/$(domid_of r2)/0; do
                xs_state_ge /local/domain/0/backend/$be 4 || return 1
        done
}
# flowing STEP: after console line $mark, 3 IO-OK and 3 NET-OK rounds, no IO-BAD
flowing() {
        wait_watched 150 sh -c "[ \$(tail -n +$mark $CON | grep -c IO-OK) -ge 3 ] && [ \$(tail -n +$mark $CON | grep -c NET-OK) -ge 3 ]"
        log "$1: $(tail -n +$mark $CON | grep -c IO-OK) IO-OK, $(tail -n +$mark $CON | grep -c NET-OK) NET-OK, $(tail -n +$mark $CON | grep -cE 'IO-(BAD|ERR)') IO-BAD/ERR, $(tail -n +$mark $CON | grep -c NET-LOST) NET-LOST since the mark"
        check $1-disk-io [ "$(tail -n +$mark $CON | grep -c IO-OK)" -ge 3 ] || ok=0
        check $1-no-corruption sh -c "! tail -n +$mark $CON | grep -q IO-BAD" || { ok=0; grep IO-BAD $CON | tail -3; }
        check $1-ping [ "$(tail -n +$mark $CON | grep -c NET-OK)" -ge 3 ] || ok=0
}
wait_for 120 connected
check before-connected connected || ok=0
mark=1
flowing before
for how in KILL TERM; do
        kill -$how $BPID
        wait_for 15 sh -c "! kill -0 $BPID 2>/dev/null" || { log "bananad ignored SIG$how"; kill -9 $BPID; }
        log "bananad stopped by SIG$how; guest r1 says: $(tail -2 $CON | tr '\n' ' ')"
        sleep 3
        start_bananad after-$how
        # the restarted bananad knows the topology from its state directory;
        # apply again in case it does not (idempotent)
        bananactl apply $LAB_RUN/restart.yaml > $LAB_RUN/restart.apply2 2>&1 || log "apply after restart: $(tail -1 $LAB_RUN/restart.apply2)"
        # the wires the hotplug scripts made live in bananad: wire them again
        # from what the scripts recorded in xenstore (what an operator runs
        # after bananad starts, docs/xl.md)
        /etc/xen/scripts/banana-rewire > $LAB_RUN/rewire.log 2>&1
        check after-$how-rewire [ $? = 0 ] || { ok=0; cat $LAB_RUN/rewire.log; }
        sed "s/^/[$LAB_TEST]   /" $LAB_RUN/rewire.log
        mark=$(($(wc -l < $CON) + 1))
        wait_for 120 connected
        check after-$how-connected connected || ok=0
        flowing after-$how
done
bananactl endpoints > $LAB_RUN/restart.ep 2>&1
sed "s/^/[$LAB_TEST]   /" $LAB_RUN/restart.ep
for g in r1 r2; do guest_destroy $g || ok=0; done
[ $ok = 1 ] || { for f in $LAB_RUN/bananad.after-*.log; do tail -15 $f | sed "s/^/[$LAB_TEST]   ${f##*/}: /"; done; fail "the running guests' devices did not recover from a bananad restart (above)"; }
pass
