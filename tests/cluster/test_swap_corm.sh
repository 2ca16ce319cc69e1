#!/bin/bash
# tests/cluster/test_swap_corm.sh BUILD_DIR: Netbus's swap after the move
# (issue 17 item 4; docs/migration.md): `bananactl swap-corm` moves a disk
# wire's Corm end from a file Corm on h2 (reached over the nbd wire) to a
# file Corm on h1, the Spike's host, while the guest on h1 runs a verify
# load (QD32, overlapping writes, flushes):
#  1. refused before anything changes, naming both: a read-only new Corm; a
#     smaller one (found by h2's mirror, reported through the store);
#  2. aborted mid-copy (--rate bounds the copy, --abort stops it): the
#     command says so, the wire stays nbd and up, no record is left;
#  3. done: every write mirrored, h2's bytes copied, the switch quiesces;
#     the wire becomes shm on h1; bytes only the copier could have moved
#     are in h1's file;
#  4. again from that Corm to a third file on h1 (the old Corm local: no
#     NBD, the mirror on this bananad): done, the wire shm on h1/disk3;
# the verify run ends with 0 mismatches, 0 errors.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root
cl_underlay 2
cl_etcd
cl_etcd_hosts 2 --lease-ttl 5
D=$CL_BASE
truncate -s 32M "$D/old.img" "$D/new.img" "$D/new3.img" "$D/ro.img"
truncate -s 16M "$D/small.img"
# bytes beyond the guest's blocks: only the copier moves them
head -c 4194304 /dev/urandom >"$D/mark.bin"
dd if="$D/mark.bin" of="$D/old.img" bs=1M seek=24 conv=notrunc status=none
cat >"$D/topo.yaml" <<YAML
version: 1
hosts:
  h1: {site: lab, domain: test}
  h2: {site: lab, domain: test}
endpoints:
  h2/disk: {kind: corm, class: vbd, params: {path: $D/old.img}}
  h1/disk2: {kind: corm, class: vbd, params: {path: $D/new.img}}
  h1/disk3: {kind: corm, class: vbd, params: {path: $D/new3.img}}
  h1/ro: {kind: corm, class: vbd, params: {path: $D/ro.img, readonly: "yes"}}
  h1/small: {kind: corm, class: vbd, params: {path: $D/small.img}}
  h1/vm3/xvda: {kind: spike, class: vbd}
wires:
  vm3-disk:
    ends: [h1/vm3/xvda, h2/disk]
    type: nbd
    options: {end1: {listen: "tcp:10.88.0.12:$((20000 + $$ % 10000))"}}
YAML
cl_ctl 1 apply "$D/topo.yaml" >"$D/apply.out" 2>&1 || cl_fail "apply failed: $(cat "$D/apply.out")"
wire_is() { cl_ctl "$1" wires "$2" 2>/dev/null | grep -qE "$3"; }
no_records() { [ -z "$(cl_etcdctl get --prefix banana/corm-swap --keys-only)" ]; }
cl_in 1 env XENSIM_DIR="$D/h1/sim" timeout 60 "$G" --name vm3 --vdev xvda --sim-dir "$D/h1/sim" \
    --timeout 20 --verify --qd 32 --blocks 2048 --flush-every 16 --seconds 12 \
    >"$D/vm3.out" 2>"$D/vm3.log" &
gp=$!
cl_pids+=($gp)
wait_for 15 grep -q connected "$D/vm3.out" || cl_fail "vm3 did not connect: $(tail -3 "$D/vm3.log")"
wait_for 10 wire_is 1 vm3-disk '^vm3-disk +nbd .*up' || cl_fail "vm3-disk not up: $(cl_ctl 1 wires 2>&1)"
sleep 0.5

# 1. refusals, naming both Corms
cl_ctl 1 swap-corm vm3-disk h1/ro >"$D/ro.out" 2>&1 && cl_fail "a read-only new Corm was accepted"
grep -q "the new Corm h1/ro .* is read-only.*h2/disk stays" "$D/ro.out" || cl_fail "read-only refused how? $(cat "$D/ro.out")"
cl_ctl 1 swap-corm vm3-disk h1/small >"$D/small.out" 2>&1 && cl_fail "a smaller new Corm was accepted"
grep -q "aborted: h1/small: the new Corm nbd://.* (16777216 bytes) is smaller than h2/disk (33554432 bytes)" "$D/small.out" ||
    cl_fail "smaller refused how? $(cat "$D/small.out")"
wait_for 5 no_records || cl_fail "a refused swap-corm left a record"
echo "ok: refused: $(tail -1 "$D/ro.out"); $(tail -1 "$D/small.out")"

# 2. aborted mid-copy
cl_ctl 1 swap-corm vm3-disk h1/disk2 --rate 2000000 >"$D/abort.out" 2>&1 &
sp=$!
wait_for 5 grep -q "^copy: h2/disk's bytes go to" "$D/abort.out" || cl_fail "no copy began: $(cat "$D/abort.out")"
# h2 mirrors (its status record) before the abort
mirroring() { cl_etcdctl get banana/corm-swap-status/vm3-disk | grep -q copied; }
wait_for 10 mirroring ||
    cl_fail "h2 did not begin to mirror: $(grep -E 'swap-corm|mirror' "$D/h2/bananad.log")"
sleep 0.5
cl_ctl 1 wires vm3-disk | grep -q "swap-corm to h1/disk2: copy" || cl_fail "wires shows no copy: $(cl_ctl 1 wires vm3-disk)"
cl_ctl 1 swap-corm --abort vm3-disk >/dev/null || cl_fail "--abort refused"
wait "$sp" && cl_fail "an aborted swap-corm exited 0"
grep -q "aborted (aborted by the operator): h2/disk goes on serving" "$D/abort.out" || cl_fail "abort said what? $(cat "$D/abort.out")"
wait_for 5 no_records || cl_fail "the aborted swap-corm left a record"
wait_for 10 grep -q "mirror of h2/disk ended" "$D/h2/bananad.log" ||
    cl_fail "h2 did not end its mirror: $(grep -E 'swap-corm|mirror' "$D/h2/bananad.log")"
wire_is 1 vm3-disk '^vm3-disk +nbd .*up' || cl_fail "vm3-disk changed after the abort: $(cl_ctl 1 wires 2>&1)"
echo "ok: aborted mid-copy: $(grep -c . "$D/abort.out") steps said, the wire still nbd"

# 3. the swap
t0=$(date +%s%N)
cl_ctl 1 swap-corm vm3-disk h1/disk2 >"$D/swap.out" 2>&1 || cl_fail "swap-corm failed: $(cat "$D/swap.out")"
echo "swap-corm took $((($(date +%s%N) - t0) / 1000000)) ms:"
sed 's/^/  /' "$D/swap.out"
grep -q "^done: h1/disk2 serves vm3-disk" "$D/swap.out" || cl_fail "swap-corm did not say done"
wait_for 10 wire_is 1 vm3-disk '^vm3-disk +shm .*up' || cl_fail "vm3-disk did not become shm: $(cl_ctl 1 wires 2>&1)"
no_records || cl_fail "swap-corm left a record"
echo "ok: h2/disk -> h1/disk2: the wire is shm"

# 4. a local old Corm
cl_ctl 1 swap-corm vm3-disk h1/disk3 >"$D/swap3.out" 2>&1 || cl_fail "swap-corm to h1/disk3 failed: $(cat "$D/swap3.out")"
grep -q "^done: h1/disk3 serves vm3-disk" "$D/swap3.out" || cl_fail "swap-corm to h1/disk3 did not say done"
wait_for 10 wire_is 1 vm3-disk '^vm3-disk +shm .*h1/disk3.*up' || cl_fail "vm3-disk is not on h1/disk3: $(cl_ctl 1 wires 2>&1)"
no_records || cl_fail "the local swap-corm left a record"
echo "ok: h1/disk2 -> h1/disk3: $(grep ^switch "$D/swap3.out" | cut -c1-60)..."
wait "$gp" || cl_fail "the verify run failed: $(tail -3 "$D/vm3.out") $(tail -3 "$D/vm3.log")"
grep -E "verified=[1-9][0-9]* mismatches=0 errors=0" "$D/vm3.out" >/dev/null || cl_fail "vm3: $(tail -2 "$D/vm3.out")"
echo "ok: verify across the swap: $(grep mismatches "$D/vm3.out" | tail -1)"
cmp <(dd if="$D/new.img" bs=1M skip=24 count=4 status=none) "$D/mark.bin" ||
    cl_fail "h1's file does not hold h2's bytes the copier copied"
cmp <(dd if="$D/new3.img" bs=1M skip=24 count=4 status=none) "$D/mark.bin" ||
    cl_fail "h1/disk3 does not hold the bytes the copier copied"
echo "ok: h1/disk2 and h1/disk3 hold h2/disk's bytes"
echo "PASS"
