# xl-lifecycle: a DomU with a vif (bridge Corm br0) and a disk (io_uring
# Corm), both declared for the banana hotplug scripts, through
# xl create -> xl destroy -> xl create -> xl reboot -> xl destroy. Each time
# the guest runs, both back-ends reach Connected again; after each destroy
# no Spike and no wire of the guest is left (bananactl endpoints / wires);
# the token the guest wrote to its disk (guest/persist.sh) before a
# destroy or a reboot is what it reads back after the next boot, and is in
# the image file in Dom0.
# lab-timeout: 600
# (about 100 s on an idle 2-core host; a loaded one needs more than 300 s)
. /lab/lib.sh
H=$LAB_HOST
G=life
IMG=$LAB_RUN/life.raw
truncate -s 64M $IMG
lab_bananad bananad.log life-state
cat > $LAB_RUN/life.yaml << YAML
version: 1
hosts:
  $H: {}
endpoints:
  $H/br0: {kind: corm, class: vif, params: {bridge: br0}}
  $H/disk/life: {kind: corm, class: vbd, params: {path: $IMG}}
YAML
bananactl apply $LAB_RUN/life.yaml > $LAB_RUN/life.apply 2>&1 || fail "bananactl apply failed: $(tail -2 $LAB_RUN/life.apply | tr '\n' ' ')"
cfg=$(guest_cfg $G "'mac=00:16:3e:00:02:01,bridge=br0,script=vif-banana'" \
        "'vdev=xvda,format=raw,script=block-banana,target=$H/disk/life'" "lab.run=persist")
CON=$(guest_console $G)
ok=1

# up STEP: both back-ends of the current domain Connected, and the guest's
# PERSIST-WROTE after the console line count $mark; sets TOK, READ.
up() {
        local d be
        d=$(domid_of $G)
        [ -n "$d" ] || { echo "FAIL $LAB_TEST/$1-running: $G is not running"; ok=0; return 1; }
        for be in vif/$d/0 vbd/$d/51712; do
                wait_for 120 xs_state_ge /local/domain/0/backend/$be 4
                check $1-${be%%/*}-connected xs_state_ge /local/domain/0/backend/$be 4 || ok=0
        done
        wait_watched 120 sh -c "tail -n +$mark $CON | grep -q 'PERSIST-WROTE'"
        TOK=$(tail -n +$mark $CON | sed -n 's/.*PERSIST-WROTE \([a-z0-9-]*\).*/\1/p' | tail -1)
        READ=$(tail -n +$mark $CON | sed -n 's/.*PERSIST-READ \([a-z0-9-]*\).*/\1/p' | tail -1)
        log "$1: domain $d, read '${READ:-?}', wrote '${TOK:-?}'"
        check $1-guest-wrote [ -n "$TOK" ] || ok=0
}
# gone STEP: nothing of the guest left in bananad
gone() {
        wait_for 30 sh -c "! bananactl wires 2>/dev/null | grep -q '$H/$G/'"
        bananactl endpoints > $LAB_RUN/life.ep 2>&1
        bananactl wires > $LAB_RUN/life.wires 2>&1
        check $1-no-stale-wire sh -c "! grep -q '$H/$G/' $LAB_RUN/life.wires" || { ok=0; cat $LAB_RUN/life.wires; }
        check $1-no-stale-spike sh -c "! grep '$H/$G/' $LAB_RUN/life.ep | grep -qv absent" || { ok=0; cat $LAB_RUN/life.ep; }
        check $1-image-has-token [ "$(dd if=$IMG bs=512 skip=81920 count=1 2> /dev/null | tr -dc 'A-Za-z0-9-')" = "$TOK" ] || ok=0
}
conlines() { wc -l < $CON 2> /dev/null || echo 0; }

mark=1
guest_create "$cfg" || fail "first xl create failed: $(grep -m1 -E 'script:|error' $LAB_RUN/$G.create.log)"
up create1
guest_destroy $G || { ok=0; log "xl destroy 1 failed"; }
gone destroy1
prev=$TOK

mark=$(($(conlines) + 1))
guest_create "$cfg" || fail "second xl create failed: $(grep -m1 -E 'script:|error' $LAB_RUN/$G.create.log)"
up create2
check create2-reads-previous-token [ "$READ" = "$prev" ] || ok=0
bananactl endpoints > $LAB_RUN/life.ep 2>&1
check create2-one-vif-spike [ "$(grep -c "$H/$G/vif0" $LAB_RUN/life.ep)" -ge 1 ] || ok=0
prev=$TOK
D1=$(domid_of $G)

mark=$(($(conlines) + 1))
xl reboot $G > $LAB_RUN/life.reboot 2>&1 || log "xl reboot: $(cat $LAB_RUN/life.reboot)"
wait_for 120 sh -c "d=\$(xl domid $G 2>/dev/null) && [ -n \"\$d\" ] && [ \"\$d\" != $D1 ]"
check reboot-new-domain sh -c "d=\$(xl domid $G 2>/dev/null) && [ \"\$d\" != $D1 ]" || ok=0
up reboot
check reboot-reads-previous-token [ "$READ" = "$prev" ] || ok=0
bananactl wires > $LAB_RUN/life.wires 2>&1
check reboot-one-vif-wire [ "$(grep -c "$H/$G/vif0" $LAB_RUN/life.wires)" = 1 ] || { ok=0; cat $LAB_RUN/life.wires; }
guest_destroy $G || { ok=0; log "xl destroy 2 failed"; }
gone destroy2
check bananad-alive kill -0 $BPID || ok=0
[ $ok = 1 ] || { tail -25 $LAB_RUN/bananad.log | sed "s/^/[$LAB_TEST]   bananad: /"; fail "the guest's devices did not survive its life cycle (above)"; }
pass
