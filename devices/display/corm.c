/* corm.c: the display Corm: the device-facing half of a vdispl device.
 * At each frame message its wire brings (bn_displ_msg.h, each field
 * checked: the Spike may be on another host) it copies the rows that
 * changed from the wire's region into the last complete frame of that
 * connector, encodes that frame as PNG (libpng) for `bananactl snapshot`,
 * and shows the connectors to VNC viewers (corm_vnc.c). */
#include "displ_corm.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_params.h"
#include "bn_wire.h"

int bn_displ_corm_check(const struct bn_params *params, char *err, size_t errlen)
{
        static const char *const known[] = {"vnc-socket", "vnc-port", "vnc-password-file", NULL};
        int rc = bn_params_check_known(params, known, err, errlen);
        return rc ? rc : displ_vnc_check(params, err, errlen);
}

int bn_displ_corm_open(struct bn_endpoint *ep, const struct bn_params *params, char *err,
                       size_t errlen)
{
        struct displ_corm *c = ep->priv;
        int rc = bn_displ_corm_check(params, err, errlen);
        if (!rc)
                rc = displ_vnc_open(ep, params, &c->vnc, err, errlen);
        if (!rc)
                bn_info(ep->name, "display corm ready (snapshots as PNG%s)", c->vnc ? ", VNC" : "");
        return rc;
}

void bn_displ_corm_close(struct bn_endpoint *ep)
{
        struct displ_corm *c = ep->priv;
        displ_vnc_close(c->vnc);
        c->vnc = NULL;
        for (unsigned i = 0; i < BN_DISPL_CONN_MAX; i++) {
                free(c->fr[i].px);
                memset(&c->fr[i], 0, sizeof(c->fr[i]));
        }
        bn_info(ep->name, "display corm closed after %llu frame(s), %llu refused",
                (unsigned long long)c->frames, (unsigned long long)c->bad);
}

/* Make f hold w x h frames; 0 or -ENOMEM. */
static int frame_size(struct displ_frame *f, uint32_t w, uint32_t h)
{
        if (f->px && f->w == w && f->h == h)
                return 0;
        uint8_t *a = calloc(1, (size_t)w * h * BN_DISPL_PIXEL_SIZE);
        if (!a)
                return -ENOMEM;
        free(f->px);
        f->px = a;
        f->w = w;
        f->h = h;
        return 0;
}

/* false: a malformed frame message (counted, dropped). */
static bool take_frame(struct displ_corm *c, struct bn_wire_port *port, const struct bn_wire_msg *m)
{
        struct bn_displ_frame t;
        if (m->type != BN_MSG_DISPL_FRAME || m->hdr_len != sizeof(t) || m->len)
                return false;
        memcpy(&t, m->hdr, sizeof(t));
        if (t.conn >= BN_DISPL_CONN_MAX || t.region != t.conn + 1 || !t.width || !t.height ||
            t.width > BN_DISPL_DIM_MAX || t.height > BN_DISPL_DIM_MAX || t.row > t.height ||
            t.rows > t.height - t.row)
                return false;
        size_t row_bytes = (size_t)t.width * BN_DISPL_PIXEL_SIZE, size = row_bytes * t.height;
        uint64_t have = 0;
        const uint8_t *px = bn_wire_region_get(port, t.region, 0, size, &have);
        if (!px || have != size) /* the region is the whole frame */
                return false;
        struct displ_frame *f = &c->fr[t.conn];
        bool resized = !f->px || f->w != t.width || f->h != t.height;
        if (frame_size(f, t.width, t.height))
                return false;
        /* the region holds the newest content of every row; what changed
         * is copied (all of it for a new size) */
        if (resized)
                memcpy(f->px, px, size);
        else
                memcpy(f->px + t.row * row_bytes, px + t.row * row_bytes, t.rows * row_bytes);
        f->seq = t.seq;
        f->frames++;
        displ_vnc_frame(c->vnc, t.conn, f->px, f->w, f->h);
        return true;
}

void bn_displ_corm_rx(struct bn_endpoint *ep, struct bn_wire_port *port, struct bn_wire_msg *msgs,
                      unsigned n)
{
        struct displ_corm *c = ep->priv;
        for (unsigned i = 0; i < n; i++) {
                if (take_frame(c, port, &msgs[i]))
                        c->frames++;
                else if (c->bad++ == 0)
                        bn_warn(ep->name,
                                "display corm: a malformed frame message (type %u, %u bytes) "
                                "dropped; later ones are only counted",
                                msgs[i].type, msgs[i].len);
        }
}

struct png_mem {
        uint8_t *buf;
        size_t len, cap;
        bool nomem;
};

static void png_mem_write(png_structp png, png_bytep data, png_size_t len)
{
        struct png_mem *m = png_get_io_ptr(png);
        if (m->nomem)
                return;
        if (m->len + len > m->cap) {
                size_t cap = (m->cap ? m->cap * 2 : 65536) + len;
                uint8_t *b = realloc(m->buf, cap);
                if (!b) {
                        m->nomem = true;
                        return;
                }
                m->buf = b;
                m->cap = cap;
        }
        memcpy(m->buf + m->len, data, len);
        m->len += len;
}

static void png_mem_flush(png_structp png)
{
        (void)png;
}

/* Encode w x h XRGB8888 pixels as an RGB PNG into *m. */
static int encode_png(const uint8_t *px, uint32_t w, uint32_t h, struct png_mem *m, char *err,
                      size_t errlen)
{
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        png_infop info = png ? png_create_info_struct(png) : NULL;
        uint8_t *row = malloc((size_t)w * 3);
        int rc = 0;
        if (!png || !info || !row) {
                snprintf(err, errlen, "no memory for a PNG encoder");
                rc = -ENOMEM;
                goto out;
        }
        if (setjmp(png_jmpbuf(png))) {
                snprintf(err, errlen, "libpng failed to encode %ux%u", w, h);
                rc = -EIO;
                goto out;
        }
        png_set_write_fn(png, m, png_mem_write, png_mem_flush);
        png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_compression_level(png, 1);
        /* unfiltered rows: a snapshot is taken now, not archived (faster to
         * make and to read back, about as small at this level) */
        png_set_filter(png, 0, PNG_FILTER_NONE);
        png_write_info(png, info);
        for (uint32_t y = 0; y < h; y++) {
                const uint8_t *s = px + (size_t)y * w * BN_DISPL_PIXEL_SIZE;
                for (uint32_t x = 0; x < w; x++) { /* B G R X -> R G B */
                        row[x * 3] = s[x * 4 + 2];
                        row[x * 3 + 1] = s[x * 4 + 1];
                        row[x * 3 + 2] = s[x * 4];
                }
                png_write_row(png, row);
        }
        png_write_end(png, NULL);
        if (m->nomem) {
                snprintf(err, errlen, "no memory for the PNG");
                rc = -ENOMEM;
        }
out:
        png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
        free(row);
        return rc;
}

/* w x h XRGB8888 pixels as a binary PPM (RGB) into *m. */
static int encode_ppm(const uint8_t *px, uint32_t w, uint32_t h, struct png_mem *m, char *err,
                      size_t errlen)
{
        char head[32];
        int n = snprintf(head, sizeof(head), "P6\n%u %u\n255\n", w, h);
        m->cap = (size_t)n + (size_t)w * h * 3;
        m->buf = malloc(m->cap);
        if (!m->buf) {
                snprintf(err, errlen, "no memory for the PPM");
                return -ENOMEM;
        }
        memcpy(m->buf, head, (size_t)n);
        uint8_t *o = m->buf + n;
        for (size_t i = 0; i < (size_t)w * h; i++, o += 3) { /* B G R X -> R G B */
                o[0] = px[i * 4 + 2];
                o[1] = px[i * 4 + 1];
                o[2] = px[i * 4];
        }
        m->len = m->cap;
        return 0;
}

int bn_displ_corm_snapshot(struct bn_endpoint *ep, unsigned conn, const char *format, void **img,
                           size_t *len, char *err, size_t errlen)
{
        struct displ_corm *c = ep->priv;
        struct png_mem m = {0};
        int rc;
        if (strcmp(format, "png") && strcmp(format, "ppm")) {
                snprintf(err, errlen, "format '%.16s' is not png or ppm", format);
                rc = -ENOTSUP;
                goto out;
        }
        if (conn >= BN_DISPL_CONN_MAX || !c->fr[conn].frames) {
                snprintf(err, errlen, "connector %u has shown no frame yet", conn);
                rc = -ENOENT;
                goto out;
        }
        const struct displ_frame *f = &c->fr[conn];
        rc = format[1] == 'n' ? encode_png(f->px, f->w, f->h, &m, err, errlen)
                              : encode_ppm(f->px, f->w, f->h, &m, err, errlen);
        if (rc)
                goto out;
        *img = m.buf;
        *len = m.len;
        m.buf = NULL;
out:
        free(m.buf);
        return rc;
}
