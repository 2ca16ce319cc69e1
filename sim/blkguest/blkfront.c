/* blkfront.c: the blkfront of sim-blkguest (see blkfront.h): the xenbus
 * handshake with the vbd back-end, requests built from the load generator's
 * (direct up to 11 segments, indirect beyond), responses matched back, and
 * the hostile requests of --evil and the broken handshakes of
 * --evil-handshake. */
#include "blkfront.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "bn_guest.h"
#include "bn_hv.h"
#include <xen/io/protocols.h>

#define PAGE 4096u

static double mono(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t seg_pages_of(const struct bf_opts *o)
{
        return (o->cfg.bs + PAGE - 1) / PAGE;
}

uint32_t bf_mem_pages(const struct bf_opts *o)
{
        return o->queues * 16u + o->cfg.qd * (seg_pages_of(o) + 1u) + 128u;
}

static int grant_slot(struct bf *f, struct bf_slot *s, uint32_t n, bool readonly)
{
        for (uint32_t i = 0; i < n; i++) {
                int ref = bn_guest_grant(f->g, s->pfn + i, 0, readonly);
                if (ref < 0)
                        return ref;
                s->grefs[i] = ref;
        }
        return 0;
}

static void revoke_slot(struct bf *f, struct bf_slot *s, uint32_t n)
{
        for (uint32_t i = 0; i < n; i++)
                if (s->grefs[i] > 0)
                        bn_guest_revoke(f->g, (uint32_t)s->grefs[i]);
        memset(s->grefs, 0, sizeof(s->grefs[0]) * n);
}

static int setup_queue(struct bf *f, unsigned qi, unsigned order)
{
        struct bf_queue *q = &f->q[qi];
        unsigned np = 1u << order;
        char pre[32] = "", k[64];
        int rc;

        rc = bn_guest_fe_grant_ring(&f->fe, np, &q->ring_pfn, q->refs);
        if (rc < 0)
                return rc;
        blkif_sring_t *sr = bn_guest_page(f->g, q->ring_pfn);
        SHARED_RING_INIT(sr);
        FRONT_RING_INIT(&q->front, sr, PAGE * np);
        q->port = bn_guest_evtchn_alloc_unbound(f->g, 0);
        if (q->port < 0)
                return q->port;
        if (f->nq > 1)
                snprintf(pre, sizeof(pre), "queue-%u/", qi);
        if (order == 0) {
                snprintf(k, sizeof(k), "%sring-ref", pre);
                rc |= bn_guest_fe_write(&f->fe, k, "%d", q->refs[0]);
        } else {
                for (unsigned i = 0; i < np; i++) {
                        snprintf(k, sizeof(k), "%sring-ref%u", pre, i);
                        rc |= bn_guest_fe_write(&f->fe, k, "%d", q->refs[i]);
                }
        }
        snprintf(k, sizeof(k), "%sevent-channel", pre);
        rc |= bn_guest_fe_write(&f->fe, k, "%d", q->port);
        return rc ? -EIO : 0;
}

int bf_wait_sectors(struct bf *f, uint64_t want, double deadline)
{
        for (;;) {
                f->sectors = bn_guest_fe_be_uint(&f->fe, "sectors", 0);
                f->info = (unsigned)bn_guest_fe_be_uint(&f->fe, "info", 0);
                if (f->sectors >= want)
                        return 0;
                if (mono() > deadline)
                        return -ETIMEDOUT;
                usleep(20000);
        }
}

/* --evil-handshake: break the handshake one way the back-end must refuse,
 * after the honest keys are written (and so over them). */
static const struct {
        const char *mode, *key, *val;
} evil_hs[] = {
    {"ring-ref-ungranted", "ring-ref", "12345"},              /* a page never granted */
    {"ring-ref-garbage", "ring-ref", "12abc"},                /* not a number */
    {"ring-ref-empty", "ring-ref", ""},                       /* no grant at all */
    {"queues-1000", "multi-queue-num-queues", "1000"},        /* past multi-queue-max-queues */
    {"queues-0", "multi-queue-num-queues", "0"},              /* no queue */
    {"ring-order-10", "ring-page-order", "10"},               /* past max-ring-page-order */
    {"ring-order-short", "ring-page-order", "2"},             /* ring-ref0..3 missing */
    {"bad-evtchn", "event-channel", "4000"},                  /* a port never allocated */
    {"evtchn-garbage", "event-channel", "-1"},                /* not a port */
    {"protocol-x86_32", "protocol", XEN_IO_PROTO_ABI_X86_32}, /* a foreign ABI */
};

const char *bf_evil_handshake_modes(void)
{
        return "ring-ref-ungranted ring-ref-garbage ring-ref-empty queues-1000 queues-0 "
               "ring-order-10 ring-order-short bad-evtchn evtchn-garbage protocol-x86_32";
}

static int evil_handshake_keys(struct bf *f, const char *mode)
{
        for (size_t i = 0; i < sizeof(evil_hs) / sizeof(evil_hs[0]); i++)
                if (!strcmp(mode, evil_hs[i].mode))
                        return bn_guest_fe_write(&f->fe, evil_hs[i].key, "%s", evil_hs[i].val)
                                   ? -EIO
                                   : 0;
        fprintf(stderr, "blkguest: unknown --evil-handshake mode '%s' (one of: %s)\n", mode,
                bf_evil_handshake_modes());
        return -EINVAL;
}

/* The back-end's error node for this device, read as the toolstack (Dom0)
 * would: "<errno> <message>", printed; -ENOENT when there is none. */
static int show_error_node(struct bf *f)
{
        struct bn_hv *hv = NULL;
        struct xs_handle *xs = NULL;
        char path[192];
        char *v = NULL;
        unsigned len;
        int rc;

        snprintf(path, sizeof(path), "/local/domain/%u/error/backend/vbd/%u/%u/error",
                 f->fe.be_domid, f->fe.domid, f->fe.devid);
        rc = bn_hv_open(&hv, "xensim", f->o->sim_dir);
        if (rc < 0)
                goto out;
        xs = bn_hv_xs_open(hv);
        if (!xs) {
                rc = -EIO;
                goto out;
        }
        v = xs_read(xs, XBT_NULL, path, &len);
        if (!v || atoi(v) <= 0 || !strchr(v, ' ')) {
                fprintf(stderr, "blkguest: error node %s: %s\n", path, v ? v : "missing");
                rc = -ENOENT;
                goto out;
        }
        printf("blkguest: %s = \"%s\"\n", path, v);
        rc = 0;
out:
        free(v);
        if (xs)
                xs_close(xs);
        if (hv)
                bn_hv_close(hv);
        return rc;
}

/* After a broken handshake the back-end must go Closing or Closed, with its
 * error node written, and never Connected. */
static int wait_refused(struct bf *f, const char *mode)
{
        double end = mono() + 20;

        while (mono() < end) {
                int st = bn_guest_xb_get_state(f->g, f->fe.be_path);
                if (st == XenbusStateConnected) {
                        fprintf(stderr, "blkguest: --evil-handshake %s: the back-end connected\n",
                                mode);
                        return -EPROTO;
                }
                if (st == XenbusStateClosing || st == XenbusStateClosed) {
                        printf("blkguest: back-end %s refused the handshake (state %d) after "
                               "--evil-handshake %s\n",
                               f->fe.be_path, st, mode);
                        fflush(stdout);
                        return show_error_node(f);
                }
                usleep(10000);
        }
        fprintf(stderr, "blkguest: --evil-handshake %s: the back-end did not close the vbd\n",
                mode);
        return -ETIMEDOUT;
}

int bf_connect(struct bf *f)
{
        const struct bf_opts *o = f->o;
        unsigned order, maxq;
        int rc;

        rc = bn_guest_xb_wait_state(f->g, f->fe.be_path, XenbusStateInitWait, 20000);
        if (rc < 0) {
                fprintf(stderr, "blkguest: back-end %s never reached InitWait: %s\n", f->fe.be_path,
                        strerror(-rc));
                return rc;
        }
        order = (unsigned)bn_guest_fe_be_uint(&f->fe, "max-ring-page-order", 0);
        order = o->ring_order < order ? o->ring_order : order;
        maxq = (unsigned)bn_guest_fe_be_uint(&f->fe, "multi-queue-max-queues", 1);
        f->nq = o->queues < maxq ? o->queues : maxq;
        f->npages = 1u << order;
        f->max_indirect = (unsigned)bn_guest_fe_be_uint(&f->fe, "feature-max-indirect-segments", 0);
        if (f->max_indirect > o->indirect)
                f->max_indirect = o->indirect;
        f->seg_pages = seg_pages_of(o);
        if (f->seg_pages > BLKIF_MAX_SEGMENTS_PER_REQUEST && f->seg_pages > f->max_indirect) {
                fprintf(stderr, "blkguest: --bs %u needs %u segments, indirect allows %u\n",
                        o->cfg.bs, f->seg_pages, f->max_indirect);
                return -EINVAL;
        }
        for (unsigned i = 0; i < f->nq; i++) {
                rc = setup_queue(f, i, order);
                if (rc < 0)
                        return rc;
        }
        rc = 0;
        if (order)
                rc |= bn_guest_fe_write(&f->fe, "ring-page-order", "%u", order);
        if (f->nq > 1)
                rc |= bn_guest_fe_write(&f->fe, "multi-queue-num-queues", "%u", f->nq);
        rc |= bn_guest_fe_write(&f->fe, "protocol", "%s", XEN_IO_PROTO_ABI_X86_64);
        rc |= bn_guest_fe_write(&f->fe, "feature-persistent", "%u", o->persistent ? 1 : 0);
        if (rc)
                return -EIO;
        if (o->evil_hs && (rc = evil_handshake_keys(f, o->evil_hs)) < 0)
                return rc;
        /* data pages per slot (+ one indirect page) */
        f->nslots = o->cfg.qd;
        f->nfree = f->nslots;
        for (unsigned i = 0; i < f->nslots; i++) {
                struct bf_slot *s = &f->slot[i];
                rc = bn_guest_alloc_pages(f->g, f->seg_pages, &s->pfn);
                if (rc < 0)
                        return rc;
                rc = bn_guest_alloc_pages(f->g, 1, &s->ind_pfn);
                if (rc < 0)
                        return rc;
                s->ind_gref = bn_guest_grant(f->g, s->ind_pfn, 0, 1);
                if (s->ind_gref < 0)
                        return s->ind_gref;
                if (o->persistent) {
                        rc = grant_slot(f, s, f->seg_pages, false);
                        if (rc < 0)
                                return rc;
                }
        }
        rc = bn_guest_xb_set_state(f->g, f->fe.fe_path, XenbusStateInitialised);
        if (rc < 0)
                return rc;
        if (o->evil_hs && o->leave) {
                printf("blkguest: --evil-handshake %s written, leaving at once\n", o->evil_hs);
                fflush(stdout);
                return 0;
        }
        if (o->evil_hs)
                return wait_refused(f, o->evil_hs);
        rc = bn_guest_xb_wait_state(f->g, f->fe.be_path, XenbusStateConnected, 20000);
        if (rc < 0) {
                fprintf(stderr, "blkguest: back-end %s did not connect: %s\n", f->fe.be_path,
                        strerror(-rc));
                return rc;
        }
        /* the disk's size comes from its Corm: wait until the back-end knows it */
        if (bf_wait_sectors(f, 1, mono() + 20) < 0) {
                fprintf(stderr, "blkguest: back-end %s connected without a disk size\n",
                        f->fe.be_path);
                return -ETIMEDOUT;
        }
        rc = bn_guest_xb_set_state(f->g, f->fe.fe_path, XenbusStateConnected);
        if (rc < 0)
                return rc;
        printf("blkguest: vbd %s connected, %u queue(s), ring of %u page(s), %" PRIu64
               " sectors, info %u, indirect %u, persistent %d\n",
               f->fe.fe_path, f->nq, f->npages, f->sectors, f->info, f->max_indirect,
               o->persistent ? 1 : 0);
        fflush(stdout);
        return 0;
}

static int pick_queue(struct bf *f)
{
        for (unsigned k = 0; k < f->nq; k++) {
                unsigned qi = (f->next_q + k) % f->nq;
                if (!RING_FULL(&f->q[qi].front)) {
                        f->next_q = qi + 1;
                        return (int)qi;
                }
        }
        return -1;
}

bool bf_has_free_slot(struct bf *f)
{
        if (!f->nfree)
                return false;
        for (unsigned k = 0; k < f->nq; k++)
                if (!RING_FULL(&f->q[k].front))
                        return true;
        return false;
}

int bf_submit(struct bf *f, struct bn_blk_load_req *lr)
{
        const struct bf_opts *o = f->o;
        struct bf_slot *s = NULL;
        union {
                blkif_request_t rw;
                blkif_request_discard_t d;
                blkif_request_indirect_t ind;
                unsigned char raw[112];
        } u;
        uint32_t id;
        int qi, rc;

        for (id = 0; id < f->nslots; id++)
                if (!f->slot[id].busy) {
                        s = &f->slot[id];
                        break;
                }
        qi = pick_queue(f);
        if (!s || qi < 0)
                return -EBUSY;
        memset(&u, 0, sizeof(u));
        s->nseg_used = 0;
        switch (lr->op) {
        case BN_BLK_LOAD_READ:
        case BN_BLK_LOAD_WRITE: {
                uint64_t bytes = (uint64_t)lr->nblk * o->cfg.bs;
                uint32_t nseg = (uint32_t)((bytes + PAGE - 1) / PAGE);
                bool wr = lr->op == BN_BLK_LOAD_WRITE;
                struct blkif_request_segment segs[BF_MAX_SEGS];

                if (nseg > f->seg_pages)
                        return -EINVAL;
                if (wr)
                        memcpy(bn_guest_page(f->g, s->pfn), lr->buf, bytes);
                if (!o->persistent) {
                        rc = grant_slot(f, s, nseg, wr);
                        if (rc < 0)
                                return rc;
                }
                s->nseg_used = nseg;
                for (uint32_t i = 0; i < nseg; i++) {
                        uint64_t left = bytes - (uint64_t)i * PAGE;
                        uint32_t in = left < PAGE ? (uint32_t)left : PAGE;
                        segs[i].gref = (grant_ref_t)s->grefs[i];
                        segs[i].first_sect = 0;
                        segs[i].last_sect = (uint8_t)(in / 512 - 1);
                }
                if (nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
                        u.rw.operation = wr ? BLKIF_OP_WRITE : BLKIF_OP_READ;
                        u.rw.nr_segments = (uint8_t)nseg;
                        u.rw.handle = (blkif_vdev_t)o->devid;
                        u.rw.id = id;
                        u.rw.sector_number = lr->blk * (o->cfg.bs / 512);
                        memcpy(u.rw.seg, segs, sizeof(segs[0]) * nseg);
                } else {
                        u.ind.operation = BLKIF_OP_INDIRECT;
                        u.ind.indirect_op = wr ? BLKIF_OP_WRITE : BLKIF_OP_READ;
                        u.ind.nr_segments = (uint16_t)nseg;
                        u.ind.id = id;
                        u.ind.sector_number = lr->blk * (o->cfg.bs / 512);
                        u.ind.handle = (blkif_vdev_t)o->devid;
                        u.ind.indirect_grefs[0] = (grant_ref_t)s->ind_gref;
                        memcpy(bn_guest_page(f->g, s->ind_pfn), segs, sizeof(segs[0]) * nseg);
                }
                break;
        }
        case BN_BLK_LOAD_FLUSH:
                u.rw.operation = BLKIF_OP_FLUSH_DISKCACHE;
                u.rw.handle = (blkif_vdev_t)o->devid;
                u.rw.id = id;
                break;
        case BN_BLK_LOAD_DISCARD:
                u.d.operation = BLKIF_OP_DISCARD;
                u.d.handle = (blkif_vdev_t)o->devid;
                u.d.id = id;
                u.d.sector_number = lr->blk * (o->cfg.bs / 512);
                u.d.nr_sectors = (uint64_t)lr->nblk * (o->cfg.bs / 512);
                break;
        }
        struct bf_queue *q = &f->q[qi];
        memcpy(RING_GET_REQUEST(&q->front, q->front.req_prod_pvt), u.raw, 112);
        q->front.req_prod_pvt++;
        s->busy = true;
        s->q = (unsigned)qi;
        s->lr = lr;
        f->nfree--;
        return 0;
}

void bf_push(struct bf *f)
{
        for (unsigned i = 0; i < f->nq; i++) {
                int notify;
                RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->q[i].front, notify);
                if (notify)
                        bn_guest_evtchn_notify(f->g, (uint32_t)f->q[i].port);
        }
}

unsigned bf_poll_responses(struct bf *f, struct bn_blk_load *load)
{
        unsigned got = 0;

        for (unsigned qi = 0; qi < f->nq; qi++) {
                blkif_front_ring_t *fr = &f->q[qi].front;
                int more;

                do {
                        RING_IDX rp = fr->sring->rsp_prod;
                        xen_rmb();
                        for (RING_IDX i = fr->rsp_cons; i != rp; i++) {
                                blkif_response_t r;
                                memcpy(&r, RING_GET_RESPONSE(fr, i), sizeof(r));
                                if (r.id >= f->nslots || !f->slot[r.id].busy) {
                                        fprintf(stderr,
                                                "blkguest: response with bad id %" PRIu64 "\n",
                                                r.id);
                                        continue;
                                }
                                struct bf_slot *s = &f->slot[r.id];
                                struct bn_blk_load_req *lr = s->lr;
                                int st = r.status == BLKIF_RSP_OKAY         ? 0
                                         : r.status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP
                                                                            : -EIO;
                                if (!st && lr->op == BN_BLK_LOAD_READ)
                                        memcpy(lr->buf, bn_guest_page(f->g, s->pfn),
                                               (size_t)lr->nblk * f->o->cfg.bs);
                                if (!f->o->persistent && s->nseg_used)
                                        revoke_slot(f, s, s->nseg_used);
                                s->busy = false;
                                s->lr = NULL;
                                f->nfree++;
                                got++;
                                if (lr == f->sync_lr) {
                                        f->sync_status = st;
                                        f->sync_done = true;
                                } else {
                                        bn_blk_load_complete(load, lr, st);
                                }
                        }
                        fr->rsp_cons = rp;
                        RING_FINAL_CHECK_FOR_RESPONSES(fr, more);
                } while (more);
        }
        return got;
}

int bf_sync(struct bf *f, enum bn_blk_load_op op, uint64_t blk, uint32_t nblk, double deadline)
{
        struct bn_blk_load_req lr = {.op = op, .blk = blk, .nblk = nblk};
        int rc, port;

        f->sync_lr = &lr;
        f->sync_done = false;
        rc = bf_submit(f, &lr);
        if (rc < 0)
                goto out;
        bf_push(f);
        while (!f->sync_done) {
                if (mono() > deadline || bf_closed(f)) {
                        rc = -ETIMEDOUT;
                        goto out;
                }
                if (!bf_poll_responses(f, NULL)) {
                        struct pollfd p = {bn_guest_evtchn_fd(f->g), POLLIN, 0};
                        poll(&p, 1, 50);
                        while ((port = bn_guest_evtchn_pending(f->g)) >= 0)
                                bn_guest_evtchn_unmask(f->g, (uint32_t)port);
                }
        }
        rc = f->sync_status;
out:
        f->sync_lr = NULL;
        return rc;
}

bool bf_closed(struct bf *f)
{
        int st = bn_guest_xb_get_state(f->g, f->fe.be_path);
        return st == XenbusStateClosing || st == XenbusStateClosed || st < 0;
}

int bf_evil(struct bf *f, const char *mode, double deadline)
{
        struct bf_queue *q = &f->q[0];
        struct bf_slot *s = &f->slot[0];
        blkif_request_t r;
        int st;

        memset(&r, 0, sizeof(r));
        r.operation = BLKIF_OP_READ;
        r.nr_segments = 1;
        r.id = 0;
        r.sector_number = 0;
        if (s->grefs[0] <= 0 && grant_slot(f, s, 1, false) < 0)
                return -EIO;
        r.seg[0].gref = (grant_ref_t)s->grefs[0];
        r.seg[0].first_sect = 0;
        r.seg[0].last_sect = 7;
        if (!strcmp(mode, "bad-gref")) {
                r.seg[0].gref = 0x7ffffff0u;
        } else if (!strcmp(mode, "bad-sector")) {
                r.seg[0].last_sect = 8; /* past the end of the page */
        } else if (!strcmp(mode, "too-many-segs")) {
                r.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
        } else if (strcmp(mode, "prod-far-ahead")) {
                fprintf(stderr, "blkguest: unknown --evil mode '%s'\n", mode);
                return -EINVAL;
        }
        if (!strcmp(mode, "prod-far-ahead")) {
                q->front.sring->req_prod = q->front.req_prod_pvt + 100000;
        } else {
                memcpy(RING_GET_REQUEST(&q->front, q->front.req_prod_pvt), &r, sizeof(r));
                q->front.req_prod_pvt++;
                xen_wmb();
                q->front.sring->req_prod = q->front.req_prod_pvt;
        }
        xen_mb();
        bn_guest_evtchn_notify(f->g, (uint32_t)q->port);
        while (mono() < deadline) {
                st = bn_guest_xb_get_state(f->g, f->fe.be_path);
                if (st == XenbusStateClosing || st == XenbusStateClosed) {
                        printf("blkguest: back-end closed the vbd (state %d) after --evil %s\n", st,
                               mode);
                        fflush(stdout);
                        return 0;
                }
                usleep(20000);
        }
        fprintf(stderr, "blkguest: --evil %s: the back-end did not close the vbd\n", mode);
        return -ETIMEDOUT;
}

void bf_close(struct bf *f)
{
        double end = mono() + 3;

        bn_guest_xb_set_state(f->g, f->fe.fe_path, XenbusStateClosing);
        while (mono() < end) {
                int st = bn_guest_xb_get_state(f->g, f->fe.be_path);
                if (st < 0 || st == XenbusStateClosing || st == XenbusStateClosed ||
                    st == XenbusStateInitWait)
                        break;
                usleep(10000);
        }
        bn_guest_xb_set_state(f->g, f->fe.fe_path, XenbusStateClosed);
}
