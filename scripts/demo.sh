#!/usr/bin/env bash
# scripts/demo.sh [--once]: install what is missing, build, and run the demo on
# xensim (a userspace Xen: no real Xen needed): xensim, bananad, and a simulated
# guest whose PV device handshakes with bananad over xenbus until Connected.
# Runs until Ctrl-C (or, with --once, stops by itself after the guest's
# requests were answered), then cleans up: no processes, sockets or shared
# memory left behind.
set -uo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1:-}" = "--once" ] && once=1

scripts/deps.sh || exit 1
scripts/build.sh build >/dev/null || exit 1
B=$PWD/build

run=$(mktemp -d /tmp/banana-demo.XXXXXX)
pids=()
say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
cleanup() {
	trap - INT TERM EXIT
	say "stopping..."
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
		for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "${pids[i]}" 2>/dev/null
		wait "${pids[i]}" 2>/dev/null
	done
	left=$(ls "$run"/sim 2>/dev/null | grep -c sock)
	rm -rf "$run"
	say "stopped cleanly (${left:-0} sockets were left in the simulator's folder; it is removed)"
	exit 0
}
trap cleanup INT TERM EXIT

waitfor() { # path, seconds
	for _ in $(seq $(($2 * 10))); do [ -e "$1" ] && return 0; sleep 0.1; done
	echo "demo: $1 did not appear" >&2
	return 1
}

say "starting xensim, a userspace Xen, in $run/sim"
"$B/sim/xensim/xensim" --dir "$run/sim" --foreground 2>"$run/xensim.log" &
pids+=($!)
waitfor "$run/sim/xenstored.sock" 10 || exit 1
export XENSIM_DIR=$run/sim

say "starting bananad (host 'demo', hypervisor xensim)"
"$B/controller/bananad" --foreground --host demo --hypervisor xensim --xensim-dir "$run/sim" \
	--state-dir "$run/state" --control "$run/bananad.sock" 2>"$run/bananad.log" &
pids+=($!)
waitfor "$run/bananad.sock" 10 || { cat "$run/bananad.log"; exit 1; }

say "starting a simulated guest 'vm1' with one PV device served by bananad"
if [ $once -eq 1 ]; then
	"$B/sim/testfront/sim-testfront" --name vm1 --requests 1000
	say "guest vm1 finished; the domains xenstore knows now:"
	XENSTORED_PATH=$run/sim/xenstored.sock xenstore-ls -s /local/domain | grep -E '^[0-9]+ |name' || true
else
	"$B/sim/testfront/sim-testfront" --name vm1 --requests 1000 --stay &
	pids+=($!)
	sleep 1
	say "the domains xenstore knows now:"
	XENSTORED_PATH=$run/sim/xenstored.sock xenstore-ls -s /local/domain | grep -E '^[0-9]+ |name' || true
	say "running; press Ctrl-C to stop"
	wait "${pids[-1]}"
fi
