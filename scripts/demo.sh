#!/usr/bin/env bash
# scripts/demo.sh [--once]: install what is missing, build, and run the demo on
# xensim (a userspace Xen: no real Xen needed): xensim, bananad, and two
# simulated guests vm1 and vm2, each with a network card (a vif) whose
# back-end is bananad; both are wired to one Linux bridge through bananad's
# bridge Corm, and vm1 pings vm2. Runs until Ctrl-C (or, with --once, stops by
# itself after the ping), then cleans up: no processes, network namespaces,
# bridges, TAPs, sockets or files left behind.
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

run=$(mktemp -d /tmp/banana-demo.XXXXXX)
tag=d$$
BR=br$tag
NS1=banana-$tag-vm1 NS2=banana-$tag-vm2
pids=()
netns=()
status=0
say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
indent() { sed -u 's/^/      /'; }

cleanup() { # cleanup EXIT_STATUS
	[ "$1" -ne 0 ] && status=$1
	trap - INT TERM EXIT
	say "stopping..."
	# TAPs of the bridge Corm, to check they are gone after bananad stops
	taps=$(ip -o link show master "$BR" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1)
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
		for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "${pids[i]}" 2>/dev/null
		wait "${pids[i]}" 2>/dev/null
	done
	left=()
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("process $p"); done
	for n in "${netns[@]}"; do ip netns del "$n" 2>/dev/null; done
	for n in "${netns[@]}"; do ip netns list 2>/dev/null | grep -qw "$n" && left+=("netns $n"); done
	if ip link show "$BR" >/dev/null 2>&1; then
		left+=("bridge $BR")
		ip link del "$BR" 2>/dev/null
	fi
	for t in $taps; do ip link show "$t" >/dev/null 2>&1 && left+=("TAP $t"); done
	socks=$(find "$run" -type s 2>/dev/null | wc -l)
	[ "$socks" -gt 0 ] && left+=("$socks sockets in $run")
	rm -rf "$run"
	if [ ${#left[@]} -eq 0 ]; then
		say "stopped cleanly: nothing left behind (no processes, network namespaces, bridge, TAPs or sockets)"
	else
		say "left behind (removed now where possible): ${left[*]}"
		status=1
	fi
	exit $status
}
trap 'cleanup $?' EXIT
trap 'cleanup 0' INT TERM

# wait_for SECONDS COMMAND... (the tests' helper)
. tests/lib.sh

say "starting xensim, a userspace Xen, in $run/sim"
"$XENSIM" --dir "$run/sim" --foreground 2>"$run/xensim.log" &
pids+=($!)
wait_for 10 test -e "$run/sim/xenstored.sock" || { echo "demo: xensim did not start" >&2; exit 1; }
export XENSIM_DIR=$run/sim XENSTORED_PATH=$run/sim/xenstored.sock BANANA_CONTROL=$run/bananad.sock

say "starting bananad (host 'demo', hypervisor xensim)"
"$BANANAD" --foreground --host demo --hypervisor xensim --xensim-dir "$run/sim" \
	--state-dir "$run/state" --control "$run/bananad.sock" 2>"$run/bananad.log" &
pids+=($!)
wait_for 10 test -S "$run/bananad.sock" || { cat "$run/bananad.log"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	say "not root: network namespaces, TAPs and bridges need root, so this is the small demo"
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

cat >"$run/topology.yaml" <<EOF
version: 1
hosts:
  demo: {site: lab, domain: demo}
endpoints:
  demo/lan: {kind: corm, class: vif, params: {bridge: $BR, create: yes}}
  demo/vm1/vif0: {kind: spike}
  demo/vm2/vif0: {kind: spike}
wires:
  vm1-lan: {ends: [demo/vm1/vif0, demo/lan]}
  vm2-lan: {ends: [demo/vm2/vif0, demo/lan]}
EOF
say "declaring the topology with 'bananactl apply': a bridge Corm demo/lan (Linux bridge $BR,"
say "created by bananad) and a shared-memory wire from each guest's vif0 to it:"
"$BANANACTL" apply "$run/topology.yaml" 2>&1 | indent
ip link show "$BR" >/dev/null 2>&1 || { say "bananad did not create bridge $BR:"; tail -5 "$run/bananad.log"; exit 1; }

for i in 1 2; do
	ns=banana-$tag-vm$i
	ip netns add "$ns" || exit 1
	netns+=("$ns")
	ip -n "$ns" link set lo up
	say "starting simulated guest vm$i: a DomU on xensim whose network card (netfront) is eth0"
	say "  in network namespace $ns, address 10.99.0.$i/24"
	"$NETGUEST" --name vm$i --netns "$ns" --mac 02:00:00:99:00:0$i \
		--ip 10.99.0.$i/24 >"$run/vm$i.out" 2>"$run/vm$i.log" &
	pids+=($!)
	wait_for 20 grep -q connected "$run/vm$i.out" || { say "vm$i did not connect:"; cat "$run/vm$i.log"; exit 1; }
done
for i in 1 2; do
	wait_for 15 bash -c "'$BANANACTL' wires vm$i-lan | grep -qw up" ||
		{ say "wire vm$i-lan did not come up"; exit 1; }
done
say "both guests' vifs are Connected and wired; bananad's view:"
"$BANANACTL" wires 2>&1 | indent

say "vm1 pings vm2: each packet leaves vm1's eth0 on its netfront TX ring; bananad's vif Spike"
say "grant-copies it onto the shm wire; the bridge Corm writes it to its TAP on bridge $BR;"
say "the bridge forwards it to vm2's TAP, and back through vm2's Spike onto vm2's RX ring"
ip netns exec "$NS1" ping -c 3 -i 0.5 -W 5 10.99.0.2 2>&1 | indent
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ]; then
	say "vm1 reached vm2 through bananad"
else
	say "the ping FAILED (exit $rc); bananad's log ends with:"
	tail -5 "$run/bananad.log" | indent
	status=1
fi

if [ $once -eq 0 ]; then
	say "running: vm1 keeps pinging vm2 once a second; press Ctrl-C to stop"
	ip netns exec "$NS1" stdbuf -oL ping -i 1 10.99.0.2 > >(indent) 2>&1 &
	pids+=($!)
	wait "${pids[-1]}"
fi
