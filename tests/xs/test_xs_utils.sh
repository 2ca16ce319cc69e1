#!/bin/bash
# test_xs_utils.sh: Debian's xenstore-utils (xenstore-write/read/ls/list/
# exists/rm/watch/chmod, all with -s: talk to the socket in XENSTORED_PATH)
# against the xss server run by xss-testd, as Dom0 and as domain 7.
#
#   test_xs_utils.sh PATH-TO-xss-testd
set -u

testd=$1
for tool in xenstore-write xenstore-read xenstore-ls xenstore-list xenstore-exists \
            xenstore-rm xenstore-watch xenstore-chmod timeout; do
        if ! command -v "$tool" > /dev/null; then
                echo "SKIP: $tool not installed (Debian package xenstore-utils)"
                exit 77
        fi
done

dir=$(mktemp -d /tmp/xss-utils-XXXXXX)
pid=
wpid=
cleanup() {
        [ -n "$wpid" ] && kill "$wpid" 2> /dev/null && wait "$wpid" 2> /dev/null
        if [ -n "$pid" ]; then
                kill -TERM "$pid" 2> /dev/null
                wait "$pid"
        fi
        rm -rf "$dir"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*"
        exit 1
}

# Wait (up to 15 s) until a file exists / contains a line.
wait_for() {
        local i
        for ((i = 0; i < 300; i++)); do
                eval "$1" && return 0
                sleep 0.05
        done
        return 1
}

"$testd" "$dir" 7:guestA 8:guestB &
pid=$!
wait_for '[ -e "$dir/pid" ]' || fail "xss-testd did not start"
[ "$(cat "$dir/pid")" = "$pid" ] || fail "pid file does not name the daemon"

export XENSTORED_PATH=$dir/xenstored.sock
dom7() { XENSTORED_PATH=$dir/dom7.sock "$@"; }

# write / read / exists / list / ls
xenstore-write -s /a/b c /a/d e || fail "xenstore-write"
[ "$(xenstore-read -s /a/b)" = c ] || fail "xenstore-read /a/b"
[ "$(xenstore-read -s /a/d)" = e ] || fail "xenstore-read /a/d"
xenstore-exists -s /a/b || fail "xenstore-exists /a/b"
[ "$(xenstore-list -s /a | tr '\n' ' ')" = "b d " ] || fail "xenstore-list /a"
ls_out=$(xenstore-ls -s /local/domain) || fail "xenstore-ls"
grep -qx '7 = ""' <<< "$ls_out" || fail "xenstore-ls lacks domain 7: $ls_out"
grep -qx ' name = "guestA"' <<< "$ls_out" || fail "xenstore-ls lacks guestA: $ls_out"
grep -qx '8 = ""' <<< "$ls_out" || fail "xenstore-ls lacks domain 8: $ls_out"
grep -qx ' name = "guestB"' <<< "$ls_out" || fail "xenstore-ls lacks guestB: $ls_out"

# rm
xenstore-rm -s /a/b || fail "xenstore-rm"
xenstore-exists -s /a/b 2> /dev/null && fail "/a/b still exists"
xenstore-read -s /a/b 2> /dev/null && fail "/a/b still readable"

# watch: the initial event, then one change
timeout 20 xenstore-watch -s -n 2 /wt > "$dir/watch.out" &
wpid=$!
wait_for 'grep -qx /wt "$dir/watch.out"' || fail "no initial watch event"
xenstore-write -s /wt/x 1 || fail "write /wt/x"
wait "$wpid" || fail "xenstore-watch did not see 2 events"
wpid=
[ "$(tr '\n' ' ' < "$dir/watch.out")" = "/wt /wt/x " ] ||
        fail "watch events: $(cat "$dir/watch.out")"

# chmod, and what domain 7 may do
dom7 xenstore-read -s /a/d 2> /dev/null && fail "dom7 read /a/d without permission"
dom7 xenstore-write -s /outside x 2> /dev/null && fail "dom7 wrote outside its tree"
dom7 xenstore-write -s data/y 5 || fail "dom7 write in its own tree"
[ "$(xenstore-read -s /local/domain/7/data/y)" = 5 ] || fail "dom7 relative write"
xenstore-chmod -s -r /a n0 r7 || fail "xenstore-chmod"
xenstore-ls -s -p /a | grep -q '(n0,r7)' || fail "perms not shown: $(xenstore-ls -s -p /a)"
[ "$(dom7 xenstore-read -s /a/d)" = e ] || fail "dom7 cannot read after chmod r7"
dom7 xenstore-write -s /a/d x 2> /dev/null && fail "dom7 wrote with r only"
xenstore-chmod -s /a/d n0 b7 || fail "xenstore-chmod b7"
dom7 xenstore-write -s /a/d x || fail "dom7 cannot write after chmod b7"
[ "$(xenstore-read -s /a/d)" = x ] || fail "dom7's write lost"

kill -TERM "$pid"
wait "$pid" || fail "xss-testd exit status"
pid=
leftover=$(ls "$dir" | grep -v watch.out)
[ -z "$leftover" ] || fail "left behind in $dir: $leftover"
echo "ok"
