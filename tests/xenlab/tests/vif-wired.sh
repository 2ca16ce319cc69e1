# vif-wired: vif-banana with the real bananactl and bananad. The topology
# declares the bridge Corm <host>/br0 (a Linux bridge br0 in Dom0); a DomU's
# vif declared 'bridge=br0,script=vif-banana' is wired to it at xl create
# (hotplug-status=connected, `bananactl wires` shows <host>/<vm>/vif0 --
# <host>/br0), and after xl destroy no wire and no Spike of that guest is
# left. SKIPs while this checkout's bananad cannot make a bridge Corm.
. /lab/lib.sh
G=wired
H=$LAB_HOST
lab_bananad bananad.log wired-state
cat > $LAB_RUN/wired.yaml << YAML
version: 1
hosts:
  $H: {}
endpoints:
  $H/br0: {kind: corm, class: vif, params: {bridge: br0}}
YAML
if ! bananactl apply $LAB_RUN/wired.yaml > $LAB_RUN/wired.apply 2>&1; then
        sed "s/^/[$LAB_TEST]   apply: /" $LAB_RUN/wired.apply
        grep -q 'has no corms' $LAB_RUN/wired.apply && skip "bananad's vif class has no bridge Corm yet: $(tail -1 $LAB_RUN/wired.apply)"
        fail "bananactl apply of a bridge Corm failed: $(tail -1 $LAB_RUN/wired.apply)"
fi
cfg=$(guest_cfg $G "'mac=00:16:3e:00:00:04,bridge=br0,script=vif-banana'" "")
guest_create "$cfg" || fail "xl create with vif-banana on br0 failed: $(grep -m1 'script:' $LAB_RUN/$G.create.log)"
D=$(domid_of $G)
BE=/local/domain/0/backend/vif/$D/0
ok=1
check hotplug-connected [ "$(xs_read $BE/hotplug-status)" = connected ] || ok=0
wait_for 120 xs_state_ge $BE 4
check backend-connected xs_state_ge $BE 4 || ok=0
bananactl wires > $LAB_RUN/wired.wires 2>&1
sed "s/^/[$LAB_TEST]   /" $LAB_RUN/wired.wires
check wire-listed grep -q "$H/$G/vif0" $LAB_RUN/wired.wires || ok=0
guest_destroy $G || ok=0
wait_for 30 sh -c "! bananactl wires 2>/dev/null | grep -q '$H/$G/vif0'"
check no-stale-wire sh -c "! bananactl wires 2>/dev/null | grep -q '$H/$G/vif0'" || ok=0
check no-stale-spike sh -c "! bananactl endpoints 2>/dev/null | grep '$H/$G/vif0' | grep -qv absent" || ok=0
[ $ok = 1 ] || fail "the wired vif did not behave (above)"
pass
