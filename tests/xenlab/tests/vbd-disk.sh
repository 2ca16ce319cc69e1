# vbd-disk: a DomU with two disks declared 'script=block-banana', its Linux
# blkfront served by bananad: xvda on an io_uring disk Corm (a 64 MiB image
# file in Dom0), xvdb on an NBD Corm (nbdkit's file plugin on a Unix socket
# in Dom0, exporting another 64 MiB image). In the guest (guest/disk.sh), on
# each disk: 4 MiB of random bytes written raw at 48 MiB and read back, an
# ext2 file system made with mke2fs, three files written, synced, unmounted,
# mounted again and their sha256 checked. Dom0 then checks that the image
# files hold the guest's raw bytes (the writes reached the Corms).
. /lab/lib.sh
H=$LAB_HOST
G=disk
command -v bananad > /dev/null || skip "no bananad in this checkout's build"
command -v nbdkit > /dev/null || fail "no nbdkit in the lab's Dom0"
D1=$LAB_RUN/d-uring.raw
D2=$LAB_RUN/d-nbd.raw
SOCK=$LAB_RUN/nbd.sock
truncate -s 64M $D1 $D2
lab_bg $LAB_RUN/nbdkit.log nbdkit --foreground --exit-with-parent -U $SOCK file $D2
wait_for 30 test -S $SOCK || fail "nbdkit did not create $SOCK: $(tail -3 $LAB_RUN/nbdkit.log | tr '\n' ' ')"
lab_bananad bananad.log disk-state --log-level debug
cat > $LAB_RUN/disk.yaml << YAML
version: 1
hosts:
  $H: {}
endpoints:
  $H/disk/uring: {kind: corm, class: vbd, params: {path: $D1}}
  $H/disk/nbd: {kind: corm, class: vbd, params: {uri: "nbd+unix:///?socket=$SOCK"}}
YAML
bananactl apply $LAB_RUN/disk.yaml > $LAB_RUN/disk.apply 2>&1 || fail "bananactl apply of the disk Corms failed: $(tail -2 $LAB_RUN/disk.apply | tr '\n' ' ')"
cfg=$(guest_cfg $G "" \
        "'vdev=xvda,format=raw,script=block-banana,target=$H/disk/uring', 'vdev=xvdb,format=raw,script=block-banana,target=$H/disk/nbd'" \
        "lab.run=disk lab.disks=xvda:uring,xvdb:nbd")
guest_create "$cfg" || fail "xl create with two block-banana disks failed: $(grep -m1 -E 'script:|error' $LAB_RUN/$G.create.log)"
DOM=$(domid_of $G)
ok=1
for v in 51712 51728; do
        BE=/local/domain/0/backend/vbd/$DOM/$v
        check vbd$v-hotplug [ "$(xs_read $BE/hotplug-status)" = connected ] || ok=0
        wait_for 120 xs_state_ge $BE 4
        check vbd$v-connected xs_state_ge $BE 4 || ok=0
done
wait_watched 150 sh -c "grep -qE 'DISK-DONE' $(guest_console $G)"
log "$G console:"
grep -E 'GUEST-RUN|xenbus|blkfront|xvd|I/O error' $(guest_console $G) | tail -14 | sed "s/^/[$LAB_TEST]   /"
for t in uring nbd; do
        check $t-guest-fs console_has $G "DISK-OK $t " || ok=0
        img=$D1
        [ $t = nbd ] && img=$D2
        want=$(sed -n "s/.*DISK-RAW-OK $t \([0-9a-f]*\).*/\1/p" $(guest_console $G) | tail -1)
        got=$(dd if=$img bs=65536 skip=768 count=64 2> /dev/null | sha256sum | cut -d' ' -f1)
        log "$t: guest wrote ${want:-nothing}, the image holds $got"
        check $t-image-holds-guest-bytes [ -n "$want" -a "$want" = "$got" ] || ok=0
done
guest_destroy $G || ok=0
check bananad-alive kill -0 $BPID || ok=0
[ $ok = 1 ] || { tail -20 $LAB_RUN/bananad.log | sed "s/^/[$LAB_TEST]   bananad: /"; fail "the guest's disks did not work through bananad (above)"; }
pass
