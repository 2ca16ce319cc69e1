#!/bin/bash
# tests/net/netlib.sh: shared by the guest-to-guest tests of suite 'net'
# (sourced): start xensim and bananad, a bridge Corm declared with
# bananactl apply, sim-netguests in their own network namespaces; stop
# everything by PID and remove what was created (namespaces, bridge, files)
# at exit, also when a check fails.
#
# Needs: XENSIM BANANAD BANANACTL NG set by the test (paths of the binaries).
# Gives:  nl_start, nl_topology, nl_guest, nl_wait, nl_fail, nl_cleanup, nl_bg,
#         and $T (a short unique tag), $base (a temporary folder), $BR.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid, san_check

nl_need_root() {
    if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces, TAP, bridges)"; exit 77; fi
    for c in ip iperf3 ping; do
        command -v "$c" >/dev/null || { echo "SKIP: $c not installed"; exit 77; }
    done
    [ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
    ip netns add "bnprobe$$" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
    ip netns del "bnprobe$$"
}

T=n$$
T=${T:0:10}
BR=br$T
base=$(mktemp -d /tmp/bn-net.XXXXXX)
dir=$base/sim
nl_pids=()
nl_netns=()

nl_cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${nl_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${nl_pids[@]}"; do stop_pid "$p" 5; done
    [ -f "$base/xensim.pid" ] && stop_pid "$(cat "$base/xensim.pid")" 3
    for p in "${nl_netns[@]}"; do ip netns del "$p" 2>/dev/null; done
    # bananad deletes the bridge it created; this is for a killed bananad.
    ip link del "$BR" 2>/dev/null
    # under -Db_sanitize: a report from any of our processes fails the test
    san_check "$base"/*.log "$base"/*.out || { rm -rf "$base"; exit 1; }
    rm -rf "$base"
}
trap nl_cleanup EXIT
trap 'exit 1' INT TERM

nl_fail() {
    local f
    echo "FAIL: $*"
    for f in "$base"/*.log "$base"/*.out; do [ -f "$f" ] && { echo "== $f"; tail -25 "$f"; }; done
    exit 1
}

nl_wait() { wait_for "$@"; } # nl_wait SECONDS COMMAND...: until COMMAND succeeds

nl_start() { # xensim + bananad (host hostA; more options in NL_BANANAD_ARGS)
    "$XENSIM" --dir "$dir" --pidfile "$base/xensim.pid" 2>"$base/xensim.log" || nl_fail "xensim did not start"
    export XENSIM_DIR=$dir XENSTORED_PATH=$dir/xenstored.sock BANANA_CONTROL=$base/ctl.sock
    "$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$dir" \
        --state-dir "$base/state" --control "$base/ctl.sock" --log-level ${NL_LOG:-info} \
        ${NL_BANANAD_ARGS:-} >"$base/bananad.out" 2>"$base/bananad.log" &
    BPID=$!
    nl_pids+=($BPID)
    nl_wait 15 test -S "$base/ctl.sock" || nl_fail "bananad did not start"
}

# nl_topology VM... [-- KEY: VALUE (Corm params)]: a bridge Corm hostA/$BR
# (creating bridge $BR) and one shm wire from each VM's vif0 to it.
nl_topology() {
    local vm extra=""
    {
        printf 'version: 1\nhosts:\n  hostA: {site: test, domain: test}\nendpoints:\n'
        printf '  hostA/%s: {kind: corm, class: vif, params: {bridge: %s, create: yes%s}}\n' "$BR" "$BR" "${NL_CORM_EXTRA:-}"
        for vm in "$@"; do printf '  hostA/%s/vif0: {kind: spike}\n' "$vm"; done
        printf 'wires:\n'
        for vm in "$@"; do printf '  %s-net:\n    ends: [hostA/%s/vif0, hostA/%s]\n' "$vm" "$vm" "$BR"; done
    } >"$base/topo.yaml"
    "$BANANACTL" apply "$base/topo.yaml" >"$base/apply.out" 2>&1 || nl_fail "bananactl apply failed: $(cat "$base/apply.out")"
    ip link show "$BR" >/dev/null 2>&1 || nl_fail "bridge $BR was not created"
}

# nl_guest VM IP6SUFFIX [sim-netguest options...]: a netns $T-VM with the
# guest's TAP eth0, 10.77.0.N/24 and fd77::N/64 (N = IP6SUFFIX); waits for
# Connected. Its PID is in GPID[VM].
declare -A GPID
nl_guest() {
    local vm=$1 n=$2 ns=$T-$1
    shift 2
    if ! ip netns list | grep -qw "$ns"; then
        ip netns add "$ns" || nl_fail "cannot create netns $ns"
        nl_netns+=("$ns")
        ip -n "$ns" link set lo up
    fi
    "$NG" --name "$vm" --netns "$ns" --mac "02:00:00:77:00:0$n" --ip "10.77.0.$n/24" "$@" \
        >"$base/$vm.out" 2>"$base/$vm.log" &
    GPID[$vm]=$!
    nl_pids+=(${GPID[$vm]})
    nl_wait 20 grep -q "connected" "$base/$vm.out" || nl_fail "guest $vm did not connect"
    nl_wait 10 ip -n "$ns" link show eth0 || nl_fail "guest $vm: no eth0 in $ns"
    ip -n "$ns" addr add "fd77::$n/64" dev eth0 nodad 2>/dev/null
    # the guest's wire is attached when its Spike appears
    nl_wait 15 bash -c "'$BANANACTL' wires $vm-net | grep -qw up" || nl_fail "wire $vm-net never came up: $("$BANANACTL" wires 2>&1)"
}

nl_in() { local vm=$1; shift; ip netns exec "$T-$vm" "$@"; }
# nl_bg VM CMD...: CMD in VM's namespace in the background, $! its PID and
# in nl_pids (so the clean-up stops it). Not `nl_in ... &`: that
# backgrounds a subshell, whose PID is not the command's, and the command
# outlives the test.
nl_bg() { local vm=$1; shift; ip netns exec "$T-$vm" "$@" & nl_pids+=($!); }
