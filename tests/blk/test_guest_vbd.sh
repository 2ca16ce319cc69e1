#!/bin/bash
# test_guest_vbd.sh MODE XENSIM BANANAD BANANACTL SIM_BLKGUEST BLK_CORM_LOAD
# End to end: sim-blkguest (a blkfront over xensim) -> bananad's vbd Spike ->
# shm wire -> disk Corm (io_uring on a file, or NBD to nbdkit), topology
# declared with `bananactl apply`. Each MODE starts its own xensim and
# bananad and stops them (and any server) by PID.
#   verify    QD32 random read/write verify with flushes and discards, with
#             persistent grants on and off: 0 mismatches, 0 errors
#   rings     multi-page rings (order 4), 4 queues, indirect requests of 256
#             segments (1 MiB blocks)
#   reattach  data written by one guest reads back intact through a new
#             guest (new domain, new Spike) after reattachment; checking the
#             wrong generation fails (the verifier can fail)
#   flush     after an acknowledged flush the bytes are in the file (read
#             directly with io_uring, not through bananad)
#   discard   a discard punches a hole in the file (SEEK_HOLE, zeroes)
#   readonly  a read-only disk: info has VDISK_READONLY, writes are refused
#   grow      the file grows while attached: the guest sees the new sectors
#             and uses them
#   nbd       through the NBD Corm to nbdkit (file plugin), the server
#             SIGKILLed and restarted in the middle of a verify run
#   rewire    the guest's wire disconnected and connected again twice in the
#             middle of a verify run: nothing lost, nothing corrupted
#   hostile   each --evil front-end gets its vbd closed while another guest's
#             verify run continues undisturbed
#   restart   bananad SIGKILLed and started again in the middle of a QD32
#             verify run: it re-attaches to the guest's rings without the
#             back-end leaving Connected, takes them back from its ring
#             journal (pushes the answers written and not pushed, serves
#             again what was taken and not answered, exactly once), and the
#             run ends with 0 mismatches and 0 errors
#   restart-usr2  the same with SIGUSR2 (a restart: systemd's
#             RestartKillSignal): bananad detaches, the back-end stays
#             Connected while it is down (read from xenstore), the guest is
#             never told to close, and the run ends with 0 mismatches
#   vdev      the back-end's "dev" key (libxl's vdev) names the Spike
#             (hostA/g1/xvdb); a "dev" that is no plain vdev is ignored
#   stop-close  SIGTERM (a real stop): the back-end goes Closing/Closed the
#             Xen way and the guest sees its disk closed
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid, san_reports
MODE=$1 XENSIM=$2 BANANAD=$3 CTL=$4 G=$5 LOAD=$6
base=$(mktemp -d /tmp/bn-vbd.XXXXXX)
dir=$base/sim
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do stop_pid "$p" 3; done
    [ -f "$base/pid" ] && stop_pid "$(cat "$base/pid")" 3
    rm -rf "$base"
}
fail() {
    echo "FAIL ($MODE): $*"
    for f in "$base"/*.log "$base"/*.out; do [ -f "$f" ] && { echo "== $f"; tail -25 "$f"; }; done
    cleanup
    exit 1
}
ctl() { "$CTL" --control "$base/ctl.sock" "$@"; }
# topo GUEST PARAMS...: a disk Corm hostA/disk with PARAMS (k: v lines) wired
# to GUEST's vbd0 (or $TOPO_DEV); (re)applied after a `disconnect` so that
# both wire ends are fresh.
topo() {
    local guest=$1 dev=${TOPO_DEV:-vbd0}; shift
    {
        echo "version: 1"
        echo "hosts:"
        echo "  hostA: {site: lab, domain: example}"
        echo "endpoints:"
        echo "  hostA/disk:"
        echo "    kind: corm"
        echo "    class: vbd"
        echo "    params:"
        for kv in "$@"; do echo "      $kv"; done
        echo "  hostA/$guest/$dev: {kind: spike}"
        echo "wires:"
        echo "  $guest-disk:"
        echo "    ends: [hostA/$guest/$dev, hostA/disk]"
    } >"$base/topo.yaml"
    ctl disconnect "$guest-disk" >/dev/null 2>&1
    ctl apply "$base/topo.yaml" >"$base/apply.out" 2>&1 || fail "apply: $(cat "$base/apply.out")"
}
guest() { # guest NAME ARGS...: run a guest to completion, output in NAME.out
    local name=$1; shift
    timeout 60 "$G" --name "$name" --sim-dir "$dir" --timeout 25 "$@" \
        >"$base/$name.out" 2>"$base/$name.log"
}
report_ok() { # the load line says 0 mismatches and 0 errors, with verified reads
    grep -q "verified=[1-9][0-9]* mismatches=0 errors=0" "$base/$1.out"
}

"$XENSIM" --dir "$dir" --pidfile "$base/pid" 2>"$base/xensim.log" || fail "xensim did not start"
export XENSIM_DIR=$dir XENSTORED_PATH=$dir/xenstored.sock
start_bananad() {
    "$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$dir" \
        --state-dir "$base/state" --control "$base/ctl.sock" --log-level ${BLK_TEST_LOG:-info} \
        >>"$base/bananad.out" 2>>"$base/bananad.log" & bpid=$!; pids+=($bpid)
    wait_for 10 test -S "$base/ctl.sock" || fail "bananad did not start"
}
start_bananad
img=$base/disk.img

case $MODE in
verify)
    truncate -s 64M "$img"
    topo g1 "path: $img"
    # persistent grants: mapped once, reused, idle ones unmapped after 5 s
    guest g1 --verify --qd 32 --seconds 2 --flush-every 64 --discard-every 64 --idle 6.5 ||
        fail "verify (persistent grants) failed"
    report_ok g1 || fail "g1: $(tail -1 "$base/g1.out")"
    grep -q "g1/vbd0: vbd serving .*persistent grants on" "$base/bananad.log" ||
        fail "persistent grants not negotiated"
    wait_for 10 grep -q "g1/vbd0: persistent grants:" "$base/bananad.log" || fail "no grant stats"
    pg=$(grep "g1/vbd0: persistent grants:" "$base/bananad.log")
    echo "$pg" | grep -qE ": (3[2-9]|[4-9][0-9]) mapped, [1-9][0-9]* reuses, (3[2-9]|[4-9][0-9]) reclaimed idle, 0 still" ||
        fail "persistent grants not reused and reclaimed: $pg"
    echo "ok: $(tail -1 "$base/g1.out")"
    echo "ok: ${pg#*: }"
    # the second run with O_DIRECT where the file system has it (not tmpfs)
    direct=()
    dd if=/dev/zero of="$img" bs=4096 count=1 oflag=direct conv=notrunc status=none 2>/dev/null &&
        direct=("direct: 1")
    topo g2 "path: $img" "${direct[@]}"
    guest g2 --verify --qd 32 --seconds 2 --persistent 0 || fail "verify (grant per request) failed"
    report_ok g2 || fail "g2: $(tail -1 "$base/g2.out")"
    grep -q "g2/vbd0: vbd serving .*persistent grants off" "$base/bananad.log" ||
        fail "g2: persistent grants not off"
    echo "ok: persistent 0${direct:+, O_DIRECT}: $(tail -1 "$base/g2.out")"
    ;;
rings)
    truncate -s 128M "$img"
    topo g1 "path: $img"
    # 12 x 256 pages in flight: more grants than the persistent bound (2048),
    # the rest served with grant copy
    guest g1 --verify --qd 12 --bs 1048576 --ring-order 4 --seconds 2 || fail "1 MiB indirect verify"
    wait_for 10 grep -q "g1/vbd0: persistent grants: 2048 mapped" "$base/bananad.log" ||
        fail "persistent grants not bounded: $(grep 'persistent grants:' "$base/bananad.log")"
    grep -q "ring of 16 page(s).*indirect 256" "$base/g1.out" || fail "g1: $(head -1 "$base/g1.out")"
    report_ok g1 || fail "g1: $(tail -1 "$base/g1.out")"
    echo "ok: 16-page ring, 256-segment indirect requests: $(tail -1 "$base/g1.out")"
    topo g2 "path: $img"
    guest g2 --verify --qd 64 --queues 4 --ring-order 2 --bs 65536 --seconds 2 || fail "4 queues"
    grep -q "connected, 4 queue(s), ring of 4 page(s)" "$base/g2.out" || fail "g2: $(head -1 "$base/g2.out")"
    report_ok g2 || fail "g2: $(tail -1 "$base/g2.out")"
    echo "ok: 4 queues of 4-page rings: $(tail -1 "$base/g2.out")"
    ;;
reattach)
    truncate -s 32M "$img"
    topo vm "path: $img"
    guest vm --mode fill --gen 5 --bs 65536 --qd 16 --blocks 256 || fail "fill through the first Spike"
    topo vm "path: $img"
    guest vm --mode check --gen 5 --bs 65536 --qd 16 --blocks 256 || fail "check after reattach"
    report_ok vm || fail "check: $(tail -1 "$base/vm.out")"
    echo "ok: reattached guest read back: $(tail -1 "$base/vm.out")"
    topo vm "path: $img"
    if guest vm --mode check --gen 6 --bs 65536 --qd 16 --blocks 256; then
        fail "checking the wrong generation passed"
    fi
    grep -q "mismatches=[1-9]" "$base/vm.out" || fail "wrong generation: $(tail -1 "$base/vm.out")"
    echo "ok: the wrong generation is reported: $(tail -1 "$base/vm.out")"
    ;;
flush)
    truncate -s 32M "$img"
    topo g1 "path: $img"
    guest g1 --mode fill --gen 9 --bs 65536 --qd 16 --blocks 128 --final-flush || fail "fill + flush"
    grep -q "final flush acknowledged" "$base/g1.out" || fail "flush: $(cat "$base/g1.out")"
    # read the file itself, not through bananad (the guest is still around in
    # the sense that bananad keeps the Corm open)
    "$LOAD" --uring "$img" --mode check --gen 9 --bs 65536 --qd 8 --blocks 128 \
        >"$base/direct.out" 2>&1 || fail "file content after flush: $(tail -1 "$base/direct.out")"
    echo "ok: after the acknowledged flush the file holds the data: $(tail -1 "$base/direct.out")"
    ;;
discard)
    truncate -s 32M "$img"
    topo g1 "path: $img"
    guest g1 --mode fill --gen 3 --bs 65536 --qd 16 --blocks 128 --discard-blocks 16:64 ||
        fail "fill + discard"
    grep -q "discard of 64 block(s) at 16 acknowledged" "$base/g1.out" || fail "$(cat "$base/g1.out")"
    python3 - "$img" <<'EOF' || fail "no hole punched"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
a, b = 16 * 65536, 80 * 65536
h = os.lseek(fd, a, os.SEEK_HOLE)
assert h == a, f"no hole at {a} (next hole at {h})"
d = os.lseek(fd, a, os.SEEK_DATA)
assert d >= b, f"data at {d} inside the discarded range"
assert os.pread(fd, b - a, a) == bytes(b - a), "discarded range not zero"
assert os.pread(fd, 65536, 0) != bytes(65536), "block 0 lost its data"
assert os.pread(fd, 65536, b) != bytes(65536), "block 80 lost its data"
print("hole", a, "..", d)
EOF
    echo "ok: discard punched a hole of 4 MiB"
    ;;
readonly)
    truncate -s 16M "$img"
    topo g1 "path: $img" "readonly: 1"
    guest g1 --write-pct 100 --qd 8 --seconds 1 --expect-errors || fail "writes to a read-only disk"
    grep -q "info 4," "$base/g1.out" || fail "info not VDISK_READONLY: $(head -1 "$base/g1.out")"
    grep -q "writes=0 .*errors=[1-9]" "$base/g1.out" || fail "writes accepted: $(tail -1 "$base/g1.out")"
    echo "ok: read-only disk: $(tail -1 "$base/g1.out")"
    topo g2 "path: $img" "readonly: 1"
    guest g2 --write-pct 0 --qd 8 --seconds 1 || fail "reads of a read-only disk"
    echo "ok: reads served: $(tail -1 "$base/g2.out")"
    ;;
grow)
    truncate -s 16M "$img"
    topo g1 "path: $img"
    timeout 60 "$G" --name g1 --sim-dir "$dir" --timeout 25 --wait-sectors 65536 --verify \
        --qd 16 --seconds 1 >"$base/g1.out" 2>"$base/g1.log" & gp=$!; pids+=($gp)
    wait_for 15 grep -q "connected.* 32768 sectors" "$base/g1.out" || fail "g1 did not connect at 16 MiB"
    truncate -s 32M "$img"
    wait "$gp" || fail "guest after growth"
    grep -q "disk grew to 65536 sectors" "$base/g1.out" || fail "growth not seen: $(cat "$base/g1.out")"
    report_ok g1 || fail "g1: $(tail -1 "$base/g1.out")"
    grep -q "disk size changed" "$base/bananad.log" || fail "the Corm did not log the growth"
    echo "ok: grew to 65536 sectors while attached: $(tail -1 "$base/g1.out")"
    ;;
nbd)
    command -v nbdkit >/dev/null || { echo "nbdkit not installed: skipping"; cleanup; exit 77; }
    truncate -s 64M "$img"
    sock=$base/nbd.sock
    start_nbd() {
        rm -f "$sock"
        nbdkit -U "$sock" -f file "$img" 2>>"$base/nbdkit.log" & srv=$!; pids+=($srv)
        wait_for 10 test -S "$sock"
    }
    start_nbd || fail "nbdkit did not start"
    topo g1 "uri: nbd+unix:///?socket=$sock"
    timeout 60 "$G" --name g1 --sim-dir "$dir" --timeout 25 --verify --qd 32 --seconds 6 \
        --flush-every 64 >"$base/g1.out" 2>"$base/g1.log" & gp=$!; pids+=($gp)
    wait_for 15 grep -q connected "$base/g1.out" || fail "g1 did not connect"
    sleep 2
    kill -9 "$srv"; wait "$srv" 2>/dev/null
    sleep 0.7
    start_nbd || fail "nbdkit did not restart"
    wait "$gp" || fail "verify across an NBD server restart"
    report_ok g1 || fail "g1: $(tail -1 "$base/g1.out")"
    grep -q "NBD server reconnected" "$base/bananad.log" || fail "no reconnect happened"
    echo "ok: NBD server killed and restarted mid-run: $(tail -1 "$base/g1.out")"
    ;;
rewire)
    truncate -s 64M "$img"
    topo g1 "path: $img"
    timeout 60 "$G" --name g1 --sim-dir "$dir" --timeout 25 --verify --qd 32 --seconds 6 \
        --flush-every 64 >"$base/g1.out" 2>"$base/g1.log" & gp=$!; pids+=($gp)
    wait_for 15 grep -q connected "$base/g1.out" || fail "g1 did not connect"
    for round in 1 2; do
        sleep 1.5
        ctl disconnect g1-disk >"$base/ctl.out" 2>&1 || fail "disconnect: $(cat "$base/ctl.out")"
        sleep 0.3
        ctl connect hostA/g1/vbd0 hostA/disk --name g1-disk >"$base/ctl.out" 2>&1 ||
            fail "connect: $(cat "$base/ctl.out")"
    done
    wait "$gp" || fail "verify across two rewires"
    report_ok g1 || fail "g1: $(tail -1 "$base/g1.out")"
    n=$(grep -c "g1/vbd0: wire g1-disk detached" "$base/bananad.log")
    [ "$n" -ge 2 ] || fail "the wire was detached $n time(s), not 2"
    echo "ok: rewired twice mid-run: $(tail -1 "$base/g1.out")"
    ;;
hostile)
    truncate -s 64M "$img"
    cat >"$base/topo.yaml" <<EOF
version: 1
hosts:
  hostA: {site: lab, domain: example}
endpoints:
  hostA/disk: {kind: corm, class: vbd, params: {path: $img}}
  hostA/good/vbd0: {kind: spike}
  hostA/evil1/vbd0: {kind: spike}
  hostA/evil2/vbd0: {kind: spike}
  hostA/evil3/vbd0: {kind: spike}
  hostA/evil4/vbd0: {kind: spike}
wires:
  good-disk: {ends: [hostA/good/vbd0, hostA/disk]}
  evil1-disk: {ends: [hostA/evil1/vbd0, hostA/disk]}
  evil2-disk: {ends: [hostA/evil2/vbd0, hostA/disk]}
  evil3-disk: {ends: [hostA/evil3/vbd0, hostA/disk]}
  evil4-disk: {ends: [hostA/evil4/vbd0, hostA/disk]}
EOF
    ctl apply "$base/topo.yaml" >"$base/apply.out" 2>&1 || fail "apply: $(cat "$base/apply.out")"
    timeout 60 "$G" --name good --sim-dir "$dir" --timeout 25 --verify --qd 32 --seconds 8 \
        --blocks 4096 >"$base/good.out" 2>"$base/good.log" & gp=$!; pids+=($gp)
    wait_for 15 grep -q connected "$base/good.out" || fail "good did not connect"
    i=0
    for mode in bad-gref bad-sector too-many-segs prod-far-ahead; do
        i=$((i + 1))
        guest "evil$i" --evil $mode --timeout 10 || fail "--evil $mode: vbd not closed"
        grep -q "back-end closed the vbd" "$base/evil$i.out" || fail "--evil $mode: $(cat "$base/evil$i.out")"
        msg=$(grep "evil$i/vbd0" "$base/bananad.log" | grep -iE 'fatal|error' | head -1)
        [ -n "$msg" ] || fail "--evil $mode: no error in bananad's log"
        echo "ok: --evil $mode closed: $msg"
    done
    wait "$gp" || fail "the good guest failed while the hostile ones ran"
    report_ok good || fail "good: $(tail -1 "$base/good.out")"
    kill -0 "$bpid" || fail "bananad died"
    echo "ok: good guest undisturbed: $(tail -1 "$base/good.out")"
    ;;
restart | restart-usr2)
    sig=KILL
    [ "$MODE" = restart-usr2 ] && sig=USR2
    truncate -s 64M "$img"
    topo g1 "path: $img"
    timeout 60 "$G" --name g1 --sim-dir "$dir" --timeout 25 --verify --qd 32 --seconds 8 \
        --flush-every 64 >"$base/g1.out" 2>"$base/g1.log" & gp=$!
    wait_for 20 grep -q "g1/vbd0: connected to the front-end" "$base/bananad.log" ||
        fail "the guest did not connect"
    be=$(xenstore-list /local/domain/0/backend/vbd | head -1)
    be=/local/domain/0/backend/vbd/$be/$(xenstore-list /local/domain/0/backend/vbd/$be | head -1)
    [ "$(xenstore-read "$be/state")" = 4 ] || fail "back-end $be is not Connected: $(xenstore-read "$be/state")"
    sleep 2 # the verify run is under way, with requests in flight
    kill -$sig "$bpid"; wait "$bpid" 2>/dev/null; rc=$?
    if [ $sig = USR2 ]; then
        [ $rc = 0 ] || fail "bananad exited $rc on SIGUSR2"
        grep -q "g1/vbd0: detaching: the back-end stays Connected" "$base/bananad.log" ||
            fail "bananad did not detach from g1/vbd0"
        st=$(xenstore-read "$be/state")
        [ "$st" = 4 ] || fail "while bananad is down, back-end $be is in state $st, not 4 (Connected)"
        echo "ok: bananad stopped by SIGUSR2, back-end $be still Connected"
    else
        rm -f "$base/ctl.sock"
        echo "ok: bananad SIGKILLed in the middle of the verify run"
    fi
    start_bananad
    wait_for 20 grep -q "g1/vbd0: back-end was left Connected: re-attaching" "$base/bananad.log" ||
        fail "the restarted bananad did not re-attach to the connected guest"
    wait_for 10 grep -q "g1/vbd0: queue 0: taken back from the ring journal" "$base/bananad.log" ||
        fail "the restarted bananad did not take the ring back from its journal"
    grep "taken back from the ring journal" "$base/bananad.log" | sed 's/^/    /'
    # while the guest still runs, its wire is back up (the store kept it)
    wait_for 10 bash -c "'$CTL' --control '$base/ctl.sock' wires g1-disk | grep -q 'g1-disk .* up\$'" ||
        fail "wire not back up: $(ctl wires g1-disk 2>&1)"
    kill -0 "$gp" 2>/dev/null || fail "the guest ended before its wire came back"
    wait "$gp" || fail "the verify run failed across the restart: $(tail -3 "$base/g1.out")"
    report_ok g1 || fail "g1: $(tail -1 "$base/g1.out")"
    grep -qi "back-end closed" "$base/g1.out" "$base/g1.log" && fail "the guest was told its disk closed"
    echo "ok: verify run across the restart: $(tail -1 "$base/g1.out")"
    # the guest has gone: its ring journal with it; a journal whose device
    # went away while no bananad ran is removed when bananad starts
    wait_for 10 bash -c "! ls '$base/rings/'*.journal" || fail "journal left after the guest went: $(ls "$base/rings")"
    kill -9 "$bpid"; wait "$bpid" 2>/dev/null
    rm -f "$base/ctl.sock"
    : >"$base/rings/vbd-77-5.journal"
    start_bananad
    wait_for 10 bash -c "! test -e '$base/rings/vbd-77-5.journal'" || fail "stale journal vbd-77-5 not removed"
    echo "ok: journals: none left after the guest, a stale one removed at start"
    ;;
vdev)
    # the toolstack's "dev" key names the Spike (libxl writes the vdev)
    truncate -s 64M "$img"
    TOPO_DEV=xvdb topo g1 "path: $img"
    guest g1 --vdev xvdb --verify --qd 8 --seconds 2 && report_ok g1 || fail "g1 (vdev xvdb): $(tail -2 "$base/g1.out")"
    grep -q "spike endpoint hostA/g1/xvdb " "$base/bananad.log" || fail "the Spike is not named by its vdev"
    echo "ok: vdev xvdb names the Spike hostA/g1/xvdb, verify run: $(tail -1 "$base/g1.out")"
    # a "dev" that is not a plain vdev is not used for a name
    timeout 3 "$G" --name g2 --sim-dir "$dir" --vdev "../x" --seconds 1 >"$base/g2.out" 2>"$base/g2.log"
    grep -q "spike endpoint hostA/g2/vbd0 " "$base/bananad.log" || fail "dev '../x' was not refused as a name"
    echo "ok: dev '../x' ignored: the Spike is hostA/g2/vbd0"
    ;;
stop-close)
    truncate -s 64M "$img"
    topo g1 "path: $img"
    timeout 60 "$G" --name g1 --sim-dir "$dir" --timeout 25 --verify --qd 8 --seconds 20 \
        >"$base/g1.out" 2>"$base/g1.log" & gp=$!
    wait_for 20 grep -q "g1/vbd0: connected to the front-end" "$base/bananad.log" ||
        fail "the guest did not connect"
    be=$(xenstore-list /local/domain/0/backend/vbd | head -1)
    be=/local/domain/0/backend/vbd/$be/$(xenstore-list /local/domain/0/backend/vbd/$be | head -1)
    sleep 1
    kill -TERM "$bpid"; wait "$bpid"; rc=$?
    [ $rc = 0 ] || fail "bananad exited $rc on SIGTERM"
    # (the guest may already have gone, and its back-end directory with it)
    st=$(xenstore-read "$be/state" 2>/dev/null)
    [ -z "$st" ] || [ "$st" = 6 ] || fail "after SIGTERM back-end $be is in state '$st', not 6 (Closed)"
    grep -q "g1/vbd0: back-end state Connected -> Closing" "$base/bananad.log" ||
        fail "bananad did not go through Closing"
    grep -q "g1/vbd0: back-end state Closing -> Closed" "$base/bananad.log" ||
        fail "bananad did not reach Closed"
    wait "$gp"; grc=$?
    grep -qi "back-end closed" "$base/g1.out" "$base/g1.log" ||
        fail "the guest did not see its disk closed (exit $grc): $(tail -3 "$base/g1.log")"
    echo "ok: SIGTERM closed the vbd the Xen way: $(grep -hi "back-end closed" "$base/g1.out" "$base/g1.log" | head -1)"
    start_bananad
    ;;
*)
    fail "unknown mode"
    ;;
esac
kill -0 "$bpid" 2>/dev/null || fail "bananad died"
# stop bananad cleanly and look for sanitizer reports (ASan/UBSan/LSan builds)
kill "$bpid"; wait "$bpid" 2>/dev/null
if grep -lE "Sanitizer|runtime error" "$base"/*.log >/dev/null 2>&1; then
    grep -hE -A15 "Sanitizer|runtime error" "$base"/*.log | head -60
    fail "sanitizer report"
fi
cleanup
exit 0
