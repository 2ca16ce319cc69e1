# tests/xenlab/guest/display.sh: a DomU's side of the display lab test (run
# by the guest /init with lab.run=display lab.display=1; lines reach Dom0
# prefixed GUEST-RUN). Linux's drm_xen_front makes no fbdev, only a KMS
# device: waits for /dev/dri/card0 (the vdispl device bananad serves), then
# /bin/kmsdraw (guest/kmsdraw.c, static) draws a known pattern into two
# dumb buffers, sets the mode on one and flips to the other, and writes
# the flipped pixels as RGB; prints DISPLAY-OK WxH SHA256 of those bytes
# (what a PPM snapshot of the Corm must hold), or DISPLAY-FAIL: why.
echo "display.sh: waiting for /dev/dri/card0"
i=0
while [ ! -e /dev/dri/card0 ]; do
        i=$((i + 1))
        if [ $i -ge 240 ]; then
                echo "DISPLAY-FAIL: no /dev/dri/card0 after 120 s: $(dmesg | grep -i -m4 'drm\|xen' | tr '\n' ' ')"
                exit 1
        fi
        sleep 0.5
done
echo "display.sh: /dev/dri/card0 is there"
[ -x /bin/kmsdraw ] || { echo "DISPLAY-FAIL: no /bin/kmsdraw in the guest (tests/xenlab/build could not compile it)"; exit 1; }
out=$(/bin/kmsdraw /tmp/fb.rgb 2>&1)
rc=$?
echo "$out"
[ $rc = 0 ] || { echo "DISPLAY-FAIL: kmsdraw exited $rc: $out"; exit 1; }
size=$(echo "$out" | sed -n 's/^kmsdraw: \([0-9]*x[0-9]*\) flipped$/\1/p')
echo "DISPLAY-OK $size $(sha256sum < /tmp/fb.rgb | cut -d' ' -f1)"
