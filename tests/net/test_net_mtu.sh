#!/bin/bash
# test_net_mtu.sh: guests with MTU 9000 (the vif's mtu key, the guest's eth0)
# on a bridge Corm whose TAPs have MTU 9000: 8000-byte pings with "don't
# fragment" go through whole (each a multi-slot frame on the rings), IPv4
# and IPv6; a 9001-byte frame is refused by the guest's own stack.
# usage: test_net_mtu.sh XENSIM BANANAD BANANACTL SIM_NETGUEST
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
nl_start
NL_CORM_EXTRA=", mtu: 9000" nl_topology vm1 vm2
nl_guest vm1 1 --mtu 9000
nl_guest vm2 2 --mtu 9000
nl_in vm1 ip link show eth0 | grep -q "mtu 9000" || nl_fail "vm1's eth0 has not MTU 9000"
grep -q "vm1/vif0: connected.*mtu 9000" "$base/bananad.log" || nl_fail "the Spike did not take mtu 9000"
nl_wait 10 bash -c "ip link show $BR | grep -q 'mtu 9000'" || nl_fail "bridge $BR is not at MTU 9000: $(ip link show "$BR")"

nl_in vm1 ping -c 3 -i 0.2 -W 5 -s 8000 -M do 10.77.0.2 >"$base/ping.out" 2>&1 || nl_fail "8000-byte ping (DF): $(cat "$base/ping.out")"
grep -q "8008 bytes from 10.77.0.2" "$base/ping.out" || nl_fail "no 8008-byte replies: $(cat "$base/ping.out")"
echo "ok: IPv4 ping -s 8000 -M do vm1 -> vm2 through bananad"
nl_in vm2 ping -6 -c 3 -i 0.2 -W 5 -s 8000 -M do fd77::1 >"$base/ping6.out" 2>&1 || nl_fail "IPv6 8000-byte ping: $(cat "$base/ping6.out")"
echo "ok: IPv6 ping -s 8000 -M do vm2 -> vm1"
nl_in vm1 ping -c 1 -W 2 -s 8973 -M do 10.77.0.2 >"$base/ping-big.out" 2>&1 && nl_fail "a frame past MTU 9000 went out with DF"
echo "ok: past the MTU is refused"
kill -0 "$BPID" || nl_fail "bananad died"
exit 0
