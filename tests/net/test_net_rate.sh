#!/bin/bash
# test_net_rate.sh: the vif's rate limit (the toolstack's "rate" key,
# "bytes,usec") holds within 10%. vm1 has rate 50000 bytes per 20 ms
# (2.5 MB/s, 20 Mbit/s) and its generator offers 1500-byte frames as fast
# as its ring allows for about 5 s; vm2, on the same bridge Corm, counts and
# checks them and measures the rate from its first to its last frame.
# usage: test_net_rate.sh XENSIM BANANAD BANANACTL SIM_NETGUEST
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
nl_start
nl_topology vm1 vm2
# 50000 B per 20 ms (2.5 MB/s, 20 Mbit/s): slow enough that a receiving guest
# built with sanitizers on a loaded machine keeps up (the vif holds 1024
# frames for it, 600 ms here), fast enough to measure the limit over ~5 s.
RATE_B=${RATE_B:-50000} RATE_US=${RATE_US:-20000} SIZE=1500 N=8400 # 12.6 MB: ~5 s at 2.5 MB/s
# generator mode: no netns, the frames are made and checked in memory
"$NG" --name vm2 --mac 02:00:00:77:00:02 --count $N --timeout 25 >"$base/vm2.out" 2>"$base/vm2.log" &
r=$!
nl_pids+=($r)
nl_wait 20 grep -q connected "$base/vm2.out" || nl_fail "vm2 did not connect"
nl_wait 15 bash -c "'$BANANACTL' wires vm2-net | grep -qw up" || nl_fail "wire vm2-net not up"
"$NG" --name vm1 --mac 02:00:00:77:00:01 --peer-mac 02:00:00:77:00:02 --rate "$RATE_B,$RATE_US" \
    --gen "$SIZE:0:$N" --gen-on-usr1 --timeout 25 >"$base/vm1.out" 2>"$base/vm1.log" &
s=$!
nl_pids+=($s)
nl_wait 20 grep -q connected "$base/vm1.out" || nl_fail "vm1 did not connect"
nl_wait 15 bash -c "'$BANANACTL' wires vm1-net | grep -qw up" || nl_fail "wire vm1-net not up"
kill -USR1 $s # start generating now that its frames have somewhere to go
wait $r || nl_fail "vm2 did not receive $N good frames"
wait $s || nl_fail "vm1's generator failed"
grep -q "rate limit $RATE_B bytes per $RATE_US us" "$base/bananad.log" || nl_fail "the Spike did not take the rate key"
line=$(grep gen_usec= "$base/vm2.out")
us=$(sed -n 's/.*gen_usec=\([0-9]*\).*/\1/p' <<<"$line")
bytes=$(sed -n 's/.*gen_bytes_after_first=\([0-9]*\).*/\1/p' <<<"$line")
[ -n "$us" ] && [ "$us" -gt 0 ] || nl_fail "no receive time: $line"
read -r got want ok < <(awk -v b="$bytes" -v us="$us" -v rb=$RATE_B -v ru=$RATE_US 'BEGIN {
    got = b / us * 1e6; want = rb / ru * 1e6
    printf "%.0f %.0f %d\n", got, want, (got >= 0.9 * want && got <= 1.1 * want) }')
[ "$ok" = 1 ] || nl_fail "rate $got B/s, limit $want B/s: outside 10% ($line)"
echo "ok: $N frames of $SIZE B at $got B/s for a limit of $want B/s (within 10%), over $((us / 1000)) ms, all verified"
kill -0 "$BPID" || nl_fail "bananad died"
exit 0
