#!/bin/bash
# test_privs.sh: least privilege of bananad (suite 'controller', root):
#  - after start-up each thread bananad owns (main, bn-io*) has exactly
#    CAP_NET_ADMIN in its effective, permitted and bounding sets; no thread
#    has more than the set-up set (net_admin, chown, net_bind_service,
#    setpcap: libxenstore's reader thread, which bananad cannot reach);
#  - every thread runs under bananad's seccomp filter (mode 2);
#  - a vif Corm (a bridge and TAPs) is still made after the drop;
#  - the control socket: with --control-group G mode 0660 group G: another
#    user without G is refused (Permission denied), with G admitted; without
#    a group mode 0600 and that user refused even with G.
# usage: test_privs.sh BANANAD BANANACTL XENSIM
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" # wait_for, stop_pid
BANANAD=$1 CTL=$2 XENSIM=$3
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (capabilities, another user)"; exit 77; fi
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
G=users U=nobody
getent group $G >/dev/null && id $U >/dev/null 2>&1 || { echo "SKIP: no group $G or user $U"; exit 77; }
base=$(mktemp -d /tmp/bn-privs.XXXXXX)
chmod 755 "$base" # the other user must reach the socket's folder
sim=$base/sim bpid= BR=bnpr$$
cleanup() {
    stop_pid "$bpid"
    [ -f "$base/xensim.pid" ] && stop_pid "$(cat "$base/xensim.pid")" 3
    ip link del "$BR" 2>/dev/null
    rm -rf "$base"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$base"/bananad*.log 2>/dev/null; exit 1; }
start() { # start ARGS...
    "$BANANAD" --foreground --host hostA --hypervisor xensim --xensim-dir "$sim" \
        --state-dir "$base/state" --control "$base/ctl.sock" "$@" 2>>"$base/bananad.log" &
    bpid=$!
    wait_for 20 "$CTL" --control "$base/ctl.sock" status >/dev/null || fail "bananad did not answer"
}
"$XENSIM" --dir "$sim" --pidfile "$base/xensim.pid" 2>"$base/xensim.log" || fail "xensim did not start"
chmod 755 "$sim"
export XENSIM_DIR=$sim XENSTORED_PATH=$sim/xenstored.sock

start --control-group $G
# capabilities, thread by thread
own=0 other=0
for t in /proc/$bpid/task/*; do
    comm=$(cat "$t/comm")
    eff=$(awk '/^CapEff/ {print $2}' "$t/status") prm=$(awk '/^CapPrm/ {print $2}' "$t/status")
    bnd=$(awk '/^CapBnd/ {print $2}' "$t/status")
    if [ "${t##*/}" = "$bpid" ] || [[ $comm == bn-io* ]]; then
        [ "$eff $prm $bnd" = "0000000000001000 0000000000001000 0000000000001000" ] ||
            fail "thread ${t##*/} ($comm) has CapEff $eff CapPrm $prm CapBnd $bnd, want only cap_net_admin (1000)"
        own=$((own + 1))
    else
        for v in $eff $prm $bnd; do
            (((0x$v & ~0x1501) == 0)) || fail "thread ${t##*/} ($comm) has capabilities $v beyond the set-up set 1501"
        done
        other=$((other + 1))
    fi
done
[ $own -ge 3 ] || fail "found $own of bananad's own threads, want the main one and 2 workers"
echo "ok: $own threads of bananad keep only cap_net_admin (effective, permitted, bounding); $other other(s) at most the set-up set"

# the seccomp filter, on every thread
for t in /proc/$bpid/task/*; do
    [ "$(awk '/^Seccomp:/ {print $2}' "$t/status")" = 2 ] || fail "thread ${t##*/} is not under a seccomp filter: $(grep Seccomp "$t/status")"
done
grep -q "seccomp: [0-9]* system calls allowed" "$base/bananad.log" || fail "bananad did not say it loaded its seccomp filter"
echo "ok: every thread runs under the seccomp filter ($(grep -o 'seccomp: [0-9]* system calls allowed' "$base/bananad.log" | head -1))"

# a bridge Corm still comes up
cat >"$base/t.yaml" <<YAML
version: 1
hosts:
  hostA: {site: lab, domain: test}
endpoints:
  hostA/$BR: {kind: corm, class: vif, params: {bridge: $BR, create: yes}}
YAML
"$CTL" --control "$base/ctl.sock" apply "$base/t.yaml" >"$base/apply.out" 2>&1 || fail "apply: $(cat "$base/apply.out")"
ip link show "$BR" >/dev/null 2>&1 || fail "bridge $BR not made after the drop"
echo "ok: a bridge Corm is made after the drop (cap_net_admin)"

# the control socket
as_user() { setpriv --reuid=$U --regid=nogroup "$@"; }
[ "$(stat -c '%a %U %G' "$base/ctl.sock")" = "660 root $G" ] || fail "socket is $(stat -c '%a %U %G' "$base/ctl.sock"), want 660 root $G"
out=$(as_user --clear-groups "$CTL" --control "$base/ctl.sock" status 2>&1)
rc=$?
[ $rc = 1 ] || fail "$U without group $G: exit $rc, want 1: $out"
grep -q "Permission denied" <<<"$out" || fail "$U without group $G: no 'Permission denied': $out"
echo "ok: $U without group $G refused: $out"
out=$(as_user --groups "$(getent group $G | cut -d: -f3)" "$CTL" --control "$base/ctl.sock" status 2>&1) ||
    fail "$U in group $G was refused: $out"
echo "ok: $U in group $G admitted"
stop_pid "$bpid"
bpid=
start
[ "$(stat -c '%a %U' "$base/ctl.sock")" = "600 root" ] || fail "socket without a group is $(stat -c '%a %U' "$base/ctl.sock"), want 600 root"
out=$(as_user --groups "$(getent group $G | cut -d: -f3)" "$CTL" --control "$base/ctl.sock" status 2>&1)
[ $? = 1 ] && grep -q "Permission denied" <<<"$out" || fail "$U (group $G) was not refused by a root-only socket: $out"
echo "ok: without --control-group the socket is root's only (600): $U refused"
exit 0
