# tests/xenlab/guest/net.sh: a DomU's side of the vif-net lab test (run by
# the guest /init with lab.run=net; its lines reach Dom0 on the console,
# prefixed GUEST-RUN). Kernel arguments: lab.ip=A.B.C.D (its address, /24),
# lab.peer=A.B.C.D (the other guest), lab.mib=N (MiB to send, default 2).
# Listens on TCP 5000 before its network is up (so a peer that can ping it
# can send to it), pings the peer until it answers, sends it N MiB of random
# bytes with nc and prints their sha256; prints the sha256 of what it
# received once N MiB have arrived. Dom0 compares the two ends.
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
ip=$(arg lab.ip)
peer=$(arg lab.peer)
mib=$(arg lab.mib)
mib=${mib:-2}
want=$((mib * 1048576))
echo "NET-START $(cut -d' ' -f1 /proc/uptime)"
dd if=/dev/urandom of=/tmp/tx bs=1048576 count=$mib 2> /dev/null
echo "NET-TX-SHA $(sha256sum < /tmp/tx | cut -d' ' -f1) bytes=$(wc -c < /tmp/tx)"
# stdin never ends: nc keeps the connection until the sender closes it
sleep 100000 | nc -l -p 5000 > /tmp/rx &
i=0
while [ ! -e /sys/class/net/eth0 ]; do
        i=$((i + 1))
        [ $i -gt 240 ] && { echo "NET-FAIL no eth0 after 120 s"; exit 1; }
        sleep 0.5
done
ip link set lo up
ip addr add "$ip/24" dev eth0
ip link set eth0 up
echo "NET-UP $ip mac=$(cat /sys/class/net/eth0/address)"
i=0
until ping -c 1 -W 2 "$peer" > /tmp/ping 2>&1; do
        i=$((i + 1))
        [ $i -gt 90 ] && { echo "NET-FAIL no answer from $peer: $(tail -2 /tmp/ping | tr '\n' ' ')"; break; }
done
[ $i -le 90 ] && echo "NET-PING-OK $ip -> $peer $(ping -c 3 -W 2 "$peer" | tail -1)"
# send (retries: the peer's listener may still be starting)
i=0
while [ $i -lt 20 ]; do
        nc "$peer" 5000 < /tmp/tx > /dev/null 2> /tmp/nc.err &
        ncpid=$!
        sleep 2
        if kill -0 $ncpid 2> /dev/null || wait $ncpid; then
                echo "NET-SENT to $peer"
                break
        fi
        i=$((i + 1))
done
i=0
while [ "$(wc -c < /tmp/rx)" -lt $want ]; do
        i=$((i + 1))
        [ $i -gt 600 ] && break
        [ $((i % 20)) = 1 ] && echo "NET-RX-PROGRESS $(wc -c < /tmp/rx) of $want bytes"
        sleep 0.5
done
echo "NET-RX-SHA $(sha256sum < /tmp/rx | cut -d' ' -f1) bytes=$(wc -c < /tmp/rx)"
