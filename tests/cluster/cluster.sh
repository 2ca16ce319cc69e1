#!/bin/bash
# tests/cluster/cluster.sh: the test cluster (sourced), shared by every
# multi-host test and benchmark: N hosts as network namespaces on one
# underlay, each with its own xensim and bananad, and a real etcd (Debian's
# etcd-server) in a namespace of its own, plain or with TLS (a CA, a server
# and a client certificate made here with OpenSSL). Everything is started
# by this file and stopped by its PID; cl_cleanup (run at exit) removes the
# namespaces, links and files, and fails the test when a sanitizer reported.
#
#   . tests/cluster/cluster.sh      (XENSIM BANANAD BANANACTL set by the test,
#                                   or by cl_programs)
#   cl_programs BUILD_DIR           XENSIM BANANAD BANANACTL and the simulated
#                                   guests NG (net), G (block), DG (display)
#   cl_need_root [tun] [TOOL...]    skip (77) without root / netns, or without
#                                   /dev/net/tun or a TOOL the test names
#   cl_underlay N                   the underlay and hosts h1..hN
#   cl_etcd [--tls]                 etcd at $CL_ETCD (its client URL); more etcd
#                                   options in $CL_ETCD_EXTRA (word-split)
#   cl_etcd_stop, cl_etcd_start     etcd down, and up again on the same data
#   cl_host I [bananad options...]  xensim and bananad of host hI
#   cl_bananad I [options...]       bananad of host hI again (after a kill)
#   cl_ctl I ARGS...                bananactl against host hI's bananad
#   cl_etcdctl ARGS...              etcdctl against the cluster's etcd
#   cl_in I CMD...                  CMD in host hI's namespace
#   cl_fail MESSAGE                 print the logs' tails, fail the test
#   cl_netguest I NAME IP MAC MTU   a simulated guest on hI, eth0 in its own netns
#   cl_peer_ns I NAME BRIDGE IP MTU a plain namespace on a bridge of hI
#   cl_xfer FROM TO ADDR FILE       a file over TCP, sha256 checked at the far end
#
# Addresses (only inside the namespaces made here): the underlay is
# 10.88.0.0/24 on a bridge in namespace $CL_T-ul; etcd is 10.88.0.2, host hI
# is 10.88.0.(10+I). Names carry a tag unique to this test process ($CL_T).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid, san_check

CL_T=c$$
CL_T=${CL_T:0:8}
CL_BASE=$(mktemp -d /tmp/bn-cluster.XXXXXX)
CL_N=0
CL_ETCD=""
CL_ETCD_PID=""
CL_TLS=0
cl_pids=()
cl_netns=()
declare -A CL_BPID

cl_programs() {
    XENSIM=$1/sim/xensim/xensim BANANAD=$1/controller/bananad BANANACTL=$1/controller/bananactl
    NG=$1/sim/netguest/sim-netguest G=$1/sim/blkguest/sim-blkguest DG=$1/sim/dispguest/sim-dispguest
}

cl_need_root() {
    local t
    if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces)"; exit 77; fi
    ip netns add "${CL_T}probe" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
    ip netns del "${CL_T}probe"
    for t in "$@"; do
        if [ "$t" = tun ]; then
            [ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
        else # a missing tool is a missing install step (scripts/deps.sh): CI counts it failed
            command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
        fi
    done
}

cl_cleanup() {
    local p n
    trap - EXIT INT TERM
    for p in "${cl_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${cl_pids[@]}"; do stop_pid "$p" 5; done
    for n in $(seq "$CL_N"); do
        [ -f "$CL_BASE/h$n/xensim.pid" ] && stop_pid "$(cat "$CL_BASE/h$n/xensim.pid")" 3
    done
    for n in "${cl_netns[@]}"; do ip netns del "$n" 2>/dev/null; done
    san_check "$CL_BASE"/*.log "$CL_BASE"/h*/*.log || { rm -rf "$CL_BASE"; exit 1; }
    rm -rf "$CL_BASE"
}
trap cl_cleanup EXIT
trap 'exit 1' INT TERM

cl_fail() {
    local f
    echo "FAIL: $*"
    for f in "$CL_BASE"/*.log "$CL_BASE"/h*/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done
    exit 1
}

cl_in() { local i=$1; shift; ip netns exec "$CL_T-h$i" "$@"; }

_cl_ns() { # _cl_ns NAME ADDRESS: a namespace with a veth to the underlay bridge
    local ns=$CL_T-$1 port=$CL_T$1
    ip netns add "$ns" || cl_fail "cannot create netns $ns"
    cl_netns+=("$ns")
    ip -n "$ns" link set lo up
    ip link add "$port" type veth peer name ul0 netns "$ns" || cl_fail "cannot create veth $port"
    ip link set "$port" netns "$CL_T-ul"
    ip -n "$CL_T-ul" link set "$port" master br0 up
    ip -n "$ns" addr add "$2/24" dev ul0
    ip -n "$ns" link set ul0 up
}

cl_underlay() { # cl_underlay N
    local i
    CL_N=$1
    ip netns add "$CL_T-ul" || cl_fail "cannot create the underlay namespace"
    cl_netns+=("$CL_T-ul")
    ip -n "$CL_T-ul" link add br0 type bridge
    ip -n "$CL_T-ul" link set br0 up
    _cl_ns etcd 10.88.0.2
    for i in $(seq "$CL_N"); do
        _cl_ns "h$i" "10.88.0.$((10 + i))"
        mkdir -p "$CL_BASE/h$i"
    done
}

# _cl_certs: a CA, a server certificate for 10.88.0.2 and a client one. The
# server's is for client authentication too: etcd's JSON gateway dials etcd's
# own gRPC port with it (without that EKU every gateway call answers 503).
_cl_certs() {
    local d=$CL_BASE/pki
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=banana test CA" -keyout "$d/ca.key" -out "$d/ca.crt" 2>"$d/openssl.log" ||
        cl_fail "openssl: CA: $(tail -2 "$d/openssl.log")"
    local who
    for who in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=banana test $who" \
            -keyout "$d/$who.key" -out "$d/$who.csr" 2>>"$d/openssl.log" || cl_fail "openssl: $who key"
        printf 'subjectAltName=IP:10.88.0.2,IP:127.0.0.1\nextendedKeyUsage=%s\n' \
            "$([ $who = server ] && echo serverAuth,clientAuth || echo clientAuth)" >"$d/$who.ext"
        openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
            -extfile "$d/$who.ext" -out "$d/$who.crt" 2>>"$d/openssl.log" || cl_fail "openssl: $who certificate"
    done
}

cl_etcdctl() {
    local tls=()
    [ "$CL_TLS" = 1 ] && tls=(--cacert "$CL_BASE/pki/ca.crt" --cert "$CL_BASE/pki/client.crt" --key "$CL_BASE/pki/client.key")
    ip netns exec "$CL_T-etcd" env ETCDCTL_API=3 etcdctl --endpoints "$CL_ETCD" --dial-timeout 3s \
        --command-timeout 5s "${tls[@]}" "$@"
}

cl_etcd() { # cl_etcd [--tls]: etcd in its namespace, listening on 10.88.0.2:2379
    local scheme=http tls=()
    command -v etcd >/dev/null || cl_fail "etcd is not installed (scripts/deps.sh installs etcd-server)"
    if [ "${1:-}" = --tls ]; then
        CL_TLS=1 scheme=https
        _cl_certs
        tls=(--cert-file "$CL_BASE/pki/server.crt" --key-file "$CL_BASE/pki/server.key"
            --trusted-ca-file "$CL_BASE/pki/ca.crt" --client-cert-auth)
    fi
    CL_ETCD=$scheme://10.88.0.2:2379
    CL_ETCD_ARGS=(--name "$CL_T" --data-dir "$CL_BASE/etcd"
        --listen-client-urls "$CL_ETCD" --advertise-client-urls "$CL_ETCD"
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380
        --initial-cluster "$CL_T=http://127.0.0.1:2380" --max-txn-ops 16384 "${tls[@]}"
        ${CL_ETCD_EXTRA:-})
    cl_etcd_start
}

cl_etcd_stop() { stop_pid "$CL_ETCD_PID" 10; } # etcd down (its data stays)
cl_etcd_start() { # etcd (again) on the same data
    ip netns exec "$CL_T-etcd" etcd "${CL_ETCD_ARGS[@]}" >>"$CL_BASE/etcd.log" 2>&1 &
    CL_ETCD_PID=$!
    cl_pids+=("$CL_ETCD_PID")
    wait_for 20 cl_etcdctl endpoint health || cl_fail "etcd did not become healthy at $CL_ETCD"
}

cl_etcd_hosts() { # cl_etcd_hosts N [bananad options...]: hosts h1..hN on cl_etcd's store, each at 10.88.0.1I
    local n=$1 i
    shift
    for i in $(seq "$n"); do cl_host "$i" --store etcd://10.88.0.2:2379 --address "10.88.0.$((10 + i))" "$@"; done
}

cl_host() { # cl_host I [bananad options...]: xensim and bananad of host hI
    local i=$1 d=$CL_BASE/h$1
    cl_in "$i" "$XENSIM" --dir "$d/sim" --pidfile "$d/xensim.pid" 2>"$d/xensim.log" || cl_fail "h$i: xensim did not start"
    cl_bananad "$@"
}

cl_bananad() { # cl_bananad I [bananad options...]: (another) bananad of host hI
    local i=$1 d=$CL_BASE/h$1
    shift
    # not through cl_in: $! must be bananad itself (ip netns exec and env exec)
    ip netns exec "$CL_T-h$i" env XENSIM_DIR="$d/sim" XENSTORED_PATH="$d/sim/xenstored.sock" \
        "$BANANAD" --foreground --host "h$i" --hypervisor xensim --xensim-dir "$d/sim" \
        --state-dir "$d/state" --control "$d/ctl.sock" --log-level "${CL_LOG:-info}" "$@" \
        >"$d/bananad.out" 2>"$d/bananad.log" &
    CL_BPID[$i]=$!
    cl_pids+=("${CL_BPID[$i]}")
    wait_for 15 test -S "$d/ctl.sock" || cl_fail "h$i: bananad did not start"
}

cl_ctl() { local i=$1; shift; BANANA_CONTROL=$CL_BASE/h$i/ctl.sock "$BANANACTL" "$@"; }

# cl_netguest I NAME IP/PREFIX MAC MTU: a simulated guest NAME (sim-netguest,
# $NG) on host hI's xensim, its eth0 in a namespace $CL_T-NAME of its own
# with address IP/PREFIX; waits until its vif is connected and its eth0 has
# the MTU its wire gives (MTU: 1450 over vxlan, 1390 over vpn, 1500 shm).
cl_netguest() {
    local i=$1 name=$2 ip=$3 mac=$4 mtu=$5 d=$CL_BASE/h$1 ns=$CL_T-$2
    ip netns add "$ns" || cl_fail "cannot create netns $ns"
    cl_netns+=("$ns")
    ip -n "$ns" link set lo up
    XENSIM_DIR=$d/sim XENSTORED_PATH=$d/sim/xenstored.sock \
        "$NG" --name "$name" --netns "$ns" --mac "$mac" --ip "$ip" \
        >"$CL_BASE/$name.out" 2>"$CL_BASE/$name.log" &
    cl_pids+=($!)
    wait_for 20 grep -q connected "$CL_BASE/$name.out" || cl_fail "guest $name did not connect"
    wait_for 10 ip -n "$ns" link show eth0 >/dev/null || cl_fail "guest $name: no eth0"
    # the wire sets it: bananad writes its MTU to the vif's back-end key
    # `mtu`, which the guest follows (as Linux's netfront reads it)
    wait_for 15 sh -c "ip -n '$ns' link show eth0 | grep -q ' mtu $mtu '" ||
        cl_fail "guest $name: eth0 has $(ip -n "$ns" link show eth0 | grep -o 'mtu [0-9]*'), want the wire's mtu $mtu"
}

# cl_peer_ns I NAME BRIDGE IP/PREFIX MTU: a namespace $CL_T-NAME behind a
# veth on BRIDGE in host hI's namespace (a plain Linux host on that L2).
cl_peer_ns() {
    local h=$CL_T-h$1 ns=$CL_T-$2 br=$3 ip=$4 mtu=$5 port=${CL_T}p${2:0:4}
    ip netns add "$ns" || cl_fail "cannot create netns $ns"
    cl_netns+=("$ns")
    ip -n "$ns" link set lo up
    ip link add "$port" type veth peer name eth0 netns "$ns" || cl_fail "cannot create veth $port"
    ip link set "$port" netns "$h"
    wait_for 10 ip -n "$h" link show "$br" >/dev/null || cl_fail "h$1: no bridge $br"
    ip -n "$h" link set "$port" mtu "$mtu" master "$br" up
    ip -n "$ns" link set eth0 mtu "$mtu" up
    ip -n "$ns" addr add "$ip" dev eth0
}

# cl_xfer FROM_NS TO_NS TO_ADDR FILE [WHY_CMD]: FILE sent over TCP from
# namespace FROM_NS to a receiver at TO_ADDR:5001 in TO_NS, which must see
# the same bytes (sha256 and length); WHY_CMD's output joins a failure.
# CL_XFER_RATE=BYTES_PER_S paces the sender (a transfer that lasts through
# a test's swaps); CL_XFER_S bounds it (default 90 s).
cl_xfer() {
    local from=$1 to=$2 addr=$3 file=$4 why=${5:-true} want got srv lim=${CL_XFER_S:-90}
    want="$(sha256sum "$file" | cut -d' ' -f1) $(stat -c %s "$file")"
    timeout "$lim" ip netns exec "$to" python3 -c 'import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(30); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b); n += len(b)
print(h.hexdigest(), n)' "$addr" >"$CL_BASE/recv.out" 2>&1 &
    srv=$!
    cl_pids+=($srv)
    wait_for 10 sh -c "ip netns exec $to ss -ltn | grep -q ':5001 '" ||
        cl_fail "the receiver in $to is not listening: $(cat "$CL_BASE/recv.out")"
    timeout "$lim" ip netns exec "$from" python3 -c 'import socket, sys, time
for i in range(50):
    try:
        s = socket.create_connection((sys.argv[1], 5001), timeout=5)
        break
    except OSError as e:
        err = e
        time.sleep(0.1)
else:
    sys.exit("cannot connect: %s" % err)
s.settimeout(30); d = open(sys.argv[2], "rb").read(); rate = float(sys.argv[3])
if rate <= 0:
    s.sendall(d)
t0, k = time.monotonic(), 1 << 18
for o in range(0, len(d), k) if rate > 0 else ():
    time.sleep(max(0.0, t0 + o / rate - time.monotonic()))
    s.sendall(d[o:o + k])
s.close()' "$addr" "$file" "${CL_XFER_RATE:-0}" 2>"$CL_BASE/send.err" ||
        cl_fail "sending $from -> $addr: $(cat "$CL_BASE/send.err"); $($why 2>&1)"
    wait $srv || cl_fail "receiving at $addr: $(cat "$CL_BASE/recv.out")"
    got=$(cat "$CL_BASE/recv.out")
    [ "$got" = "$want" ] || cl_fail "$from -> $addr: got '$got', want '$want'"
}
