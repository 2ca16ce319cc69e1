#!/bin/bash
# tests/cluster/test_migrate.sh BUILD_DIR: live migration of a simulated
# guest with its topology (issue 17; docs/migration.md). Three hosts share
# etcd; a bridge Corm h2/lan on h2, guest vm2 on h2 wired to it by shm,
# guest vm1 on h1 wired to it across the hosts by vxlan; a block guest vm3
# on h1 whose disk is an io_uring Corm on h2 (an nbd wire).
#  1. h1's bananad killed (SIGKILL) while a migration waits at pre-copy
#     (the guest stopped with SIGSTOP): the next bananad on h1 rolls it
#     back (record removed, the guest told to stay) and vm1 still pings.
# Then, while vm1 pings vm2 every 20 ms and vm3 runs a verify load:
#  2. `bananactl migrate vm1 --to h2 --fail-at STEP` on h1, for each step
#     (pre-copy, stop-and-copy, switch), rolls back: the command fails
#     saying so, the wire is vxlan again with its ends on h1 and h2, the
#     store locates vm1 on h1, no migration record is left;
#  3. `bananactl migrate vm1 --to h2` moves vm1 (a new domid on h2's
#     xensim, its TAP and namespace unchanged): h2 names its Spike
#     h1/vm1/vif0 with epoch 1 (the name stays rooted at its home), the wire
#     becomes shm on h2, h1 holds no domain vm1 any more, the ping is
#     answered across the rollbacks and the move (losses counted, at most
#     25 of 250); the topology file applied again leaves vm1 where it runs;
#  3b. vm1 migrates back to h1 while it pings: its shm wire becomes vxlan
#     with a VNI the controllers pick (ctl_vni.c) and the hosts' addresses
#     (at most 10 of 100 pings lost);
#  4. vm3 migrates to h3 (its nbd wire to h2 stays nbd: only the epoch of
#     its Spike changes, and h2 closes the old incarnation's end, fenced)
#     and on to h2 (the wire becomes shm) during its verify run: 0
#     mismatches, 0 errors, every request answered (the run ends with none
#     outstanding), those in flight at each move submitted again (the
#     guest does not drain: --migrate-drain-ms 0, as Linux's blkfront);
#  5. h2's bananad (the bridge Corm's host) SIGKILLed while vm1 migrates
#     from h1 to h3: the migration completes or rolls back, no record is
#     left, and once h2's next bananad is up vm1 pings vm2 again.
B=$1
. "$(dirname "$0")/cluster.sh"
cl_programs "$B"
cl_need_root tun
cl_underlay 3
cl_etcd
cl_etcd_hosts 3 --lease-ttl 5
BR=m$CL_T
cat >"$CL_BASE/topo.yaml" <<YAML
version: 1
hosts:
  h1: {site: lab, domain: test}
  h2: {site: lab, domain: test}
  h3: {site: lab, domain: test}
endpoints:
  h2/lan: {kind: corm, class: vif, params: {bridge: $BR, create: yes}}
  h1/vm1/vif0: {kind: spike}
  h2/vm2/vif0: {kind: spike}
  h2/disk: {kind: corm, class: vbd, params: {path: $CL_BASE/disk.img}}
  h1/vm3/xvda: {kind: spike, class: vbd}
wires:
  vm1-lan:
    ends: [h1/vm1/vif0, h2/lan]
    type: vxlan
    options: {vni: 4545, end0: {addr: 10.88.0.11}, end1: {addr: 10.88.0.12}}
  vm2-lan: {ends: [h2/vm2/vif0, h2/lan]}
  vm3-disk:
    ends: [h1/vm3/xvda, h2/disk]
    type: nbd
    options: {end1: {listen: "tcp:10.88.0.12:10810"}}
YAML
truncate -s 32M "$CL_BASE/disk.img"
cl_ctl 1 apply "$CL_BASE/topo.yaml" >/dev/null || cl_fail "apply failed"
cl_netguest 1 vm1 10.77.0.1/24 02:00:00:77:00:01 1450
ngpid=${cl_pids[-1]} # vm1's sim-netguest
cl_netguest 2 vm2 10.77.0.2/24 02:00:00:77:00:02 1500 # shm
wire_is() { cl_ctl "$1" wires "$2" 2>/dev/null | grep -qE "$3"; }
wait_for 15 wire_is 2 vm1-lan 'vxlan .* up$' || cl_fail "vm1-lan not up: $(cl_ctl 2 wires 2>&1)"
wait_for 15 wire_is 2 vm2-lan 'shm .* up$' || cl_fail "vm2-lan not up: $(cl_ctl 2 wires 2>&1)"
ip netns exec "$CL_T-vm1" ping -c 2 -W 5 10.77.0.2 >/dev/null || cl_fail "vm1 cannot ping vm2"

# 1. the source's controller dies mid-migration
kill -STOP "$ngpid"
cl_ctl 1 migrate vm1 --to h2 >"$CL_BASE/m1b.out" 2>&1 &
mp=$!
wait_for 5 sh -c "ip netns exec $CL_T-etcd env ETCDCTL_API=3 etcdctl --endpoints $CL_ETCD get banana/migrations/vm1 | grep -q pre-copy" ||
    { kill -CONT "$ngpid"; cl_fail "no pre-copy record"; }
kill -KILL "${CL_BPID[1]}"
wait "$mp" 2>/dev/null
wait "${CL_BPID[1]}" 2>/dev/null
cl_bananad 1 --store etcd://10.88.0.2:2379 --address 10.88.0.11 --lease-ttl 5
wait_for 10 sh -c "[ -z \"\$(ip netns exec $CL_T-etcd env ETCDCTL_API=3 etcdctl --endpoints $CL_ETCD get --prefix banana/migrations/ --keys-only)\" ]" ||
    { kill -CONT "$ngpid"; cl_fail "the next bananad left the migration record"; }
kill -CONT "$ngpid"
grep -q "left at pre-copy: rolled back" "$CL_BASE/h1/bananad.log" || cl_fail "h1 did not say it rolled back"
wait_for 15 wire_is 2 vm1-lan 'vxlan .* up$' || cl_fail "vm1-lan not up after the restart: $(cl_ctl 2 wires 2>&1)"
wait_for 10 ip netns exec "$CL_T-vm1" ping -c 1 -W 1 10.77.0.2 >/dev/null || cl_fail "vm1 cannot ping after the restart"
echo "ok: h1's bananad killed at pre-copy: the next one rolled the migration back"

# the block guest's verify run goes on meanwhile (migrated in 3., checked in 4.)
XENSIM_DIR=$CL_BASE/h1/sim timeout 60 "$G" --name vm3 --vdev xvda --sim-dir "$CL_BASE/h1/sim" \
    --timeout 20 --verify --qd 16 --seconds 7 --migrate-drain-ms 0 >"$CL_BASE/vm3.out" 2>"$CL_BASE/vm3.log" &
gp=$!
cl_pids+=($gp)
wait_for 15 grep -q connected "$CL_BASE/vm3.out" || cl_fail "vm3 did not connect: $(tail -3 "$CL_BASE/vm3.log")"
ip netns exec "$CL_T-vm1" ping -i 0.02 -c 250 -W 1 10.77.0.2 >"$CL_BASE/ping.out" 2>&1 &
pp=$!
cl_pids+=($pp)
sleep 0.5

# 2. a fault at each step: everything back as it was
for step in pre-copy stop-and-copy switch; do
    if cl_ctl 1 migrate vm1 --to h2 --fail-at $step >"$CL_BASE/m1.out" 2>&1; then
        cl_fail "migrate --fail-at $step succeeded: $(cat "$CL_BASE/m1.out")"
    fi
    grep -q "rolled back: a fault injected" "$CL_BASE/m1.out" || cl_fail "$step: no rollback said: $(cat "$CL_BASE/m1.out")"
    wait_for 10 wire_is 2 vm1-lan 'vxlan .* up$' || cl_fail "$step: vm1-lan not vxlan again: $(cl_ctl 2 wires 2>&1)"
    [ -z "$(cl_etcdctl get --prefix banana/migrations/ --keys-only)" ] || cl_fail "$step: a migration record was left"
    cl_etcdctl get banana/endpoints/h1/vm1/vif0 --print-value-only | grep -q '"location":"h1"' ||
        cl_fail "$step: the store does not locate vm1 on h1 any more"
    echo "ok: --fail-at $step rolled back: $(tail -1 "$CL_BASE/m1.out")"
done
[ "$(grep -c staying "$CL_BASE/vm1.out")" = 3 ] || cl_fail "the guest did not stay 3 times: $(tail -3 "$CL_BASE/vm1.out")"
sleep 0.3

# 3. the migration
cl_ctl 1 migrate vm1 --to h2 >"$CL_BASE/m2.out" 2>&1 || cl_fail "migrate failed: $(cat "$CL_BASE/m2.out")"
# and the disk, while its verify run goes on (checked in 4.): to h3 (the
# nbd wire stays nbd), then on to h2 (where it becomes shm)
cl_ctl 1 migrate vm3 --to h3 >"$CL_BASE/m3.out" 2>&1 || cl_fail "migrate vm3 to h3 failed: $(cat "$CL_BASE/m3.out")"
sed 's/^/  h1: /' "$CL_BASE/m3.out"
sleep 0.5
cl_ctl 3 migrate vm3 --to h2 >"$CL_BASE/m4.out" 2>&1 || cl_fail "migrate vm3 to h2 failed: $(cat "$CL_BASE/m4.out")"
sed 's/^/  h3: /' "$CL_BASE/m4.out"
sed 's/^/  h1: /' "$CL_BASE/m2.out"
grep -q "^done" "$CL_BASE/m2.out" || cl_fail "migrate did not say done"
grep -q "migrated to $CL_BASE/h2/sim" "$CL_BASE/vm1.out" || cl_fail "the guest did not move: $(tail -3 "$CL_BASE/vm1.out")"
grep -q "spike endpoint h1/vm1/vif0 (epoch 1" "$CL_BASE/h2/bananad.log" ||
    cl_fail "h2 did not name the Spike at its home: $(grep 'spike endpoint' "$CL_BASE/h2/bananad.log")"
wait_for 10 wire_is 2 vm1-lan 'shm .* up$' || cl_fail "vm1-lan did not become shm: $(cl_ctl 2 wires 2>&1)"
cl_etcdctl get banana/endpoints/h1/vm1/vif0 --print-value-only | grep -q '"location":"h2"' ||
    cl_fail "the store does not locate vm1 on h2"
XENSTORED_PATH=$CL_BASE/h1/sim/xenstored.sock xenstore-ls /local/domain 2>/dev/null | grep -q 'name = "vm1"' &&
    cl_fail "h1 still holds a domain vm1"
[ -z "$(cl_etcdctl get --prefix banana/migrations/ --keys-only)" ] || cl_fail "a migration record was left"
wait "$pp"
got=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$CL_BASE/ping.out")
echo "ping across the rollback and the migration: ${got:-0} of 250 answered"
[ "${got:-0}" -ge 225 ] || cl_fail "too many pings lost: $(tail -2 "$CL_BASE/ping.out")"
ip netns exec "$CL_T-vm1" ping -c 2 -W 5 10.77.0.2 >/dev/null || cl_fail "vm1 cannot ping vm2 after the move"
# the file applied again (it says nothing of where vm1 runs) leaves vm1 where it is
out=$(cl_ctl 1 apply "$CL_BASE/topo.yaml" 2>&1) || cl_fail "apply after the move: $out"
echo "$out" | grep -qE "vm1-lan|h1/vm1/vif0" && cl_fail "apply after the move changed vm1: $out"
wire_is 2 vm1-lan 'shm .* up$' || cl_fail "vm1-lan is not shm after the apply: $(cl_ctl 2 wires 2>&1)"
ip netns exec "$CL_T-vm1" ping -c 2 -W 5 10.77.0.2 >/dev/null || cl_fail "vm1 cannot ping vm2 after the apply"
# 3b. vm1 back to h1, away from its Corm, while it pings: the shm wire
# becomes vxlan, with a VNI the controllers pick and the hosts' addresses
ip netns exec "$CL_T-vm1" ping -i 0.02 -c 100 -W 1 10.77.0.2 >"$CL_BASE/ping5.out" 2>&1 &
pp=$!
cl_pids+=($pp)
sleep 0.3
cl_ctl 2 migrate vm1 --to h1 >"$CL_BASE/m5.out" 2>&1 || cl_fail "migrate vm1 back to h1 failed: $(cat "$CL_BASE/m5.out")"
sed 's/^/  h2: /' "$CL_BASE/m5.out"
grep -qE "^wire vm1-lan: shm now, vxlan \(VNI [0-9]+ picked\) once h1/vm1/vif0 is on h1" "$CL_BASE/m5.out" ||
    cl_fail "migrate did not say the wire becomes vxlan with a VNI picked"
wait_for 10 wire_is 1 vm1-lan 'vxlan .* up$' || cl_fail "vm1-lan did not become vxlan: $(cl_ctl 1 wires 2>&1)"
cl_etcdctl get banana/wires/vm1-lan --print-value-only | grep -qE '"vni":"[0-9]+"' ||
    cl_fail "the store's vm1-lan has no VNI: $(cl_etcdctl get banana/wires/vm1-lan --print-value-only)"
wait "$pp"
got=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$CL_BASE/ping5.out")
echo "ping across the migration shm -> vxlan: ${got:-0} of 100 answered"
[ "${got:-0}" -ge 90 ] || cl_fail "too many pings lost: $(tail -2 "$CL_BASE/ping5.out")"
ip netns exec "$CL_T-vm1" ping -c 2 -W 5 10.77.0.2 >/dev/null || cl_fail "vm1 cannot ping vm2 over vxlan"

# 4. the disk moved under its verify run
wait "$gp" || cl_fail "the verify run failed: $(tail -3 "$CL_BASE/vm3.out") $(tail -3 "$CL_BASE/vm3.log")"
grep -q "migrated to $CL_BASE/h3/sim" "$CL_BASE/vm3.out" || cl_fail "vm3 did not move to h3"
grep -q "migrated to $CL_BASE/h2/sim" "$CL_BASE/vm3.out" || cl_fail "vm3 did not move to h2"
grep -q "spike endpoint h1/vm3/xvda (epoch 1" "$CL_BASE/h3/bananad.log" || cl_fail "h3 did not name vm3's Spike at its home"
grep -q "wire vm3-disk (nbd): end 0 attached to h1/vm3/xvda" "$CL_BASE/h3/bananad.log" ||
    cl_fail "h3 did not wire the disk Spike by nbd"
grep -E "verified=[1-9][0-9]* mismatches=0 errors=0" "$CL_BASE/vm3.out" >/dev/null ||
    cl_fail "vm3: $(tail -2 "$CL_BASE/vm3.out")"
grep -h "submitted again\|mismatches" "$CL_BASE/vm3.out"
wire_is 2 vm3-disk '^vm3-disk +shm ' || cl_fail "vm3-disk is not shm: $(cl_ctl 2 wires 2>&1)"
grep -q "wire vm3-disk (shm): end 0 attached to h1/vm3/xvda" "$CL_BASE/h2/bananad.log" ||
    cl_fail "h2 did not wire the moved disk Spike by shm"
for e in "1 now (was 0)" "2 now (was 1)"; do
    grep -q "wire vm3-disk: h1/vm3/xvda is incarnation $e: the old one's ends are closed (fenced)" \
        "$CL_BASE/h2/bananad.log" || cl_fail "h2 did not fence the disk's old incarnation ($e)"
done
# 5. the Corm's host dies during a migration: vm1 (on h1 again) to h3
# while h2's bananad, which holds the bridge Corm, is SIGKILLed; the
# migration completes or is rolled back, and once h2's next bananad is up
# vm1 pings vm2 again wherever it runs
cl_ctl 1 migrate vm1 --to h3 >"$CL_BASE/m6.out" 2>&1 &
mp=$!
sleep 0.05
kill -KILL "${CL_BPID[2]}"
wait "${CL_BPID[2]}" 2>/dev/null
wait "$mp" && where=h3 || where=h1
sed 's/^/  h1: /' "$CL_BASE/m6.out"
grep -qE "^done|rolled back" "$CL_BASE/m6.out" || cl_fail "the migration neither completed nor rolled back"
cl_bananad 2 --store etcd://10.88.0.2:2379 --address 10.88.0.12 --lease-ttl 5
[ -z "$(cl_etcdctl get --prefix banana/migrations/ --keys-only)" ] || cl_fail "a migration record was left"
cl_etcdctl get banana/endpoints/h1/vm1/vif0 --print-value-only | grep -q "\"location\":\"$where\"" ||
    cl_fail "the store does not locate vm1 on $where"
wait_for 20 wire_is 2 vm1-lan 'vxlan .* up$' || cl_fail "vm1-lan not up after h2's restart: $(cl_ctl 2 wires 2>&1)"
wait_for 20 ip netns exec "$CL_T-vm1" ping -c 1 -W 1 10.77.0.2 >/dev/null ||
    cl_fail "vm1 (on $where) cannot ping vm2 after h2's restart"
echo "ok: the Corm's host died during a migration to h3: vm1 runs on $where and pings vm2 after h2's restart"
echo "PASS"
