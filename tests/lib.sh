#!/bin/bash
# tests/lib.sh: shell helpers shared by the tests that start servers
# (sourced: . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"). Defines
# functions only; each test keeps its own temp dir, fail() and clean-up.
#   wait_for SECONDS COMMAND...  poll (every 0.1 s) until COMMAND succeeds;
#                                returns 1 when SECONDS have passed
#   stop_pid PID [SECONDS]       SIGTERM, wait up to SECONDS (default 5) for
#                                it to exit, then SIGKILL; reaps it when it
#                                is a child of this shell
#   san_reports FILE...          print the names of the files that hold an
#                                AddressSanitizer / LeakSanitizer / UBSan
#                                report (nothing when none does)
#   san_show FILE...             print those reports (the first 60 lines)

wait_for() {
    local n=$(($1 * 10))
    shift
    while ! "$@" >/dev/null 2>&1; do
        n=$((n - 1))
        [ $n -gt 0 ] || return 1
        sleep 0.1
    done
}

stop_pid() {
    local p=$1 n=$((${2:-5} * 10))
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null
    while [ $n -gt 0 ] && kill -0 "$p" 2>/dev/null; do
        n=$((n - 1))
        sleep 0.1
    done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    return 0
}

BN_SAN_PATTERN="AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:"

san_reports() {
    grep -lE "$BN_SAN_PATTERN" "$@" 2>/dev/null
}

san_show() {
    grep -hE -A12 "$BN_SAN_PATTERN" "$@" 2>/dev/null | head -60
}

# san_check FILES...: when a sanitizer report is in FILES, print it and
# return 1 (a test's clean-up then fails the test).
san_check() {
    local san
    san=$(san_reports "$@")
    [ -z "$san" ] && return 0
    echo "FAIL: sanitizer report in $san:"
    san_show $san
    return 1
}
