# bananad-xen: bananad's xen hypervisor provider against a real Xen. Dom0
# starts `bananad --hypervisor xen --foreground` from this checkout's build,
# `xl create`s a DomU whose vif is declared for vif-banana (bridge=topology), and
# checks what the provider can show today: bananad opened /dev/xen/gntdev and
# /dev/xen/evtchn, and its xenbus back-end for the guest's vif reached at
# least InitWait (2) (read back with xenstore-read). Reports, without
# requiring them yet, the front-end's state, Connected (4), and
# hotplug-status. SKIPs when this checkout has no bananad, or when its
# bananad has no vif device class yet.
. /lab/lib.sh
G=bnd
lab_bananad bananad.log bananad-state
bananactl status > $LAB_RUN/status.txt 2>&1 || fail "bananactl status: $(tail -3 $LAB_RUN/status.txt | tr '\n' ' ')"
log "bananad pid $BPID; bananactl status:"
sed "s/^/[$LAB_TEST]   /" $LAB_RUN/status.txt
check provider-xen grep -qiE 'hypervisor.*xen' $LAB_RUN/status.txt || fail "bananad does not say it runs on the xen provider"
if ! bananactl --json status 2> /dev/null | grep -q '"vif"'; then
        skip "bananad (this checkout) has no vif device class yet, so no back-end can serve the guest's vif"
fi
# fds of bananad (and its threads) that point at a Xen device
xen_fds() { ls -l /proc/$BPID/fd 2> /dev/null | grep -o '/dev/xen/[a-z]*' | sort -u | tr '\n' ' '; }

# bridge=topology: vif-banana connects nothing (no bridge Corm is needed to
# see the provider work), the Spike is served all the same.
cfg=$(guest_cfg $G "'mac=00:16:3e:00:00:03,bridge=topology,script=vif-banana'" "")
xl -v create "$cfg" > $LAB_RUN/$G.create.log 2>&1 &
XLPID=$!
max=0
fe=""
hp=""
fds=""
last=""
now_s() { cut -d. -f1 /proc/uptime; }
deadline=$(($(now_s) + 150))
while [ $(now_s) -lt $deadline ]; do
        D=$(domid_of $G)
        s=""
        if [ -n "$D" ]; then
                s=$(xs_read /local/domain/0/backend/vif/$D/0/state)
                [ -n "$s" ] && [ "$s" -gt $max ] && max=$s
                fe=$(xs_read /local/domain/$D/device/vif/0/state)
                hp=$(xs_read /local/domain/0/backend/vif/$D/0/hotplug-status)
        fi
        # the provider may open its handles only while a device is
        # connected: keep every device seen
        fds=$(echo "$fds $(xen_fds)" | tr ' ' '\n' | sort -u | grep . | tr '\n' ' ')
        cur="domain=${D:-none} back-end=${s:-?} front-end=${fe:-?} hotplug-status=${hp:-unset} xen-fds=${fds:-none}"
        [ "$cur" != "$last" ] && log "$cur" && last=$cur
        kill -0 $BPID 2> /dev/null || break
        # Connected, and the provider's handles seen: all there is to see.
        [ $max -ge 4 ] && echo "$fds" | grep -q gntdev && echo "$fds" | grep -q evtchn && break
        # xl create is over and the guest is gone: nothing more will come.
        ! kill -0 $XLPID 2> /dev/null && [ -z "$D" ] && break
        sleep 0.5
done
if kill -0 $XLPID 2> /dev/null; then
        log "xl create still running after 150 s: stopping it"
        kill $XLPID
fi
wait $XLPID
xlrc=$?
log "xl create exit $xlrc"
[ $xlrc = 0 ] || grep -E 'error|script:|warning' $LAB_RUN/$G.create.log | tail -15 | sed "s/^/[$LAB_TEST]   xl: /"
log "back-end max state $max, front-end state ${fe:-?}, hotplug-status ${hp:-unset}, bananad xen fds: ${fds:-none}"
log "bananad log (tail):"
tail -15 $LAB_RUN/bananad.log | sed "s/^/[$LAB_TEST]   /"
ok=1
check alive kill -0 $BPID || ok=0
check gntdev sh -c "echo '$fds' | grep -q gntdev" || ok=0
check evtchn sh -c "echo '$fds' | grep -q evtchn" || ok=0
check initwait [ $max -ge 2 ] || ok=0
D=$(domid_of $G)
[ -n "$D" ] && { guest_destroy $G || log "xl destroy $G failed"; }
kill $BPID
wait_for 10 sh -c "! kill -0 $BPID 2>/dev/null" || { log "bananad ignored SIGTERM for 10 s"; ok=0; }
[ $ok = 1 ] || fail "bananad's xen provider did not show what it should (above)"
pass
