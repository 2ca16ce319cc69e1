# xl-plugins/banana-common.sh: shared by vif-banana and block-banana, the
# hotplug scripts libxl runs for devices that bananad serves. Installed next
# to them in /etc/xen/scripts/. Follows Xen's hotplug conventions
# (xen-hotplug-common.sh): success writes hotplug-status=connected in the
# device's back-end directory; failure writes hotplug-error (a message an
# operator can act on, which xl prints as "script: <message>") and
# hotplug-status=error, and exits non-zero so that xl create fails.
#
# Settings, from the environment or /etc/default/banana:
#   BANANA_HOST   this host's name in endpoint names (default: hostname -s)
#   BANANA_WIRE   wire type for connect (default: bananactl's own choice)
#   BANANACTL     the bananactl program (default: bananactl in PATH)
#   BANANA_CONTROL  bananad's control socket (bananactl's default otherwise)
#   BANANA_HOTPLUG_TIMEOUT  seconds one bananactl call may take (default 30)
#   BANANA_HOTPLUG_LOG      log file (default /var/log/xen/banana-hotplug.log)

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
[ -r /etc/default/banana ] && . /etc/default/banana
BANANACTL=${BANANACTL:-bananactl}
BANANA_HOTPLUG_TIMEOUT=${BANANA_HOTPLUG_TIMEOUT:-30}
BANANA_HOTPLUG_LOG=${BANANA_HOTPLUG_LOG:-/var/log/xen/banana-hotplug.log}
bn_script=$(basename "$0")

bn_log() {
        local msg="$(date '+%F %T') $bn_script[$$] ${XENBUS_PATH:-?}: $*"
        { echo "$msg" >> "$BANANA_HOTPLUG_LOG"; } 2> /dev/null
        command -v logger > /dev/null 2>&1 && logger -t "$bn_script" -- "${XENBUS_PATH:-?}: $*"
        return 0
}

# bn_fatal MESSAGE: report a hotplug failure the Xen way and exit 1.
bn_fatal() {
        bn_log "error: $*"
        echo "$bn_script: $*" >&2
        if [ -n "${XENBUS_PATH:-}" ]; then
                xenstore-write "$XENBUS_PATH/hotplug-error" "$*" "$XENBUS_PATH/hotplug-status" error \
                        > /dev/null 2>&1
        fi
        exit 1
}

bn_success() {
        xenstore-rm "$XENBUS_PATH/hotplug-error" > /dev/null 2>&1
        xenstore-write "$XENBUS_PATH/hotplug-status" connected ||
                bn_fatal "cannot write $XENBUS_PATH/hotplug-status (is xenstored running?)"
}

bn_xs_read() { xenstore-read "$1" 2> /dev/null; }

# bn_component TEXT: TEXT as one endpoint-name component (bytes outside
# [A-Za-z0-9._:-] become '_', at most 63 bytes), as bananad names them.
bn_component() {
        local c
        c=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._:-' '_' | cut -c1-63)
        case "$c" in "" | . | ..) c=_ ;; esac
        printf '%s' "$c"
}

# bn_host: this host's name in endpoint names: $BANANA_HOST, else the host
# bananad says it serves (bananactl status), else the short hostname.
bn_host() {
        local h=${BANANA_HOST:-}
        if [ -z "$h" ] && command -v "$BANANACTL" > /dev/null 2>&1; then
                h=$(timeout "$BANANA_HOTPLUG_TIMEOUT" "$BANANACTL" --json status 2> /dev/null < /dev/null |
                        sed -n 's/.*"host" *: *"\([^"]*\)".*/\1/p' | head -1)
        fi
        [ -n "$h" ] || h=$(hostname -s 2> /dev/null || hostname)
        BANANA_HOST=$h
        bn_component "$h"
}

# bn_device_env: check what libxl gives a hotplug script and derive
# bn_domid, bn_devid, bn_type, bn_vm, bn_hostname, bn_spike (the Spike endpoint:
# <host>/<vm>/<vdev> for a disk (xvda), <host>/<vm>/<type><devid> otherwise
# (vif0); named by the VM, never by its domid).
bn_device_env() {
        [ -n "${XENBUS_PATH:-}" ] ||
                bn_fatal "XENBUS_PATH is not set: this script is run by libxl (xl) for a device, not by hand"
        case "$XENBUS_PATH" in
        backend/* | /local/domain/*/backend/*) ;;
        *) bn_fatal "XENBUS_PATH '$XENBUS_PATH' is not a back-end path (backend/<type>/<domid>/<devid>)" ;;
        esac
        bn_type=${XENBUS_TYPE:-$(echo "$XENBUS_PATH" | awk -F/ '{print $(NF-2)}')}
        bn_devid=${XENBUS_PATH##*/}
        bn_domid=$(echo "$XENBUS_PATH" | awk -F/ '{print $(NF-1)}')
        case "$bn_devid$bn_domid" in
        *[!0-9]*) bn_fatal "XENBUS_PATH '$XENBUS_PATH' does not end in <domid>/<devid>" ;;
        esac
        command -v xenstore-read > /dev/null || bn_fatal "xenstore-read not found in PATH ($PATH): install xen-utils / xenstore-utils"
        bn_vm=$(bn_xs_read "/local/domain/$bn_domid/name")
        [ -n "$bn_vm" ] || bn_vm=$(bn_xs_read "$XENBUS_PATH/banana-vm")
        [ -n "$bn_vm" ] || bn_vm=dom$bn_domid
        # xl names a domain that a migration moves <vm>--incoming (receiving,
        # until it runs) or <vm>--migratedaway (sending): the same VM
        case "$bn_vm" in
        ?*--incoming) bn_vm=${bn_vm%--incoming} ;;
        ?*--migratedaway) bn_vm=${bn_vm%--migratedaway} ;;
        esac
        bn_hostname=$(bn_host)
        # the device's part of the name, as bananad makes it: a disk's vdev
        # ("dev", written by libxl: xvda), else <type><devid> (vif0)
        bn_part=$bn_type$bn_devid
        case "$bn_type" in
        vbd | vbd3)
                bn_vdev=$(bn_xs_read "$XENBUS_PATH/dev")
                if printf '%s' "$bn_vdev" | grep -qxE '[a-z]+[0-9]*' && [ ${#bn_vdev} -lt 32 ]; then
                        bn_part=$bn_vdev
                fi
                ;;
        esac
        bn_spike=$bn_hostname/$(bn_component "$bn_vm")/$bn_part
}

# bn_ctl ARGS...: run bananactl with a time limit; its output in bn_out.
bn_ctl() {
        local rc
        if ! command -v "$BANANACTL" > /dev/null 2>&1; then
                bn_out="bananactl ('$BANANACTL') not found in PATH: install banana's bananactl (e.g. in /usr/local/bin), or set BANANACTL in /etc/default/banana"
                return 127
        fi
        bn_out=$(timeout "$BANANA_HOTPLUG_TIMEOUT" "$BANANACTL" "$@" 2>&1 < /dev/null)
        rc=$?
        [ $rc = 124 ] && bn_out="no answer from bananad within ${BANANA_HOTPLUG_TIMEOUT}s. ${bn_out}"
        bn_log "bananactl $* -> exit $rc${bn_out:+: $(echo "$bn_out" | tr '\n' ' ')}"
        return $rc
}

# bn_other_incarnation: the back-end path (backend/<type>/<domid>/<devid>)
# of this device in another domain whose recorded Spike is this one (an
# older or newer incarnation of it: the source or the destination of xl's
# localhost migration, both alive for a while), on stdout; 1 when none.
bn_other_incarnation() {
        local d p
        for d in $(xenstore-list "backend/$bn_type" 2> /dev/null); do
                [ "$d" = "$bn_domid" ] && continue
                p=backend/$bn_type/$d/$bn_devid
                if [ "$(bn_xs_read "$p/banana-spike")" = "$bn_spike" ]; then
                        echo "$p"
                        return 0
                fi
        done
        return 1
}

# bn_connect PEER: wire the Spike to PEER and remember the wire in the
# back-end directory (banana-spike, banana-peer, banana-wire) for removal.
bn_connect() {
        local peer=$1 wire other
        # a migration: the other incarnation's wire is the Spike's (bananad
        # moves it to this one when its front-end connects)
        if other=$(bn_other_incarnation) && [ "$(bn_xs_read "$other/banana-peer")" = "$peer" ] &&
                wire=$(bn_xs_read "$other/banana-wire") && [ -n "$wire" ]; then
                bn_log "$bn_spike is also $other's (the guest is migrating): its wire $wire stays"
                xenstore-write "$XENBUS_PATH/banana-spike" "$bn_spike" "$XENBUS_PATH/banana-peer" "$peer" \
                        "$XENBUS_PATH/banana-wire" "$wire" "$XENBUS_PATH/banana-vm" "$bn_vm" \
                        > /dev/null 2>&1
                return 0
        fi
        set -- connect "$bn_spike" "$peer"
        [ -n "${BANANA_WIRE:-}" ] && set -- "$@" --wire "$BANANA_WIRE"
        bn_ctl "$@"
        case $? in
        0) ;;
        127) bn_fatal "$bn_out" ;;
        *) bn_fatal "bananactl connect $bn_spike $peer failed: $(echo "$bn_out" | tr '\n' ' ' | sed 's/ *$//') (is bananad running, and is the endpoint $peer declared? see 'bananactl status', 'bananactl endpoints', and $BANANA_HOTPLUG_LOG)" ;;
        esac
        # bananactl prints "connected: wire NAME (TYPE)"; disconnecting the
        # Spike's name removes every wire at it, the fallback.
        wire=$(echo "$bn_out" | sed -n 's/^connected: wire \([^ ]*\).*/\1/p' | tail -1)
        xenstore-write "$XENBUS_PATH/banana-spike" "$bn_spike" "$XENBUS_PATH/banana-peer" "$peer" \
                "$XENBUS_PATH/banana-wire" "${wire:-$bn_spike}" "$XENBUS_PATH/banana-vm" "$bn_vm" \
                > /dev/null 2>&1
}

# bn_disconnect: undo bn_connect. Never fails the removal (libxl ignores
# errors on removal anyway); problems are logged.
bn_disconnect() {
        local wire other
        wire=$(bn_xs_read "$XENBUS_PATH/banana-wire")
        if [ -z "$wire" ]; then
                bn_log "no banana-wire recorded for $bn_spike: nothing to disconnect"
                return 0
        fi
        # a migration: the other incarnation still uses the wire
        if other=$(bn_other_incarnation) && [ "$(bn_xs_read "$other/banana-wire")" = "$wire" ]; then
                bn_log "$bn_spike lives on in $other (the guest migrated): its wire $wire stays"
                xenstore-rm "$XENBUS_PATH/banana-wire" > /dev/null 2>&1
                return 0
        fi
        bn_ctl disconnect "$wire" || bn_log "warning: bananactl disconnect $wire failed: $bn_out"
        xenstore-rm "$XENBUS_PATH/banana-wire" > /dev/null 2>&1
        return 0
}
