# tests/xenlab/guest/display.sh: a DomU's side of the display lab test (run
# by the guest /init with lab.run=display lab.display=1; lines reach Dom0
# prefixed GUEST-RUN). Waits for drm_xen_front's frame buffer (/dev/fb0,
# Linux's fbdev emulation on the vdispl device bananad serves), unbinds the
# frame-buffer console (it would draw its cursor on the pattern), writes a
# known pattern of the fb's size into it (XRGB8888, every byte nonzero,
# made with busybox awk) and prints DISPLAY-OK WxH SHA256, the sha256 of
# the same pixels as RGB (what a PPM snapshot of the Corm must hold), or
# DISPLAY-FAIL: why.
die() {
        echo "DISPLAY-FAIL: $*"
        exit 1
}
i=0
while [ ! -e /dev/fb0 ]; do
        i=$((i + 1))
        [ $i -lt 240 ] || die "no /dev/fb0 after 120 s (drm_xen_front: $(dmesg | grep -i -m3 'xen.drm\|drm_xen\|vdispl' | tr '\n' ' '))"
        sleep 0.5
done
F=/sys/class/graphics/fb0
size=$(cat $F/virtual_size)
W=${size%,*}
H=${size#*,}
bpp=$(cat $F/bits_per_pixel)
stride=$(cat $F/stride)
echo "fb0: ${W}x$H, $bpp bpp, stride $stride ($(cat $F/name))"
[ "$bpp" = 32 ] || die "fb0 has $bpp bits per pixel, not 32"
[ "$stride" = $((W * 4)) ] || die "fb0's stride $stride is not $((W * 4))"
for v in /sys/class/vtconsole/vtcon*; do
        grep -qi "frame buffer" $v/name 2> /dev/null && echo 0 > $v/bind
done
# pixel (x, y): B = 1 + (7x + y) % 255, G = 1 + 3y % 255, R = 1 + (x + 5y) % 255
pattern() { # pattern bgrx|rgb
        awk -v W=$W -v H=$H -v M=$1 'BEGIN {
                for (y = 0; y < H; y++)
                        for (x = 0; x < W; x++) {
                                b = 1 + (7 * x + y) % 255; g = 1 + (3 * y) % 255; r = 1 + (x + 5 * y) % 255
                                if (M == "rgb") printf "%c%c%c", r, g, b
                                else printf "%c%c%c%c", b, g, r, 255
                        }
        }'
}
pattern bgrx > /tmp/fb.bgrx
pattern rgb > /tmp/fb.rgb
[ "$(wc -c < /tmp/fb.bgrx)" = $((W * H * 4)) ] || die "awk made $(wc -c < /tmp/fb.bgrx) bytes, not $((W * H * 4))"
first=$(head -c 8 /tmp/fb.bgrx | od -An -tu1 | tr -s ' ')
[ "$first" = " 1 1 1 255 8 1 2 255" ] || die "awk's bytes are not raw: $first"
cat /tmp/fb.bgrx > /dev/fb0 || die "writing /dev/fb0 failed"
sync
echo "DISPLAY-OK ${W}x$H $(sha256sum < /tmp/fb.rgb | cut -d' ' -f1)"
