# lab-boot: proves the lab's own plumbing, without bananad. A PV DomU with a
# vif and a disk boots; `xl list` shows it; the shell stand-in back-end (not
# bananad) moves the back-ends to InitWait, and Linux's netfront and
# blkfront then publish their rings and event channels in xenstore; the
# guest's console reaches Dom0; `xl destroy` removes the guest and its
# xenstore directories.
. /lab/lib.sh
G=labboot
start_standin_backend
cfg=$(guest_cfg $G "'mac=00:16:3e:00:00:01,script=/bin/true'" \
        "'vdev=xvda,format=raw,backendtype=phy,script=/bin/true,target=/dev/null'")
guest_create "$cfg" || fail "xl create of a guest with a stand-in back-end failed: $(tail -1 $LAB_RUN/$G.create.log)"
D=$(domid_of $G)
log "guest $G is domain $D"
xl list | grep -qE "^$G +$D " || fail "xl list does not show $G as domain $D"
wait_for 90 console_has $G "GUEST-UP name=$G" || fail "no GUEST-UP on $G's console ($(guest_console $G))"
FE=/local/domain/$D/device
N=$FE/vif/0
V=$FE/vbd/51712
wait_for 90 xs_exists $N/tx-ring-ref || fail "netfront never wrote $N/tx-ring-ref (state $(xs_read $N/state))"
wait_for 90 xs_exists $V/ring-ref || fail "blkfront never wrote $V/ring-ref (state $(xs_read $V/state))"
for k in $N/tx-ring-ref $N/rx-ring-ref $N/event-channel $N/request-rx-copy $V/ring-ref $V/event-channel $V/protocol; do
        v=$(xs_read $k)
        [ -n "$v" ] || fail "front-end node $k is missing or empty"
        log "$k = $v"
done
[ "$(xs_read $N/backend)" = /local/domain/0/backend/vif/$D/0 ] || fail "vif 0 front-end points at '$(xs_read $N/backend)'"
log "front-end states: vif $(xs_read $N/state), vbd $(xs_read $V/state)"
guest_destroy $G || fail "xl destroy $G: still listed after 20 s"
wait_for 20 sh -c "! xenstore-exists /local/domain/$D" || fail "/local/domain/$D survived xl destroy"
wait_for 20 sh -c "! xenstore-exists /local/domain/0/backend/vif/$D" || fail "backend/vif/$D survived xl destroy"
pass
