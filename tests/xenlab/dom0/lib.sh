# tests/xenlab/dom0/lib.sh: helpers for lab tests (sourced by
# /lab/tests/*.sh inside Dom0). A test reports exactly one result line for
# its own name ($LAB_TEST): pass / fail "reason" / skip "reason" (each
# exits). Processes a test starts go through lab_bg so they are stopped by
# PID when the test ends, whatever the outcome.
LAB_TEST=${LAB_TEST:-$(basename "$0" .sh)}
LAB_RUN=/run/lab
LAB_HOST=$(hostname)
LAB_GUEST_KERNEL=/lab/guest/vmlinux
LAB_GUEST_INITRD=/lab/guest/initrd.cpio
mkdir -p "$LAB_RUN"

_lab_pids=""
_lab_cleanup() {
        local p
        for p in $_lab_pids; do
                kill "$p" 2> /dev/null
        done
        for p in $_lab_pids; do
                for _ in 1 2 3 4 5 6 7 8 9 10; do
                        kill -0 "$p" 2> /dev/null || break
                        sleep 0.5
                done
                kill -9 "$p" 2> /dev/null
        done
}
trap _lab_cleanup EXIT

log() { echo "[$LAB_TEST $(cut -d' ' -f1 /proc/uptime)] $*"; }
pass() { echo "PASS $LAB_TEST"; exit 0; }
fail() { echo "FAIL $LAB_TEST: $*"; exit 1; }
skip() { echo "SKIP $LAB_TEST: $*"; exit 0; }
# Sub-results (several checks in one test): check NAME CMD... reports
# PASS/FAIL "$LAB_TEST/NAME" and returns the command's status.
check() {
        local n=$1
        shift
        if "$@"; then
                echo "PASS $LAB_TEST/$n"
                return 0
        fi
        echo "FAIL $LAB_TEST/$n: '$*' failed"
        return 1
}

# lab_bg LOGFILE CMD...: start CMD in the background, remember its PID.
lab_bg() {
        local logf=$1
        shift
        "$@" > "$logf" 2>&1 &
        LAB_BG_PID=$!
        _lab_pids="$_lab_pids $LAB_BG_PID"
        echo "$LAB_BG_PID" >> "$LAB_RUN/pids"
}

# lab_bananad LOG STATE [ARGS...]: this checkout's bananad on the xen
# provider, in the background (log $LAB_RUN/LOG, state dir $LAB_RUN/STATE,
# extra bananad ARGS), with Dom0's Linux bridge br0 up for bridge Corms.
# Sets BPID and LAB_BANANAD_LOG; waits until it answers `bananactl status`;
# skips the test when this checkout has no bananad, fails it when bananad
# exits at once.
lab_bananad() {
        local logf=$LAB_RUN/$1 st=$LAB_RUN/$2
        shift 2
        command -v bananad > /dev/null || skip "no bananad in this checkout's build (tests/xenlab/build copies <builddir>/controller/bananad)"
        ip link add br0 type bridge 2> /dev/null
        ip link set br0 up
        lab_bg "$logf" bananad --hypervisor xen --foreground --host "$LAB_HOST" --state-dir "$st" "$@"
        BPID=$LAB_BG_PID
        LAB_BANANAD_LOG=$logf
        wait_for 30 sh -c "bananactl status > /dev/null 2>&1 || ! kill -0 $BPID 2>/dev/null"
        kill -0 $BPID 2> /dev/null || fail "bananad exited at once: $(tail -5 "$logf" | tr '\n' ' ')"
}

# wait_for SECONDS CMD...: poll CMD every half second until it succeeds, for
# SECONDS of Dom0 uptime (a deadline: under emulation a poll can take
# seconds, so counting polls would stretch the wait many times over).
wait_for() {
        local end=$(($(cut -d. -f1 /proc/uptime) + $1))
        shift
        while true; do
                "$@" && return 0
                [ "$(cut -d. -f1 /proc/uptime)" -lt $end ] || return 1
                sleep 0.5
        done
}

# Xen tools get a time limit: a hang becomes a logged failure, not a test
# that sits until its timeout.
xs_read() {
        local v rc
        v=$(set -o pipefail; timeout 15 xenstore-read "$1" 2> /dev/null | tr -d "\\0")
        rc=$?
        [ "$rc" = 124 ] && log "xenstore-read $1 hung for 15 s" >&2
        printf '%s' "$v"
        [ -n "$v" ]
}
# xs_state_ge PATH N: the xenbus state at PATH/state is >= N.
xs_state_ge() {
        local s
        s=$(xs_read "$1/state")
        [ -n "$s" ] && [ "$s" -ge "$2" ]
}
xs_exists() { timeout 15 xenstore-exists "$1" 2> /dev/null; }

domid_of() { timeout 30 xl domid "$1" 2> /dev/null; }
guest_running() { timeout 30 xl list "$1" > /dev/null 2>&1; }
guest_console() { echo "/var/log/xen/console/guest-$1.log"; }
# console_has GUEST REGEX
console_has() { grep -qE "$2" "$(guest_console "$1")" 2> /dev/null; }

# guest_cfg NAME "VIF-LIST" "DISK-LIST" [EXTRA-KERNEL-ARGS]: write a PV
# guest config booting the lab's guest kernel and initramfs; prints its path.
# The lists are xl syntax without the brackets, e.g. "'mac=00:16:3e:00:00:01,bridge=br0,script=vif-banana'".
guest_cfg() {
        local f=$LAB_RUN/$1.cfg
        cat > "$f" << CFG
name = "$1"
type = "pv"
kernel = "$LAB_GUEST_KERNEL"
ramdisk = "$LAB_GUEST_INITRD"
extra = "console=hvc0 loglevel=4 lab.guest=$1 $4"
memory = 128
vcpus = 1
vif = [ $2 ]
disk = [ $3 ]
on_crash = "preserve"
CFG
        echo "$f"
}

# guest_create CFG: xl create; returns 0 when the guest runs afterwards.
# (xl create has been seen to return 3 after its monitor aborted while the
# guest ran fine, so the guest's presence is what counts; xl's output is in
# $LAB_RUN/<name>.create.log and echoed on failure.)
guest_create() {
        local cfg=$1 name rc
        name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$cfg")
        xl -v create "$cfg" > "$LAB_RUN/$name.create.log" 2>&1
        rc=$?
        # libxl gives a back-end about 10 s to reach InitWait; on a loaded
        # host the emulated Dom0 can miss that. Say so, and try once more.
        if [ $rc != 0 ] && [ -n "${LAB_CREATE_RETRY:-1}" ] && ! guest_running "$name" &&
                grep -q 'unable to add device with path' "$LAB_RUN/$name.create.log" &&
                ! grep -q 'script:' "$LAB_RUN/$name.create.log"; then
                log "xl create: a back-end missed libxl's time limit ($(grep -m1 'unable to add device' "$LAB_RUN/$name.create.log" | sed 's/.*: //')); retrying once"
                xl -v create "$cfg" > "$LAB_RUN/$name.create.log" 2>&1
                rc=$?
        fi
        LAB_CREATE_RC=$rc
        if guest_running "$name"; then
                [ $rc = 0 ] || log "xl create returned $rc but $name runs"
                return 0
        fi
        log "xl create $cfg failed (exit $rc):"
        grep -vE '^(libxl: debug|xc: debug|domainbuilder)' "$LAB_RUN/$name.create.log" | tail -15 | sed "s/^/[$LAB_TEST]   /"
        return 1
}

# guest_destroy NAME: xl destroy and wait until it is gone.
guest_destroy() {
        xl destroy "$1" > "$LAB_RUN/$1.destroy.log" 2>&1
        wait_for 20 sh -c "! xl list '$1' > /dev/null 2>&1"
}

# The shell stand-in back-end: moves every backend/{vif,vbd,vbd3}/<dom>/<dev>
# in state 1 to InitWait (2) with the feature keys the front-ends need, and
# answers libxl's Closing (5) with Closed (6) when a device goes. Used
# only by the tests that prove the lab itself, never with bananad.
standin_backend() {
        local line path st p
        while true; do
                # One xenstore-ls per round (forks are slow under emulation,
                # and libxl gives a back-end about 10 s to reach InitWait).
                timeout 15 xenstore-ls -f /local/domain/0/backend 2> /dev/null |
                        sed -n 's|^\(/local/domain/0/backend/[a-z0-9]*/[0-9]*/[0-9]*\)/state = "\([0-9]*\)".*|\1 \2|p' |
                        while read -r p st; do
                                case "$st" in
                                1)
                                        case "$p" in
                                        */backend/vif/*)
                                                xenstore-write $p/feature-rx-copy 1 $p/feature-sg 1 \
                                                        $p/feature-rx-notify 1 $p/state 2 ;;
                                        *)
                                                xenstore-write $p/feature-flush-cache 1 \
                                                        $p/max-ring-page-order 0 $p/state 2 ;;
                                        esac
                                        echo "stand-in: $p -> InitWait"
                                        ;;
                                5)
                                        # libxl removes the device: Closing -> Closed
                                        xenstore-write $p/state 6
                                        echo "stand-in: $p -> Closed"
                                        ;;
                                esac
                        done
                sleep 0.3
        done
}
start_standin_backend() { lab_bg "$LAB_RUN/standin.log" bash -c ". /lab/lib.sh; trap - EXIT; standin_backend"; }

# wait_watched SECONDS CMD...: poll CMD until it succeeds or SECONDS of
# Dom0 uptime passed (a deadline, not a count: under emulation each poll can
# take seconds), logging every ~30 s what Dom0 is busy with (the top
# processes by CPU), the last lines of each running guest's console and of
# $LAB_BANANAD_LOG when set, so a slow or stuck test shows where it stands.
up_s() { cut -d. -f1 /proc/uptime; }
wait_watched() {
        local end=$(($(up_s) + $1)) next=$(($(up_s) + 30)) g
        shift
        while [ "$(up_s)" -lt $end ]; do
                "$@" && return 0
                sleep 0.5
                [ "$(up_s)" -lt $next ] && continue
                next=$(($(up_s) + 30))
                log "waiting: top: $(ps -eo pcpu,comm --sort=-pcpu | sed -n '2,4p' | tr -s ' ' | tr '\n' ';')"
                for g in $(xl list 2> /dev/null | awk 'NR>2 {print $1}'); do
                        grep -av GUEST-TICK "$(guest_console "$g")" 2> /dev/null | tail -3 | tr -d '\r' |
                                sed "s/^/[$LAB_TEST]   $g: /"
                        grep -a GUEST-TICK "$(guest_console "$g")" 2> /dev/null | tail -1 | tr -d '\r' |
                                sed "s/^/[$LAB_TEST]   $g: /"
                done
                [ -n "${LAB_BANANAD_LOG:-}" ] && tail -6 "$LAB_BANANAD_LOG" | sed "s/^/[$LAB_TEST]   bananad: /"
        done
        return 1
}
