/* displ_journal.c: the display Spike's ring journal (displ_int.h,
 * bn_xenbus.h): mapping it at connect, recording what each request made
 * before its answer goes to the ring, and, after a restart of bananad,
 * taking the device back from it: the answers written but not pushed are
 * published (BN_RING_JOURNAL_RESUME, the in-order pattern vif uses too),
 * the display buffers and frame buffers answered requests made are mapped
 * again from the guest's grant directories, and each connector shows its
 * frame again, so the screen is still served. */
#include "displ_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"

/* True when request m was answered by the journal's account. */
static bool answered(const struct displ_journal *j, struct displ_jmark m)
{
        if (!m.idx1 || m.conn >= BN_DISPL_CONN_MAX)
                return false;
        return (int32_t)(j->conn[m.conn].rsp - (m.idx1 - 1)) > 0;
}

static bool alive(const struct displ_journal *j, struct displ_jmark born, struct displ_jmark died)
{
        return answered(j, born) && !answered(j, died);
}

/* Fields first, then the request that made it, then no end: until the
 * mark the slot reads as it was (ended, or never made). */
#define JOURNAL_BIRTH(e, c, idx)                                                                   \
        do {                                                                                       \
                (e)->born.conn = (c)->idx;                                                         \
                __atomic_store_n(&(e)->born.idx1, (idx) + 1, __ATOMIC_RELEASE);                    \
                __atomic_store_n(&(e)->died.idx1, 0, __ATOMIC_RELEASE);                            \
        } while (0)

void displ_journal_dbuf(struct displ_spike *s, const struct displ_conn *c, uint32_t idx, unsigned i,
                        const struct xendispl_dbuf_create_req *r)
{
        if (!s->journal)
                return;
        struct displ_jdbuf *e = &s->journal->dbuf[i];
        __atomic_store_n(&e->born.idx1, 0, __ATOMIC_RELEASE);
        e->cookie = r->dbuf_cookie;
        e->gref_dir = r->gref_directory;
        e->buffer_sz = r->buffer_sz;
        e->width = r->width;
        e->height = r->height;
        e->bpp = r->bpp;
        e->data_ofs = r->data_ofs;
        JOURNAL_BIRTH(e, c, idx);
}

void displ_journal_fb(struct displ_spike *s, const struct displ_conn *c, uint32_t idx, unsigned i,
                      const struct xendispl_fb_attach_req *r)
{
        if (!s->journal)
                return;
        struct displ_jfb *e = &s->journal->fb[i];
        __atomic_store_n(&e->born.idx1, 0, __ATOMIC_RELEASE);
        e->cookie = r->fb_cookie;
        e->dbuf_cookie = r->dbuf_cookie;
        e->width = r->width;
        e->height = r->height;
        e->format = r->pixel_format;
        JOURNAL_BIRTH(e, c, idx);
}

void displ_journal_end(struct displ_spike *s, const struct displ_conn *c, uint32_t idx, bool dbuf,
                       unsigned i)
{
        if (!s->journal)
                return;
        struct displ_jmark *m = dbuf ? &s->journal->dbuf[i].died : &s->journal->fb[i].died;
        __atomic_store_n(&m->idx1, 0, __ATOMIC_RELEASE);
        m->conn = c->idx;
        __atomic_store_n(&m->idx1, idx + 1, __ATOMIC_RELEASE);
}

void displ_journal_answer(struct displ_spike *s, const struct displ_conn *c, uint32_t idx,
                          const struct xendispl_resp *rsp)
{
        if (!s->journal)
                return;
        struct displ_jconn *jc = &s->journal->conn[c->idx];
        jc->shown = c->shown;
        memcpy(&jc->copy[idx % DISPL_J_SLOTS], rsp, sizeof(*rsp));
        __atomic_store_n(&jc->rsp, idx + 1, __ATOMIC_RELEASE);
}

/* Map again what answered requests made; -errno (reported) when the
 * guest's grants no longer give it. */
static int restore(struct displ_spike *s)
{
        struct displ_journal *j = s->journal;
        unsigned nd = 0, nf = 0;
        char err[200];
        for (unsigned i = 0; i < DISPL_DBUFS_MAX; i++) {
                const struct displ_jdbuf *e = &j->dbuf[i];
                if (!alive(j, e->born, e->died))
                        continue;
                struct xendispl_dbuf_create_req r = {.dbuf_cookie = e->cookie,
                                                     .gref_directory = e->gref_dir,
                                                     .buffer_sz = e->buffer_sz,
                                                     .width = e->width,
                                                     .height = e->height,
                                                     .bpp = e->bpp,
                                                     .data_ofs = e->data_ofs};
                int rc = displ_dbuf_restore(s, i, &r, err, sizeof(err));
                if (rc) {
                        bn_xb_fatal(s->dev, rc, "ring journal: display buffer %#llx: %s",
                                    (unsigned long long)e->cookie, err);
                        return rc;
                }
                nd++;
        }
        for (unsigned i = 0; i < DISPL_FBS_MAX; i++) {
                const struct displ_jfb *e = &j->fb[i];
                if (!alive(j, e->born, e->died))
                        continue;
                struct xendispl_fb_attach_req r = {.fb_cookie = e->cookie,
                                                   .dbuf_cookie = e->dbuf_cookie,
                                                   .width = e->width,
                                                   .height = e->height,
                                                   .pixel_format = e->format};
                if (displ_fb_restore(s, i, &r) == 0)
                        nf++; /* else its buffer ended: so did it */
        }
        for (unsigned i = 0; i < s->nconn; i++)
                s->conn[i].shown = displ_fb_find(s, j->conn[i].shown) ? j->conn[i].shown : 0;
        bn_info(s->ep->name,
                "taken back from the ring journal: %u display buffer(s) mapped again, %u frame "
                "buffer(s)",
                nd, nf);
        return 0;
}

int displ_journal_open(struct displ_spike *s)
{
        /* the connection's name: the rings and channels of every connector */
        static const char *const keys[] = {"0/req-ring-ref",
                                           "0/evt-ring-ref",
                                           "0/req-event-channel",
                                           "0/evt-event-channel",
                                           "1/req-ring-ref",
                                           "1/evt-ring-ref",
                                           "1/req-event-channel",
                                           "1/evt-event-channel",
                                           "2/req-ring-ref",
                                           "2/evt-ring-ref",
                                           "2/req-event-channel",
                                           "2/evt-event-channel",
                                           "3/req-ring-ref",
                                           "3/evt-ring-ref",
                                           "3/req-event-channel",
                                           "3/evt-event-channel",
                                           NULL};
        _Static_assert(BN_DISPL_CONN_MAX == 4, "journal keys name every connector");
        bool resumed = false;
        int rc = 0;
        s->journal =
            bn_xb_journal_open(s->dev, sizeof(struct displ_journal), 1, keys, &s->journal_resumed);
        if (!s->journal)
                return 0; /* the framework said why: a restart starts from nothing */
        for (unsigned i = 0; i < s->nconn; i++) {
                struct displ_conn *c = &s->conn[i];
                struct displ_jconn *jc = &s->journal->conn[i];
                if (!s->journal_resumed || !__atomic_load_n(&jc->valid, __ATOMIC_ACQUIRE) ||
                    RING_SIZE(&c->back) != DISPL_J_SLOTS)
                        continue;
                int n = BN_RING_JOURNAL_RESUME(c->back, jc->copy, DISPL_J_SLOTS,
                                               __atomic_load_n(&jc->rsp, __ATOMIC_ACQUIRE));
                if (n < 0) {
                        bn_warn(s->ep->name,
                                "connector %u: ring journal does not fit the ring: starting "
                                "from nothing",
                                i);
                        continue;
                }
                if (n > 0)
                        bn_evtchn_notify(s->evtchn, c->req_port);
                resumed = true;
        }
        if (resumed)
                rc = restore(s);
        else
                memset(s->journal, 0, sizeof(*s->journal));
        for (unsigned i = 0; !rc && i < s->nconn; i++) {
                struct displ_jconn *jc = &s->journal->conn[i];
                jc->rsp = s->conn[i].back.rsp_prod_pvt;
                jc->shown = s->conn[i].shown;
                __atomic_store_n(&jc->valid, 1, __ATOMIC_RELEASE);
        }
        return rc;
}

void displ_journal_close(struct displ_spike *s)
{
        bn_xb_journal_unmap(s->dev, s->journal, sizeof(struct displ_journal));
        s->journal = NULL;
}
