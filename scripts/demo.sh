#!/usr/bin/env bash
# scripts/demo.sh [--once]: install what is missing, build, and run the demo on
# xensim (a userspace Xen: no real Xen needed). Two hosts h1 and h2 (network
# namespaces on one underlay, each with its own xensim and bananad) share one
# etcd; one `bananactl apply` on h1 declares the whole topology: a bridge
# Corm on h2, a guest vm2 on h2 wired to it by shared memory, and a guest vm1
# on h1 wired to it across the hosts by a VXLAN wire. vm1 pings vm2; then,
# while a ping runs, vm2's wire is swapped live from shm to vxlan and back,
# and vm1 is live-migrated to h2 (its wire becomes shm), and the demo says
# what each cost. Runs until Ctrl-C (or, with --once, stops
# by itself), then cleans up: no processes, network namespaces, bridges, TAPs,
# sockets or files left behind.
#
# Environment: BANANA_BUILD=DIR builds and runs from DIR (default: build);
# BANANA_NO_BUILD=1 skips installing and building (DIR must be built);
# BANANA_INSTALLED=1 runs the installed programs instead (the Debian packages
# banana and banana-sim: /usr/sbin/bananad, /usr/bin/bananactl, xensim, ...),
# building nothing.
# Without root (network namespaces, TAPs and bridges need it) the demo shows
# the foundation instead: a simulated guest whose PV device connects.
set -uo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1:-}" = "--once" ] && once=1

B=${BANANA_BUILD:-build}
if [ -n "${BANANA_INSTALLED:-}" ]; then
	XENSIM=/usr/bin/xensim BANANAD=/usr/sbin/bananad BANANACTL=/usr/bin/bananactl
	TESTFRONT=/usr/bin/sim-testfront NETGUEST=/usr/bin/sim-netguest
	for p in "$XENSIM" "$BANANAD" "$BANANACTL" "$TESTFRONT" "$NETGUEST"; do
		[ -x "$p" ] || { echo "demo: $p is not installed (apt install ./banana_*.deb ./banana-sim_*.deb)" >&2; exit 1; }
	done
else
	if [ -z "${BANANA_NO_BUILD:-}" ]; then
		scripts/deps.sh || exit 1
		scripts/build.sh "$B" >/dev/null || exit 1
	fi
	case $B in /*) ;; *) B=$PWD/$B ;; esac
	XENSIM=$B/sim/xensim/xensim BANANAD=$B/controller/bananad BANANACTL=$B/controller/bananactl
	TESTFRONT=$B/sim/testfront/sim-testfront NETGUEST=$B/sim/netguest/sim-netguest
fi

# wait_for SECONDS COMMAND..., stop_pid (the tests' helpers)
. tests/lib.sh
say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
indent() { sed -u 's/^/      /'; }

if [ "$(id -u)" -ne 0 ]; then
	run=$(mktemp -d /tmp/banana-demo.XXXXXX)
	pids=()
	small_cleanup() {
		trap - INT TERM EXIT
		for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" 5; done
		rm -rf "$run"
		say "stopped cleanly: nothing left behind"
		exit 0
	}
	trap small_cleanup EXIT INT TERM
	say "not root: network namespaces, TAPs and bridges need root, so this is the small demo"
	"$XENSIM" --dir "$run/sim" --foreground 2>"$run/xensim.log" &
	pids+=($!)
	wait_for 10 test -e "$run/sim/xenstored.sock" || { echo "demo: xensim did not start" >&2; exit 1; }
	export XENSIM_DIR=$run/sim XENSTORED_PATH=$run/sim/xenstored.sock BANANA_CONTROL=$run/bananad.sock
	"$BANANAD" --foreground --host demo --hypervisor xensim --xensim-dir "$run/sim" \
		--state-dir "$run/state" --control "$run/bananad.sock" 2>"$run/bananad.log" &
	pids+=($!)
	wait_for 10 test -S "$run/bananad.sock" || { cat "$run/bananad.log"; exit 1; }
	say "starting a simulated guest 'vm1' with one PV device served by bananad"
	if [ $once -eq 1 ]; then
		"$TESTFRONT" --name vm1 --requests 1000
	else
		"$TESTFRONT" --name vm1 --requests 1000 --stay &
		pids+=($!)
		sleep 1
		say "running; press Ctrl-C to stop"
		wait "${pids[-1]}"
	fi
	exit 0
fi

# The hosts come from the test cluster's helper (tests/cluster/cluster.sh):
# the underlay, the namespaces of h1, h2 and etcd, each host's xensim and
# bananad, all stopped by PID and removed again by its cl_cleanup.
CL_LOG=${CL_LOG:-warning}
. tests/cluster/cluster.sh
status=0
leftovers() { # what of this demo is still there after the clean-up
	local left=() p n
	for p in "${cl_pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("process $p"); done
	for n in "${cl_netns[@]}"; do ip netns list 2>/dev/null | grep -qw "$n" && left+=("netns $n"); done
	[ -e "$CL_BASE" ] && left+=("folder $CL_BASE")
	echo "${left[*]}"
}
demo_cleanup() {
	trap - INT TERM EXIT
	say "stopping..."
	(cl_cleanup) || status=1
	local left
	left=$(leftovers)
	if [ -z "$left" ]; then
		say "stopped cleanly: nothing left behind (no processes, network namespaces, bridge, TAPs or sockets)"
	else
		say "left behind: $left"
		status=1
	fi
	exit $status
}
trap demo_cleanup EXIT
trap 'exit 0' INT TERM
cl_fail() { # the demo's own failures: said, with the ends of the logs
	local f
	say "FAILED: $*"
	for f in "$CL_BASE"/h*/bananad.log; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done
	status=1
	exit 1
}
ctl_wires_match() { # ctl_wires_match HOST WIRE REGEX: the wire's line matches
	cl_ctl "$1" wires "$2" 2>/dev/null | grep -qE "$3"
}

say "two hosts, h1 (10.88.0.11) and h2 (10.88.0.12): network namespaces on one underlay,"
say "with etcd (10.88.0.2) as the store they share; their logs, sockets and state are"
say "in $CL_BASE"
cl_underlay 2
cl_etcd
for i in 1 2; do
	say "host h$i: xensim (a userspace Xen) and bananad --store etcd://10.88.0.2:2379"
	cl_host "$i" --store etcd://10.88.0.2:2379 --address "10.88.0.1$i" --lease-ttl 5
done

BR=br$CL_T
topo=$CL_BASE/topology.yaml
cat >"$topo" <<EOF
version: 1
hosts:
  h1: {site: lab, domain: demo}
  h2: {site: lab, domain: demo}
endpoints:
  h2/lan: {kind: corm, class: vif, params: {bridge: $BR, create: yes}}
  h1/vm1/vif0: {kind: spike}
  h2/vm2/vif0: {kind: spike}
wires:
  vm1-lan:
    ends: [h1/vm1/vif0, h2/lan]
    type: vxlan
    options: {vni: 4242, end0: {addr: 10.88.0.11}, end1: {addr: 10.88.0.12}}
  vm2-lan: {ends: [h2/vm2/vif0, h2/lan]}
EOF
say "one 'bananactl apply' on h1 declares both hosts' parts: a bridge Corm h2/lan (Linux"
say "bridge $BR on h2), vm2's vif wired to it by shared memory, and vm1's vif on h1 wired"
say "to it across the hosts by VXLAN (VNI 4242); each bananad realises its own part:"
cl_ctl 1 apply "$topo" 2>&1 | indent
[ "${PIPESTATUS[0]}" -eq 0 ] || cl_fail "apply failed"

NG=$NETGUEST
for i in 1 2; do
	say "host h$i: simulated guest vm$i, a DomU on h$i's xensim whose network card (netfront)"
	say "  is eth0 in network namespace $CL_T-vm$i, address 10.99.0.$i/24, with the MTU its"
	say "  wire gives it (bananad writes it to the vif's 'mtu' key): vm1's vxlan 1450 (1500 - 50),"
	say "  vm2's shm 1500"
	cl_netguest "$i" vm$i 10.99.0.$i/24 02:00:00:99:00:0$i $((i == 1 ? 1450 : 1500))
done
for w in vm1-lan vm2-lan; do
	wait_for 15 ctl_wires_match 2 "$w" ' up$' || cl_fail "wire $w did not come up: $(cl_ctl 2 wires 2>&1)"
done
say "both guests are Connected and wired; h2's bananad shows:"
cl_ctl 2 wires 2>&1 | indent

say "vm1 (on h1) pings vm2 (on h2): each packet leaves vm1's netfront ring; h1's vif Spike"
say "grant-copies it into a VXLAN datagram to h2, where the wire's other end hands it to the"
say "bridge Corm's TAP on $BR; the bridge forwards it to vm2's TAP, and h2's vif Spike puts"
say "it on vm2's RX ring"
ip netns exec "$CL_T-vm1" ping -c 3 -i 0.5 -W 5 10.99.0.2 2>&1 | indent
[ "${PIPESTATUS[0]}" -eq 0 ] || cl_fail "the ping failed"
say "vm1 reached vm2 through bananad, across the two hosts"

say "a live swap: while vm1 pings vm2 20 times a second, vm2's wire is changed from shared"
say "memory to VXLAN and back, by two applies; the guests go on running. Each swap makes"
say "before it breaks: the new wire is opened and linked beside the old one, vm2's Spike"
say "switches to it, and only then is the old wire closed"
ip netns exec "$CL_T-vm1" ping -i 0.05 -c 100 -W 1 10.99.0.2 >"$CL_BASE/swap-ping.out" 2>&1 &
pp=$!
cl_pids+=($pp)
sleep 1
# vm2's vxlan wire has UDP ports of its own at both ends (4790, 4791):
# joining the socket of vm1's wire (4789) cost about a second of vm1's
# frames when this was written (docs/wires.md)
sed 's#^  vm2-lan: .*#  vm2-lan: {ends: [h2/vm2/vif0, h2/lan], type: vxlan, options: {vni: 4343, end0: {addr: 10.88.0.12, port: 4790}, end1: {addr: 10.88.0.12, port: 4791}}}#' \
	"$topo" >"$CL_BASE/topology-vxlan.yaml"
cl_ctl 1 apply "$CL_BASE/topology-vxlan.yaml" 2>&1 | indent
wait_for 10 ctl_wires_match 2 vm2-lan 'vxlan .* up$' || cl_fail "vm2-lan did not become vxlan: $(cl_ctl 2 wires vm2-lan 2>&1)"
cl_ctl 2 wires vm2-lan 2>&1 | indent
sleep 1
cl_ctl 1 apply "$topo" 2>&1 | indent
wait_for 10 ctl_wires_match 2 vm2-lan 'shm .* up$' || cl_fail "vm2-lan did not become shm again: $(cl_ctl 2 wires vm2-lan 2>&1)"
cl_ctl 2 wires vm2-lan 2>&1 | indent
wait "$pp"
got=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$CL_BASE/swap-ping.out")
say "vm2's wire was swapped twice; vm2 answered ${got:-0} of the 100 pings sent meanwhile"
say "(make before break: when each swap closed the old wire first, 79-81 were answered)"
ip netns exec "$CL_T-vm1" ping -c 2 -i 0.3 -W 5 10.99.0.2 >/dev/null 2>&1 || cl_fail "vm1 cannot reach vm2 after the swaps"
say "vm1 reached vm2 through bananad after the swaps"

say "live migration: while vm1 pings vm2 20 times a second, vm1 moves from h1 to h2"
say "('bananactl migrate vm1 --to h2' on h1). Its Spikes are made again on h2 under the"
say "same names, the guest's front-ends reconnect there as after a Xen resume, and since"
say "vm1 and the bridge Corm are now on one host its wire becomes shared memory:"
ip netns exec "$CL_T-vm1" ping -i 0.05 -c 60 -W 1 10.99.0.2 >"$CL_BASE/mig-ping.out" 2>&1 &
pp=$!
cl_pids+=($pp)
sleep 1
cl_ctl 1 migrate vm1 --to h2 2>&1 | indent
[ "${PIPESTATUS[0]}" -eq 0 ] || cl_fail "the migration failed"
wait_for 10 ctl_wires_match 2 vm1-lan 'shm .* up$' || cl_fail "vm1-lan did not become shm: $(cl_ctl 2 wires vm1-lan 2>&1)"
cl_ctl 2 wires 2>&1 | indent
wait "$pp"
got=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$CL_BASE/mig-ping.out")
say "vm1 was live-migrated to h2 and its wire is shm now; vm2 answered ${got:-0} of the 60"
say "pings sent across the move"
ip netns exec "$CL_T-vm1" ping -c 2 -i 0.3 -W 5 10.99.0.2 >/dev/null 2>&1 || cl_fail "vm1 cannot reach vm2 after the migration"
say "vm1 reached vm2 through bananad after the migration, both on h2 now"

if [ $once -eq 0 ]; then
	say "running: vm1 keeps pinging vm2 once a second; press Ctrl-C to stop"
	ip netns exec "$CL_T-vm1" stdbuf -oL ping -i 1 10.99.0.2 > >(indent) 2>&1 &
	cl_pids+=($!)
	wait "${cl_pids[-1]}"
fi
