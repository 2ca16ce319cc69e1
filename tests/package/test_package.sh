#!/bin/bash
# tests/package/test_package.sh SRCDIR [DEBDIR]: banana's Debian packages on
# this machine (root; changes the machine's package database, and undoes it).
#  1. build them (scripts/package.sh: dpkg-buildpackage -us -uc -b and
#     lintian, no error allowed), unless DEBDIR already holds them;
#  2. install banana and banana-sim: the programs, man pages, xl scripts in
#     /etc/xen/scripts, the unit enabled, the banana group, the docs;
#  3. the demo (scripts/demo.sh --once) runs from the installed files;
#  4. upgrade under traffic: the installed bananad serves two simulated
#     guests; vm1 pings vm2 every 10 ms while the package is upgraded to a
#     newer version and bananad restarted the unit's way (SIGUSR2, then the
#     new /usr/sbin/bananad: what systemd does for the postinst's
#     `deb-systemd-invoke restart`, done by this test when systemd is not
#     PID 1). Every ping lost must fall in one run (the restart gap), which
#     is measured and printed;
#  5. purge: nothing of the packages left (unless they were installed before).
# Prints the time each step took.
set -u
SRC=$1 DEBDIR=${2:-}
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (dpkg -i)"; exit 77; fi
for c in dpkg-buildpackage lintian dh; do
    command -v $c >/dev/null || { echo "SKIP: $c not installed (scripts/deps.sh installs it)"; exit 77; }
done
if dpkg-query -W -f='${Status}' banana 2>/dev/null | grep -q "install ok installed"; then
    echo "SKIP: package banana is installed on this machine already: not touching it"
    exit 77
fi
XENSIM=/usr/bin/xensim BANANAD=/usr/sbin/bananad BANANACTL=/usr/bin/bananactl NG=/usr/bin/sim-netguest
. "$SRC/tests/net/netlib.sh" # nl_* (sets $base, its EXIT trap cleans up)
nl_need_root
installed=0
pkg_cleanup() {
    if [ $installed = 1 ]; then
        dpkg --purge banana banana-sim >"$base/purge.log" 2>&1 || { echo "FAIL: purge: $(tail -3 "$base/purge.log")"; }
    fi
    nl_cleanup
}
trap pkg_cleanup EXIT
t0=$(date +%s)
step() { echo "ok: $* ($(($(date +%s) - t0)) s)"; t0=$(date +%s); }

# 1. build (and lintian)
if [ -z "$DEBDIR" ] || ! ls "$DEBDIR"/banana_*.deb >/dev/null 2>&1; then
    DEBDIR=$base/debs
    "$SRC/scripts/package.sh" "$DEBDIR" >"$base/package.out" 2>&1 || nl_fail "scripts/package.sh: $(tail -20 "$base/package.out")"
    grep "^package.sh:" "$base/package.out"
    step "packages built, lintian reports no error"
fi
deb=$(ls "$DEBDIR"/banana_*_*.deb | head -1) simdeb=$(ls "$DEBDIR"/banana-sim_*_*.deb | head -1)
version=$(dpkg-deb -f "$deb" Version)

# 2. install
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" "$simdeb" >"$base/install.log" 2>&1 ||
    nl_fail "apt-get install: $(tail -5 "$base/install.log")"
for f in /usr/sbin/bananad /usr/bin/bananactl /usr/bin/xensim /usr/bin/sim-netguest /usr/bin/sim-blkguest \
    /etc/xen/scripts/vif-banana /etc/xen/scripts/block-banana; do
    [ -x "$f" ] || nl_fail "$f is not installed (or not executable)"
done
[ -f /etc/xen/scripts/banana-common.sh ] || nl_fail "no /etc/xen/scripts/banana-common.sh"
for m in bananad.8 bananactl.8 banana-topology.5 xensim.1; do
    [ -f /usr/share/man/man${m##*.}/$m.gz ] || nl_fail "no man page $m"
done
man -P cat bananad 2>/dev/null | grep -q -- "--metrics" || nl_fail "man bananad does not show --metrics"
[ -f /usr/share/bash-completion/completions/bananactl ] || nl_fail "no bash completion for bananactl"
[ -f /usr/share/doc/banana/cli.md ] || nl_fail "no /usr/share/doc/banana/cli.md"
[ -f /usr/share/doc/banana/examples/one-host.yaml ] || nl_fail "no examples in /usr/share/doc/banana"
unit=/lib/systemd/system/bananad.service
grep -q "^ExecStart=/usr/sbin/bananad " $unit || nl_fail "the unit does not run /usr/sbin/bananad: $(grep ExecStart $unit)"
[ -L /etc/systemd/system/multi-user.target.wants/bananad.service ] || nl_fail "the unit is not enabled"
getent group banana >/dev/null || nl_fail "no group banana"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify $unit >"$base/verify.out" 2>&1 || nl_fail "systemd-analyze verify $unit: $(cat "$base/verify.out")"
    [ -s "$base/verify.out" ] && nl_fail "systemd-analyze verify $unit says: $(cat "$base/verify.out")"
    exposure=$(systemd-analyze security --offline=yes $unit 2>/dev/null | sed -n 's/.*Overall exposure level for bananad.service: \([0-9.]*\).*/\1/p')
    echo "unit: systemd-analyze verify clean; security exposure $exposure (0 best, 10 worst)"
    awk -v e="${exposure:-10}" 'BEGIN {exit !(e <= 4.0)}' || nl_fail "the unit's exposure is ${exposure:-unknown}, want <= 4.0"
fi
grep -q "deb-systemd-invoke restart 'bananad.service'\|deb-systemd-invoke \$_dh_action 'bananad.service'" /var/lib/dpkg/info/banana.postinst ||
    nl_fail "the postinst does not restart bananad on upgrade"
step "installed $version: programs, man pages, xl scripts, unit enabled, group banana, docs"

# 3. the demo from the installed files
BANANA_INSTALLED=1 timeout 120 "$SRC/scripts/demo.sh" --once >"$base/demo.out" 2>&1 || nl_fail "installed demo failed: $(tail -20 "$base/demo.out")"
grep -q "vm1 reached vm2 through bananad" "$base/demo.out" || nl_fail "the installed demo did not ping"
grep -q "nothing left behind" "$base/demo.out" || nl_fail "the installed demo left something behind"
step "the demo ran from the installed files (/usr/sbin/bananad, /usr/bin/xensim, ...)"

# 4. upgrade under traffic. A newer version of the same files.
newv="$version+upgradetest1"
for d in "$deb" "$simdeb"; do
    p=$(dpkg-deb -f "$d" Package)
    rm -rf "$base/re"
    dpkg-deb -R "$d" "$base/re"
    sed -i "s/^Version: .*/Version: $newv/" "$base/re/DEBIAN/control"
    dpkg-deb -b "$base/re" "$base/${p}_new.deb" >/dev/null || nl_fail "repack $p"
done
restart_sig=$(sed -n 's/^RestartKillSignal=//p' $unit)
[ "$restart_sig" = SIGUSR2 ] || nl_fail "the unit's RestartKillSignal is '$restart_sig', want SIGUSR2"
nl_start
nl_topology vm1 vm2
nl_guest vm1 1
nl_guest vm2 2
nl_in vm1 ping -c 2 -i 0.2 -W 5 10.77.0.2 >/dev/null || nl_fail "no ping before the upgrade"
n=1000 # 10 s at one per 10 ms
nl_bg vm1 ping -D -n -c $n -i 0.01 -W 2 10.77.0.2 >"$base/ping.out" 2>&1
ppid=$!
sleep 2
old_exe=$(stat -L -c %i /proc/$BPID/exe)
DEBIAN_FRONTEND=noninteractive dpkg -i "$base/banana_new.deb" "$base/banana-sim_new.deb" >"$base/upgrade.log" 2>&1 ||
    nl_fail "dpkg -i (upgrade): $(tail -5 "$base/upgrade.log")"
[ "$(dpkg-query -W -f='${Version}' banana)" = "$newv" ] || nl_fail "banana not upgraded"
if [ -d /run/systemd/system ]; then
    echo "note: systemd runs here, but this bananad is the test's, not the unit's: restarting it the unit's way"
fi
# the restart, as the unit defines it: RestartKillSignal, then ExecStart again
kill -"${restart_sig#SIG}" "$BPID"
wait "$BPID"
rc=$?
[ $rc = 0 ] || nl_fail "bananad exited $rc on $restart_sig"
"$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$dir" \
    --state-dir "$base/state" --control "$base/ctl.sock" >>"$base/bananad.out" 2>"$base/bananad2.log" &
BPID=$!
nl_pids+=($BPID)
new_exe=$(stat -L -c %i /proc/$BPID/exe)
[ "$old_exe" != "$new_exe" ] || nl_fail "the restarted bananad runs the old file"
nl_wait 15 bash -c "'$BANANACTL' wires vm1-net | grep -qw up && '$BANANACTL' wires vm2-net | grep -qw up" ||
    nl_fail "wires not up after the upgrade: $("$BANANACTL" wires 2>&1)"
wait $ppid
grep -E "vif0: (fatal|.*bad request)" "$base/bananad2.log" && nl_fail "a vif was closed by the restart"
# which pings came back, and when
python3 - "$base/ping.out" $n >"$base/gap.txt" <<'PY' || nl_fail "ping: $(cat "$base/gap.txt"; tail -3 "$base/ping.out")"
import re, sys
seen = {}
for line in open(sys.argv[1]):
    m = re.match(r"\[(\d+\.\d+)\] .* icmp_seq=(\d+) ", line)
    if m:
        seen.setdefault(int(m.group(2)), float(m.group(1)))
n = int(sys.argv[2])
lost = [s for s in range(1, n + 1) if s not in seen]
runs = []
for s in lost:
    if runs and s == runs[-1][1] + 1:
        runs[-1][1] = s
    else:
        runs.append([s, s])
ts = sorted(seen.values())
gap = max(b - a for a, b in zip(ts, ts[1:])) if len(ts) > 1 else 0
print(f"{len(seen)} of {n} replies, {len(lost)} lost in {len(runs)} run(s) {runs}, longest silence {gap * 1000:.0f} ms")
sys.exit(0 if len(runs) <= 1 and len(seen) > 0 else 1)
PY
echo "upgrade $version -> $newv under ping every 10 ms: $(cat "$base/gap.txt")"
kill -0 "${GPID[vm1]}" && kill -0 "${GPID[vm2]}" || nl_fail "a guest died"
step "package upgraded and bananad restarted under traffic, guests kept their vifs"

# 5. purge
for p in "${nl_pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${nl_pids[@]}"; do stop_pid "$p" 5; done
nl_pids=()
dpkg --purge banana banana-sim >"$base/purge.log" 2>&1 || nl_fail "purge: $(tail -3 "$base/purge.log")"
installed=0
for f in /usr/sbin/bananad /usr/bin/xensim /etc/xen/scripts/vif-banana $unit /etc/systemd/system/multi-user.target.wants/bananad.service; do
    [ -e "$f" ] && nl_fail "$f left after purge"
done
step "purged: nothing left"
exit 0
