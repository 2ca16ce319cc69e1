/* displ_req.c: the display Spike's answers to displif requests
 * (xen/io/displif.h): display buffers from a grant-reference directory
 * (DBUF_CREATE / DESTROY), frame buffers on them (FB_ATTACH / DETACH), the
 * connector's mode (SET_CONFIG), flips (PG_FLIP), EDID (GET_EDID, not
 * offered: the front-end uses the resolution key). Each request arrives as
 * a private copy; every field is validated before use. A grant directory
 * that cannot be mapped or a buffer too small for what it claims to hold
 * breaks the protocol: that device is disconnected. A request that merely
 * asks for something unsupported or unknown gets an error status. What a
 * request made is journaled before its answer goes (displ_journal.c). */
#include "displ_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bn_log.h"

static struct displ_dbuf *dbuf_find(struct displ_spike *s, uint64_t cookie)
{
        for (unsigned i = 0; cookie && i < DISPL_DBUFS_MAX; i++)
                if (s->dbufs[i].cookie == cookie)
                        return &s->dbufs[i];
        return NULL;
}

struct displ_fb *displ_fb_find(struct displ_spike *s, uint64_t cookie)
{
        for (unsigned i = 0; cookie && i < DISPL_FBS_MAX; i++)
                if (s->fbs[i].cookie == cookie)
                        return &s->fbs[i];
        return NULL;
}

static void fb_forget(struct displ_spike *s, struct displ_fb *fb)
{
        for (unsigned i = 0; i < s->nconn; i++) {
                if (s->conn[i].shown == fb->cookie)
                        s->conn[i].shown = 0;
                if (s->conn[i].send_fb == fb->cookie)
                        s->conn[i].sending = false;
        }
        fb->cookie = 0;
}

static void dbuf_free(struct displ_spike *s, struct displ_dbuf *d)
{
        unsigned di = (unsigned)(d - s->dbufs);
        for (unsigned i = 0; i < DISPL_FBS_MAX; i++)
                if (s->fbs[i].cookie && s->fbs[i].dbuf == di)
                        fb_forget(s, &s->fbs[i]);
        bn_gref_dir_unmap(s->gnt, &d->buf);
        d->cookie = 0;
}

void displ_free_all(struct displ_spike *s)
{
        for (unsigned i = 0; i < DISPL_DBUFS_MAX; i++)
                if (s->dbufs[i].cookie)
                        dbuf_free(s, &s->dbufs[i]);
}

/* The buffer r describes in slot d: 0, -EINVAL (refused: nothing mapped),
 * or another -errno with err saying why (fatal). */
static int dbuf_map(struct displ_spike *s, struct displ_dbuf *d,
                    const struct xendispl_dbuf_create_req *r, char *err, size_t errlen)
{
        if (r->flags || r->bpp != 32 || !r->width || !r->height || r->width > BN_DISPL_DIM_MAX ||
            r->height > BN_DISPL_DIM_MAX)
                return -EINVAL;
        /* the pixels must lie inside the buffer the guest granted */
        uint32_t stride = r->width * (r->bpp / 8);
        uint64_t need = (uint64_t)r->data_ofs + (uint64_t)stride * r->height;
        if (need > r->buffer_sz) {
                snprintf(err, errlen, "%ux%u at offset %u needs %llu bytes, the buffer has %u",
                         r->width, r->height, r->data_ofs, (unsigned long long)need, r->buffer_sz);
                return -ERANGE;
        }
        char why[160];
        int rc = bn_gref_dir_map(s->gnt, bn_xb_dev_frontend_id(s->dev), r->gref_directory,
                                 r->buffer_sz, DISPL_BUF_MAX, false, &d->buf, why, sizeof(why));
        if (rc == -EINVAL)
                return -EINVAL; /* a size out of bounds: refused, nothing mapped */
        if (rc) {
                snprintf(err, errlen, "grant directory %u: %s", r->gref_directory, why);
                return rc;
        }
        d->cookie = r->dbuf_cookie;
        d->width = r->width;
        d->height = r->height;
        d->bpp = r->bpp;
        d->stride = stride;
        d->data_ofs = r->data_ofs;
        return 0;
}

int displ_dbuf_restore(struct displ_spike *s, unsigned i, const struct xendispl_dbuf_create_req *r,
                       char *err, size_t errlen)
{
        int rc = dbuf_map(s, &s->dbufs[i], r, err, errlen);
        if (rc == -EINVAL)
                snprintf(err, errlen, "the journal's buffer is invalid");
        return rc;
}

/* 0, an error status for the guest, or 1: fatal (device disconnected). */
static int dbuf_create(struct displ_spike *s, struct displ_conn *c,
                       const struct xendispl_dbuf_create_req *r)
{
        char err[200];
        if (!r->dbuf_cookie || dbuf_find(s, r->dbuf_cookie))
                return -EINVAL; /* 0 is invalid, and a cookie is used once */
        if (r->flags & XENDISPL_DBUF_FLG_REQ_ALLOC)
                return -EOPNOTSUPP; /* be-alloc is not offered */
        struct displ_dbuf *d = NULL;
        for (unsigned i = 0; !d && i < DISPL_DBUFS_MAX; i++)
                if (!s->dbufs[i].cookie)
                        d = &s->dbufs[i];
        if (!d)
                return -ENOMEM;
        int rc = dbuf_map(s, d, r, err, sizeof(err));
        if (rc == -EINVAL)
                return rc;
        if (rc) {
                bn_xb_fail(s->dev, rc, "DBUF_CREATE %#llx: %s", (unsigned long long)r->dbuf_cookie,
                           err);
                return 1;
        }
        displ_journal_dbuf(s, c, c->back.rsp_prod_pvt, (unsigned)(d - s->dbufs), r);
        return 0;
}

/* Frame buffer r in a free slot (any when slot < 0); its index or an error
 * status. */
static int fb_set(struct displ_spike *s, int slot, const struct xendispl_fb_attach_req *r)
{
        struct displ_dbuf *d = dbuf_find(s, r->dbuf_cookie);
        if (!d || !r->fb_cookie || displ_fb_find(s, r->fb_cookie))
                return -EINVAL;
        if (r->pixel_format != DISPL_FMT_XRGB && r->pixel_format != DISPL_FMT_ARGB)
                return -EINVAL;
        if (!r->width || !r->height || r->width > d->width || r->height > d->height)
                return -EINVAL;
        for (unsigned i = 0; slot < 0 && i < DISPL_FBS_MAX; i++)
                if (!s->fbs[i].cookie)
                        slot = (int)i;
        if (slot < 0 || s->fbs[slot].cookie)
                return -ENOMEM;
        struct displ_fb *fb = &s->fbs[slot];
        fb->cookie = r->fb_cookie;
        fb->dbuf = (unsigned)(d - s->dbufs);
        fb->width = r->width;
        fb->height = r->height;
        fb->format = r->pixel_format;
        return slot;
}

int displ_fb_restore(struct displ_spike *s, unsigned i, const struct xendispl_fb_attach_req *r)
{
        int rc = fb_set(s, (int)i, r);
        return rc < 0 ? rc : 0;
}

static int set_config(struct displ_spike *s, struct displ_conn *c,
                      const struct xendispl_set_config_req *r)
{
        if (!r->fb_cookie && !r->x && !r->y && !r->width && !r->height && !r->bpp) {
                c->shown = 0; /* reset: the connector is off */
                return 0;
        }
        struct displ_fb *fb = displ_fb_find(s, r->fb_cookie);
        if (!fb || r->bpp != 32 || !r->width || !r->height)
                return -EINVAL;
        if (r->x > c->res_w || r->width > c->res_w - r->x || r->y > c->res_h ||
            r->height > c->res_h - r->y)
                return -EINVAL; /* bound by the connector's resolution */
        c->shown = fb->cookie;
        return 0;
}

bool displ_handle(struct displ_spike *s, struct displ_conn *c, const struct xendispl_req *req,
                  struct xendispl_resp *rsp)
{
        int st = 0;
        uint32_t idx = c->back.rsp_prod_pvt; /* answered in order: this request's index */
        memset(rsp, 0, sizeof(*rsp));
        rsp->id = req->id;
        rsp->operation = req->operation;
        s->requests++;
        switch (req->operation) {
        case XENDISPL_OP_DBUF_CREATE:
                st = dbuf_create(s, c, &req->op.dbuf_create);
                if (st == 1)
                        return false;
                break;
        case XENDISPL_OP_DBUF_DESTROY: {
                struct displ_dbuf *d = dbuf_find(s, req->op.dbuf_destroy.dbuf_cookie);
                if (d) {
                        displ_journal_end(s, c, idx, true, (unsigned)(d - s->dbufs));
                        dbuf_free(s, d);
                } else
                        st = -EINVAL;
                break;
        }
        case XENDISPL_OP_FB_ATTACH:
                st = fb_set(s, -1, &req->op.fb_attach);
                if (st >= 0)
                        displ_journal_fb(s, c, idx, (unsigned)st, &req->op.fb_attach);
                st = st < 0 ? st : 0;
                break;
        case XENDISPL_OP_FB_DETACH: {
                struct displ_fb *fb = displ_fb_find(s, req->op.fb_detach.fb_cookie);
                if (fb) {
                        displ_journal_end(s, c, idx, false, (unsigned)(fb - s->fbs));
                        fb_forget(s, fb);
                } else
                        st = -EINVAL;
                break;
        }
        case XENDISPL_OP_SET_CONFIG:
                st = set_config(s, c, &req->op.set_config);
                if (!st && c->shown)
                        displ_flip(s, c, c->shown, false);
                break;
        case XENDISPL_OP_PG_FLIP: {
                struct displ_fb *fb = displ_fb_find(s, req->op.pg_flip.fb_cookie);
                if (!fb) {
                        st = -EINVAL;
                        break;
                }
                c->shown = fb->cookie;
                s->flips++;
                displ_flip(s, c, fb->cookie, true); /* XENDISPL_EVT_PG_FLIP once it is out */
                break;
        }
        case XENDISPL_OP_GET_EDID:
        default:
                st = -EOPNOTSUPP;
                break;
        }
        rsp->status = st;
        displ_journal_answer(s, c, idx, rsp); /* also the shown frame */
        return true;
}
