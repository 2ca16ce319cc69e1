# bananad-restart: bananad stops while DomUs run, and starts again. Two
# DomUs on the bridge Corm br0; r1 also has a disk (io_uring Corm) on which
# it loops write / drop caches / read back / compare every 2 s while pinging
# r2 (guest/persist.sh with lab.io=1). Three stops:
#  - SIGKILL (a crash, nothing told to the guests), then start again with
#    the same state directory;
#  - SIGUSR2 (a restart, systemd's RestartKillSignal): bananad detaches, the
#    back-ends stay Connected (read from xenstore while it is down), then
#    start again;
#   after each: the topology is applied again (it must keep the wires the
#   hotplug scripts made: they are bananad's, in its store), the back-ends
#   are Connected, every device's wire is up, r1's disk I/O goes on with no
#   mismatch (IO-OK rounds, no IO-BAD) and its pings answer again;
#  - SIGTERM (a real stop): the back-ends are closed the Xen way (state 6).
# lab-timeout: 600
# (about 150 s on an idle 2-core host; two guests boot and bananad stops
# three times, so a loaded host needs more than the default 300 s)
. /lab/lib.sh
H=$LAB_HOST
IMG=$LAB_RUN/restart.raw
truncate -s 64M $IMG
# start_bananad NAME: one more bananad on the same state (log bananad.NAME.log).
start_bananad() { lab_bananad bananad.$1.log restart-state; }
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
be_paths() { echo /local/domain/0/backend/vif/$(domid_of r1)/0 /local/domain/0/backend/vbd/$(domid_of r1)/51712 /local/domain/0/backend/vif/$(domid_of r2)/0; }
for how in KILL USR2; do
        kill -$how $BPID
        wait_for 20 sh -c "! kill -0 $BPID 2>/dev/null" || { log "bananad ignored SIG$how"; kill -9 $BPID; }
        log "bananad stopped by SIG$how; guest r1 says: $(tail -2 $CON | tr '\n' ' ')"
        if [ $how = USR2 ]; then
                grep -q "detaching: the back-end stays Connected" $LAB_BANANAD_LOG
                check usr2-detached [ $? = 0 ] || ok=0
                for be in $(be_paths); do
                        st=$(xenstore-read $be/state 2> /dev/null)
                        check usr2-stays-connected-${be#/local/domain/0/backend/} [ "$st" = 4 ] || ok=0
                done
        fi
        sleep 3
        start_bananad after-$how
        # the hotplug scripts' wires are in bananad's store: applying the
        # topology again keeps them (and changes nothing)
        bananactl apply $LAB_RUN/restart.yaml > $LAB_RUN/restart.apply2 2>&1
        check after-$how-apply [ $? = 0 ] || { ok=0; cat $LAB_RUN/restart.apply2; }
        log "apply after restart: $(tail -1 $LAB_RUN/restart.apply2)"
        mark=$(($(wc -l < $CON) + 1))
        wait_for 120 connected
        check after-$how-connected connected || ok=0
        wired() {
                local s
                for s in $H/r1/vif0 $H/r1/xvda $H/r2/vif0; do
                        bananactl wires 2> /dev/null | grep -E "(^| )$s( |--)" | grep -q ' up$' || return 1
                done
        }
        wait_for 60 wired
        check after-$how-wires-up wired || { ok=0; bananactl wires | sed "s/^/[$LAB_TEST]   /"; }
        grep "taken back from the ring journal" $LAB_BANANAD_LOG | sed "s/^/[$LAB_TEST]   /"
        flowing after-$how
done
bananactl endpoints > $LAB_RUN/restart.ep 2>&1
sed "s/^/[$LAB_TEST]   /" $LAB_RUN/restart.ep
kill -TERM $BPID
wait_for 30 sh -c "! kill -0 $BPID 2>/dev/null" || { log "bananad ignored SIGTERM"; kill -9 $BPID; }
for be in $(be_paths); do
        st=$(xenstore-read $be/state 2> /dev/null)
        check term-closed-${be#/local/domain/0/backend/} [ "$st" = 6 ] || ok=0
done
log "after SIGTERM guest r1 says: $(tail -2 $CON | tr '\n' ' ')"
for g in r1 r2; do guest_destroy $g || ok=0; done
[ $ok = 1 ] || { for f in $LAB_RUN/bananad.after-*.log; do tail -15 $f | sed "s/^/[$LAB_TEST]   ${f##*/}: /"; done; fail "the running guests' devices did not recover from a bananad restart (above)"; }
pass
