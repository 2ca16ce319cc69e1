# vif-net: two DomUs declared 'bridge=br0,script=vif-banana' on one bridge
# Corm (<host>/br0: bananad's TAP ports on Dom0's Linux bridge br0), their
# Linux netfronts served by bananad. Each guest (guest/net.sh) pings the
# other, then sends it 2 MiB (LAB_NET_MIB) of random bytes over TCP (nc); the test checks
# both pings answered and that the sha256 each receiver computed equals the
# sender's, in both directions.
. /lab/lib.sh
H=$LAB_HOST
lab_bananad bananad.log net-state --log-level debug
cat > $LAB_RUN/net.yaml << YAML
version: 1
hosts:
  $H: {}
endpoints:
  $H/br0: {kind: corm, class: vif, params: {bridge: br0}}
YAML
bananactl apply $LAB_RUN/net.yaml > $LAB_RUN/net.apply 2>&1 || fail "bananactl apply of the bridge Corm failed: $(tail -2 $LAB_RUN/net.apply | tr '\n' ' ')"
MIB=${LAB_NET_MIB:-2}
ok=1
for g in 1 2; do
        p=$((3 - g))
        cfg=$(guest_cfg net$g "'mac=00:16:3e:00:01:0$g,bridge=br0,script=vif-banana'" "" \
                "lab.run=net lab.ip=10.77.0.$g lab.peer=10.77.0.$p lab.mib=$MIB")
        guest_create "$cfg" || fail "xl create net$g failed: $(grep -m1 -E 'script:|error' $LAB_RUN/net$g.create.log)"
done
for g in 1 2; do
        BE=/local/domain/0/backend/vif/$(domid_of net$g)/0
        wait_for 120 xs_state_ge $BE 4
        check net$g-connected xs_state_ge $BE 4 || ok=0
done
# Both receivers report (or give up) within guest/net.sh's own limits.
wait_watched 150 sh -c "grep -q NET-RX-SHA $(guest_console net1) && grep -q NET-RX-SHA $(guest_console net2)"
for g in 1 2; do
        log "net$g console:"
        grep -E 'GUEST-RUN|xenbus' $(guest_console net$g) | tail -8 | sed "s/^/[$LAB_TEST]   /"
done
val() { sed -n "s/.*GUEST-RUN $2 \([0-9a-f]*\) bytes=\([0-9]*\).*/\1 \2/p" $(guest_console $1) | tail -1; }
for g in 1 2; do
        p=$((3 - g))
        check ping-net$g-to-net$p console_has net$g "NET-PING-OK 10.77.0.$g -> 10.77.0.$p" || ok=0
        tx=$(val net$g NET-TX-SHA)
        rx=$(val net$p NET-RX-SHA)
        log "net$g -> net$p: sent '$tx', received '$rx'"
        check tcp-net$g-to-net$p-sha256 [ -n "$tx" -a "$tx" = "$rx" -a "${rx#* }" = $((MIB * 1048576)) ] || ok=0
done
bananactl endpoints > $LAB_RUN/net.endpoints 2>&1
sed "s/^/[$LAB_TEST]   /" $LAB_RUN/net.endpoints
for g in 1 2; do guest_destroy net$g || ok=0; done
check bananad-alive kill -0 $BPID || ok=0
[ $ok = 1 ] || { tail -20 $LAB_RUN/bananad.log | sed "s/^/[$LAB_TEST]   bananad: /"; fail "the two guests did not talk through bananad (above)"; }
pass
