#!/bin/bash
# test_nbd.sh LOADER: the NBD Corm against real servers started here and
# stopped by PID: nbdkit (memory, file) and qemu-nbd (Unix socket and TCP),
# a mixed verify run on each; data filled through one connection checked
# through another; then the server killed (SIGKILL) and restarted in the
# middle of a verify run: no request lost or corrupted, >= 1 reconnect.
set -u
load=$1
for p in nbdkit qemu-nbd; do
        command -v $p >/dev/null || { echo "$p not installed: skipping"; exit 77; }
done
dir=$(mktemp -d /tmp/bn-nbd.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
        rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
sock=$dir/nbd.sock
img=$dir/disk.img

wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stop() {
        kill "$1" 2>/dev/null; wait "$1" 2>/dev/null
        local keep=() p
        for p in "${pids[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
        pids=("${keep[@]}")
}

start_nbdkit_memory() { rm -f "$sock"; nbdkit -U "$sock" -f memory 32M & srv=$!; pids+=($srv); wait_sock "$sock"; }
start_nbdkit_file() { rm -f "$sock"; nbdkit -U "$sock" -f file "$img" & srv=$!; pids+=($srv); wait_sock "$sock"; }
start_qemu_unix() { rm -f "$sock"; qemu-nbd -k "$sock" -f raw --persistent --discard=unmap "$img" & srv=$!; pids+=($srv); wait_sock "$sock"; }
uri_unix="nbd+unix:///?socket=$sock"

echo "== nbdkit memory: mixed verify with flushes and trims"
start_nbdkit_memory || fail "nbdkit did not start"
"$load" --nbd "$uri_unix" --seconds 2 --qd 32 --flush-every 64 --discard-every 32 || fail "nbdkit memory verify"
echo "== the verifier can fail: check generation 2 after filling generation 1"
"$load" --nbd "$uri_unix" --mode fill --gen 1 --qd 16 --blocks 512 || fail "fill"
if "$load" --nbd "$uri_unix" --mode check --gen 2 --qd 16 --blocks 512 2>/dev/null; then
        fail "check of the wrong generation passed"
fi
"$load" --nbd "$uri_unix" --mode check --gen 1 --qd 16 --blocks 512 || fail "check gen 1 through a second connection"
stop $srv

truncate -s 32M "$img"
echo "== nbdkit file"
start_nbdkit_file || fail "nbdkit file did not start"
"$load" --nbd "$uri_unix" --seconds 2 --qd 16 --flush-every 64 || fail "nbdkit file verify"
stop $srv

echo "== qemu-nbd on a Unix socket"
start_qemu_unix || fail "qemu-nbd did not start"
"$load" --nbd "$uri_unix" --seconds 2 --qd 16 --flush-every 64 --discard-every 32 || fail "qemu-nbd unix verify"
stop $srv

echo "== qemu-nbd on TCP"
port=$(free_port)
qemu-nbd --bind 127.0.0.1 --port "$port" -f raw --persistent "$img" & srv=$!; pids+=($srv)
wait_port "$port" || fail "qemu-nbd tcp did not start"
"$load" --nbd "nbd://127.0.0.1:$port/" --seconds 2 --qd 16 --mode mixed || fail "qemu-nbd tcp verify"
stop $srv

restart_run() { # $1: start function name
        echo "== $1: server killed and restarted during a verify run"
        $1 || fail "$1 did not start"
        "$load" --nbd "$uri_unix" --seconds 5 --qd 32 --flush-every 64 --min-reconnects 1 &
        lp=$!; pids+=($lp)
        sleep 1.5
        kill -9 $srv; wait $srv 2>/dev/null
        sleep 0.7
        $1 || fail "$1 did not restart"
        wait $lp || fail "$1: verify across a restart"
        stop $srv
}
restart_run start_nbdkit_file
restart_run start_qemu_unix
echo "PASS"
