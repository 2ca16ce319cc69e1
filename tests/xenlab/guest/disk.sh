# tests/xenlab/guest/disk.sh: a DomU's side of the vbd-disk lab test (run by
# the guest /init with lab.run=disk; lines reach Dom0 prefixed GUEST-RUN).
# Kernel argument lab.disks=DEV:TAG,... (default xvda:disk). For each disk:
# waits for blkfront's /dev/DEV (at least 64 MiB), writes 4 MiB of random bytes at 48 MiB on
# the raw disk (O_SYNC) and reads them back after dropping caches (prints
# DISK-RAW-OK TAG SHA256, which Dom0 compares with the image's bytes), then
# makes a 32 MiB ext2 file system at its start (mke2fs), writes three files, syncs,
# unmounts, drops caches, mounts it again and checks their sha256.
# Prints DISK-OK TAG or DISK-FAIL TAG: why, per disk.
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
load() {
        local d
        [ -d "/sys/module/$(echo "$1" | tr - _)" ] && return 0
        for d in $(sed -n "s/^$1: *//p" /mods/deps); do
                load "$d"
        done
        insmod "/mods/$1.ko"
}
# one_disk DEV TAG: the checks above on /dev/DEV (a subshell: die ends it)
one_disk() (
        dev=$1
        tag=$2
        die() { echo "DISK-FAIL $tag: $*"; exit 1; }
        i=0
        while [ ! -b /dev/$dev ]; do
                i=$((i + 1))
                [ $i -gt 240 ] && die "$dev: no /dev/$dev after 120 s"
                sleep 0.5
        done
        echo "DISK-UP $tag $dev $(cat /sys/block/$dev/size) sectors"
        # raw blocks
        dd if=/dev/urandom of=/tmp/raw bs=1048576 count=4 2> /dev/null
        want=$(sha256sum < /tmp/raw | cut -d' ' -f1)
        dd if=/tmp/raw of=/dev/$dev bs=65536 seek=768 conv=notrunc,fsync 2> /tmp/dd.err || die "$dev: raw write: $(cat /tmp/dd.err)"
        sync
        echo 3 > /proc/sys/vm/drop_caches
        got=$(dd if=/dev/$dev bs=65536 skip=768 count=64 2> /dev/null | sha256sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || die "$dev: raw read back $got, wrote $want"
        echo "DISK-RAW-OK $tag $want"
        # an ext2 file system on the first 32 MiB (the raw area is left alone)
        { load crc32c_generic && load ext4; } 2> /tmp/ins.err || die "$dev: insmod crc32c_generic/ext4: $(cat /tmp/ins.err)"
        mke2fs -q /dev/$dev 32768 > /tmp/mk.err 2>&1 || die "$dev: mke2fs: $(cat /tmp/mk.err)"
        mount -t ext2 /dev/$dev /mnt 2> /tmp/mnt.err || die "$dev: mount: $(cat /tmp/mnt.err)"
        n=0
        for f in a b c; do
                n=$((n + 16))
                dd if=/dev/urandom of=/mnt/$f bs=65536 count=$n 2> /dev/null
        done
        (cd /mnt && sha256sum a b c) > /tmp/sums
        sync
        umount /mnt || die "$dev: umount"
        echo 3 > /proc/sys/vm/drop_caches
        mount -t ext2 -o ro /dev/$dev /mnt 2> /tmp/mnt.err || die "$dev: mount again: $(cat /tmp/mnt.err)"
        (cd /mnt && sha256sum -c /tmp/sums) > /tmp/check 2>&1 || die "$dev: files differ after remount: $(tr '\n' ' ' < /tmp/check)"
        umount /mnt
        echo "DISK-OK $tag $(tr '\n' ' ' < /tmp/sums | cut -c1-40)"
)
disks=$(arg lab.disks)
for d in $(echo "${disks:-xvda:disk}" | tr ',' ' '); do
        one_disk "${d%%:*}" "${d#*:}"
done
echo "DISK-DONE"
