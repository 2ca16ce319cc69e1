/* kmsdraw.c: the lab DomU's display client (built static by
 * tests/xenlab/build, run by guest/display.sh). Linux's drm_xen_front has
 * no fbdev, so the guest draws through KMS with the kernel's own ioctls (no
 * libdrm at run time; its headers only): the first connector's first mode,
 * two dumb buffers, a modeset on buffer A (displif SET_CONFIG), then a page
 * flip to buffer B (PG_FLIP), waiting for the flip's completion event (the
 * back-end's XENDISPL_EVT_PG_FLIP). Both buffers hold the known pattern of
 * guest/display.sh; B's pixels are also written as RGB to OUT (the bytes a
 * PPM snapshot must hold). Prints "kmsdraw: WxH flipped" or why not.
 * (drm.h and drm_mode.h: the kernel's DRM uapi, from libdrm-dev.)
 *   kmsdraw OUT.rgb */
#include <drm.h>
#include <drm_mode.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fd;

static int io(unsigned long req, void *arg, const char *what)
{
        int rc;
        do
                rc = ioctl(fd, req, arg);
        while (rc < 0 && (errno == EINTR || errno == EAGAIN));
        if (rc < 0)
                fprintf(stderr, "kmsdraw: %s: %s\n", what, strerror(errno));
        return rc;
}

struct buf {
        uint32_t handle, pitch, fb;
        uint64_t size;
        uint8_t *px;
};

static int make_buf(struct buf *b, uint32_t w, uint32_t h)
{
        struct drm_mode_create_dumb c = {.width = w, .height = h, .bpp = 32};
        if (io(DRM_IOCTL_MODE_CREATE_DUMB, &c, "CREATE_DUMB"))
                return -1;
        b->handle = c.handle;
        b->pitch = c.pitch;
        b->size = c.size;
        struct drm_mode_fb_cmd f = {
            .width = w, .height = h, .pitch = c.pitch, .bpp = 32, .depth = 24, .handle = c.handle};
        if (io(DRM_IOCTL_MODE_ADDFB, &f, "ADDFB"))
                return -1;
        b->fb = f.fb_id;
        struct drm_mode_map_dumb m = {.handle = c.handle};
        if (io(DRM_IOCTL_MODE_MAP_DUMB, &m, "MAP_DUMB"))
                return -1;
        b->px = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)m.offset);
        if (b->px == MAP_FAILED) {
                fprintf(stderr, "kmsdraw: mmap: %s\n", strerror(errno));
                return -1;
        }
        return 0;
}

/* guest/display.sh's pattern: B = 1 + (7x + y) % 255, G = 1 + 3y % 255,
 * R = 1 + (x + 5y) % 255, X = 255 */
static void draw(struct buf *b, uint32_t w, uint32_t h, FILE *rgb)
{
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint8_t px[4] = {(uint8_t)(1 + (7 * x + y) % 255),
                                         (uint8_t)(1 + (3 * y) % 255),
                                         (uint8_t)(1 + (x + 5 * y) % 255), 255};
                        memcpy(b->px + (size_t)y * b->pitch + x * 4, px, 4);
                        if (rgb) {
                                uint8_t o[3] = {px[2], px[1], px[0]};
                                fwrite(o, 1, 3, rgb);
                        }
                }
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: kmsdraw OUT.rgb\n");
                return 2;
        }
        fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "kmsdraw: /dev/dri/card0: %s\n", strerror(errno));
                return 1;
        }
        uint32_t crtcs[8], conns[8], encs[8], fbs[8];
        struct drm_mode_card_res r = {0};
        if (io(DRM_IOCTL_MODE_GETRESOURCES, &r, "GETRESOURCES"))
                return 1;
        if (!r.count_crtcs || !r.count_connectors || r.count_crtcs > 8 || r.count_connectors > 8 ||
            r.count_encoders > 8 || r.count_fbs > 8) {
                fprintf(stderr, "kmsdraw: %u crtc(s), %u connector(s)\n", r.count_crtcs,
                        r.count_connectors);
                return 1;
        }
        r.crtc_id_ptr = (uintptr_t)crtcs;
        r.connector_id_ptr = (uintptr_t)conns;
        r.encoder_id_ptr = (uintptr_t)encs;
        r.fb_id_ptr = (uintptr_t)fbs;
        if (io(DRM_IOCTL_MODE_GETRESOURCES, &r, "GETRESOURCES"))
                return 1;
        struct drm_mode_modeinfo modes[16];
        struct drm_mode_get_connector gc = {.connector_id = conns[0]};
        if (io(DRM_IOCTL_MODE_GETCONNECTOR, &gc, "GETCONNECTOR"))
                return 1;
        if (!gc.count_modes) {
                fprintf(stderr, "kmsdraw: connector %u has no mode (connection %u)\n", conns[0],
                        gc.connection);
                return 1;
        }
        uint32_t nmodes = gc.count_modes > 16 ? 16 : gc.count_modes;
        memset(&gc, 0, sizeof(gc));
        gc.connector_id = conns[0];
        gc.count_modes = nmodes;
        gc.modes_ptr = (uintptr_t)modes;
        if (io(DRM_IOCTL_MODE_GETCONNECTOR, &gc, "GETCONNECTOR"))
                return 1;
        uint32_t w = modes[0].hdisplay, h = modes[0].vdisplay;
        struct buf a = {0}, b = {0};
        if (make_buf(&a, w, h) || make_buf(&b, w, h))
                return 1;
        FILE *rgb = fopen(argv[1], "wb");
        if (!rgb) {
                fprintf(stderr, "kmsdraw: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        draw(&a, w, h, NULL);
        draw(&b, w, h, rgb);
        fclose(rgb);
        struct drm_mode_crtc sc = {.set_connectors_ptr = (uintptr_t)&conns[0],
                                   .count_connectors = 1,
                                   .crtc_id = crtcs[0],
                                   .fb_id = a.fb,
                                   .mode_valid = 1,
                                   .mode = modes[0]};
        if (io(DRM_IOCTL_MODE_SETCRTC, &sc, "SETCRTC"))
                return 1;
        struct drm_mode_crtc_page_flip pf = {
            .crtc_id = crtcs[0], .fb_id = b.fb, .flags = DRM_MODE_PAGE_FLIP_EVENT};
        if (io(DRM_IOCTL_MODE_PAGE_FLIP, &pf, "PAGE_FLIP"))
                return 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 30000) != 1) {
                fprintf(stderr, "kmsdraw: no flip-complete event within 30 s\n");
                return 1;
        }
        char ev[256];
        ssize_t n = read(fd, ev, sizeof(ev));
        struct drm_event e;
        if (n < (ssize_t)sizeof(e)) {
                fprintf(stderr, "kmsdraw: reading the event: %s\n", strerror(errno));
                return 1;
        }
        memcpy(&e, ev, sizeof(e));
        if (e.type != DRM_EVENT_FLIP_COMPLETE) {
                fprintf(stderr, "kmsdraw: event type %u, not a flip completion\n", e.type);
                return 1;
        }
        /* the back-end sends the flip event once the frame is on its wire,
         * so the Corm keeps it when we close (and the connector goes off) */
        printf("kmsdraw: %ux%u flipped\n", w, h);
        return 0;
}
