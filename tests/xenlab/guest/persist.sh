# tests/xenlab/guest/persist.sh: a DomU's side of the xl-lifecycle and
# bananad-restart lab tests (lab.run=persist; lines reach Dom0 prefixed
# GUEST-RUN). On /dev/xvda: prints the token the previous boot left at
# 40 MiB (PERSIST-READ), writes a new one (fsync) and prints it
# (PERSIST-WROTE), so Dom0 can check that acknowledged writes survive
# xl reboot / destroy+create. Then, with lab.io=1, loops: each round writes
# 1 MiB of random bytes at 44 MiB, reads it back with caches dropped and
# prints IO-OK N or IO-BAD N (and pings lab.peer when given: NET-OK N or
# NET-LOST N), every 2 s, until the guest dies.
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
# lab.ip=A.B.C.D: eth0's address (/24), first (a guest without a disk only
# answers pings)
ip=$(arg lab.ip)
peer=$(arg lab.peer)
if [ -n "$ip" ]; then
        while [ ! -e /sys/class/net/eth0 ]; do sleep 0.5; done
        ip link set eth0 up
        ip addr add "$ip/24" dev eth0
fi
i=0
while [ ! -b /dev/xvda ]; do
        i=$((i + 1))
        [ $i -gt 240 ] && { echo "PERSIST-FAIL no /dev/xvda after 120 s"; exit 1; }
        sleep 0.5
done
old=$(dd if=/dev/xvda bs=512 skip=81920 count=1 2> /dev/null | tr -dc 'A-Za-z0-9-')
echo "PERSIST-READ ${old:-none}"
tok=tok-$(head -c 8 /dev/urandom | md5sum | cut -c1-12)
printf '%s\n' "$tok" | dd of=/dev/xvda bs=512 seek=81920 conv=notrunc,fsync,sync 2> /dev/null &&
        echo "PERSIST-WROTE $tok"
[ "$(arg lab.io)" = 1 ] || exit 0
n=0
while true; do
        n=$((n + 1))
        dd if=/dev/urandom of=/tmp/io bs=65536 count=16 2> /dev/null
        w=$(sha256sum < /tmp/io | cut -c1-16)
        if dd if=/tmp/io of=/dev/xvda bs=65536 seek=704 conv=notrunc,fsync 2> /dev/null; then
                echo 3 > /proc/sys/vm/drop_caches
                r=$(dd if=/dev/xvda bs=65536 skip=704 count=16 2> /dev/null | sha256sum | cut -c1-16)
                [ "$r" = "$w" ] && echo "IO-OK $n" || echo "IO-BAD $n wrote $w read $r"
        else
                echo "IO-ERR $n"
        fi
        if [ -n "$peer" ]; then
                ping -c 1 -W 2 "$peer" > /dev/null 2>&1 && echo "NET-OK $n" || echo "NET-LOST $n"
        fi
        sleep 2
done
