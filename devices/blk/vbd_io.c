/* vbd_io.c: the I/O path of the vbd Spike, on the endpoint's loop.
 *
 * Ring -> wire: each queue's ring is consumed slot by slot; a slot is copied
 * once and validated (vbd_parse); indirect pages are fetched with grant copy
 * and validated; a WRITE's data is grant-copied from the guest into a bounce
 * buffer in one batch; the request becomes BN_MSG_BLK_REQ messages of at
 * most 128 KiB (bn_blk_msg.h), tagged (generation, queue, slot, chunk).
 * Consumption pauses while there is no wire, no disk INFO yet, or the wire
 * refuses messages (resumed on port_attach / INFO / port_writable).
 *
 * Wire -> ring: a READ's data is grant-copied from the wire's buffer
 * straight into the guest's pages; when every chunk of a request has
 * answered, its blkif response goes on the ring; responses are pushed (and
 * the guest notified only when it asked) once per batch.
 *
 * A wire that leaves takes nothing with it: the chunks it had not answered
 * are sent again on the next wire attached (reads and writes are
 * idempotent; a flush covers what completed before it).
 *
 * A request that breaks the protocol, or a grant the guest does not let us
 * copy, disconnects this vbd (bn_xb_fail); other devices keep running. */
#include "vbd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bn_blk_msg.h"
#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

#define COPY_BATCH 64u
/* A slot keeps a write buffer up to this size for its next request. */
#define VBD_SLOT_BUF_KEEP (128u * 1024u)

static void serve_all(struct vbd *v);

int vbd_io_queue_init(struct vbd_queue *q)
{
        uint32_t n = RING_SIZE(&q->back);

        q->reqs = calloc(n, sizeof(*q->reqs));
        q->free_stack = calloc(n, sizeof(*q->free_stack));
        if (!q->reqs || !q->free_stack)
                return -ENOMEM;
        q->nreqs = n;
        for (uint32_t i = 0; i < n; i++) {
                q->reqs[i].q = q;
                q->reqs[i].idx = i;
                q->free_stack[i] = n - 1 - i;
        }
        q->nfree = n;
        q->dirty = false;
        return 0;
}

/* The slot is free again; its buffers stay with it for the next request. */
static void req_release(struct vbd_req *r)
{
        struct vbd_queue *q = r->q;
        uint8_t *buf = r->buf_slot;
        size_t cap = r->buf_cap;

        if (r->segs != r->seg_slot)
                free(r->segs);
        if (cap > VBD_SLOT_BUF_KEEP) { /* a large indirect write's: not kept */
                free(buf);
                buf = NULL;
                cap = 0;
        }
        memset(r, 0, offsetof(struct vbd_req, seg_slot));
        r->q = q;
        r->idx = (uint32_t)(r - q->reqs);
        r->buf_slot = buf;
        r->buf_cap = cap;
        q->free_stack[q->nfree++] = r->idx;
}

/* r->buf with room for r->bytes: the slot's own buffer, grown if need be. */
static int req_buf(struct vbd_req *r)
{
        if (r->bytes > r->buf_cap) {
                free(r->buf_slot);
                r->buf_cap = 0;
                r->buf_slot = malloc(r->bytes);
                if (!r->buf_slot)
                        return -ENOMEM;
                r->buf_cap = r->bytes;
        }
        r->buf = r->buf_slot;
        return 0;
}

void vbd_io_queue_fini(struct vbd_queue *q)
{
        if (q->reqs)
                for (uint32_t i = 0; i < q->nreqs; i++) {
                        if (q->reqs[i].used && q->reqs[i].segs != q->reqs[i].seg_slot)
                                free(q->reqs[i].segs);
                        free(q->reqs[i].buf_slot);
                }
        free(q->reqs);
        free(q->free_stack);
        free(q->replay);
        q->replay = NULL;
        q->nreplay = q->replay_next = 0;
        q->reqs = NULL;
        q->free_stack = NULL;
        q->nreqs = q->nfree = 0;
}

static void fail(struct vbd *v, int err, const char *what)
{
        if (v->broken)
                return;
        v->broken = true;
        v->errors++;
        bn_xb_fail(v->dev, err, "%s", what);
}

/* ---- responses ------------------------------------------------------- */

static void put_response(struct vbd_queue *q, uint64_t id, uint8_t op, int16_t status)
{
        blkif_response_t rsp = {.id = id, .operation = op, .status = status};

        memcpy(RING_GET_RESPONSE(&q->back, q->back.rsp_prod_pvt), &rsp, sizeof(rsp));
        q->back.rsp_prod_pvt++;
        vbd_j_rsp_pvt(q, q->back.rsp_prod_pvt);
        q->dirty = true;
        q->v->served++;
        if (status != BLKIF_RSP_OKAY)
                q->v->errors++;
}

static void push_responses(struct vbd *v)
{
        for (unsigned i = 0; i < v->nq; i++) {
                struct vbd_queue *q = &v->q[i];
                int notify;

                if (!q->dirty)
                        continue;
                q->dirty = false;
                RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->back, notify);
                if (notify)
                        bn_evtchn_notify(v->evtchn, q->port);
        }
}

static void req_finish(struct vbd_req *r)
{
        put_response(r->q, r->id, r->ring_op, r->status);
        vbd_j_free(r->q, r->idx);
        req_release(r);
}

/* ---- grant copy -------------------------------------------------------- */

/* Copy bytes [off, off+len) of the request's data between local memory at
 * local and the guest's segments. to_guest: READ data. 0 or -EFAULT. */
static int flush_copies(struct vbd *v, struct bn_gnt_copy_seg *cs, unsigned n)
{
        if (!n)
                return 0;
        if (bn_gnt_copy(v->gnt, n, cs) < 0)
                return -EFAULT;
        for (unsigned k = 0; k < n; k++)
                if (cs[k].status != BN_GNTST_OKAY)
                        return -EFAULT;
        return 0;
}

/* Copy bytes [off, off+len) of the request's data between local memory at
 * local and the guest's segments: memcpy through a persistent mapping when
 * there is one, else grant copy in batches. to_guest: READ data. 0 or
 * -EFAULT. */
static int copy_segs(struct vbd *v, struct vbd_req *r, uint64_t off, uint64_t len, uint8_t *local,
                     bool to_guest)
{
        struct bn_gnt_copy_seg cs[COPY_BATCH];
        unsigned n = 0;
        uint64_t pos = 0, done = 0, now = v->pg ? bn_now_ms() : 0;

        for (uint32_t i = 0; i < r->nr_segs && done < len; i++) {
                const struct bn_blk_seg *s = &r->segs[i];
                uint64_t slen = ((uint64_t)s->last_sect - s->first_sect + 1) << 9;
                uint64_t sbeg = pos, send = pos + slen;

                pos = send;
                if (send <= off || sbeg >= off + len)
                        continue;
                uint64_t a = sbeg > off ? sbeg : off;
                uint64_t b = send < off + len ? send : off + len;
                uint16_t poff = (uint16_t)((s->first_sect << 9) + (a - sbeg));
                uint8_t *map = v->pg ? vbd_pg_get(v, s->gref, now) : NULL;

                done += b - a;
                if (map) {
                        if (to_guest)
                                memcpy(map + poff, local + (a - off), b - a);
                        else
                                memcpy(local + (a - off), map + poff, b - a);
                        continue;
                }
                struct bn_gnt_copy_seg *c = &cs[n++];
                memset(c, 0, sizeof(*c));
                if (to_guest) {
                        c->source.virt = local + (a - off);
                        c->dest.foreign.ref = s->gref;
                        c->dest.foreign.offset = poff;
                        c->dest.foreign.domid = (uint16_t)v->fe_domid;
                        c->flags = BN_GNTCOPY_DEST_GREF;
                } else {
                        c->dest.virt = local + (a - off);
                        c->source.foreign.ref = s->gref;
                        c->source.foreign.offset = poff;
                        c->source.foreign.domid = (uint16_t)v->fe_domid;
                        c->flags = BN_GNTCOPY_SOURCE_GREF;
                }
                c->len = (uint16_t)(b - a);
                if (n == COPY_BATCH) {
                        if (flush_copies(v, cs, n) < 0)
                                return -EFAULT;
                        n = 0;
                }
        }
        if (flush_copies(v, cs, n) < 0)
                return -EFAULT;
        return done == len ? 0 : -EFAULT;
}

static int fetch_indirect(struct vbd *v, struct bn_blk_req *req)
{
        struct bn_gnt_copy_seg cs[BN_BLK_INDIRECT_PAGES_MAX];
        const void *pages[BN_BLK_INDIRECT_PAGES_MAX];

        for (uint32_t i = 0; i < req->nr_indirect; i++) {
                memset(&cs[i], 0, sizeof(cs[i]));
                cs[i].source.foreign.ref = req->indirect_gref[i];
                cs[i].source.foreign.domid = (uint16_t)v->fe_domid;
                cs[i].dest.virt = v->indirect_pages + (size_t)i * BN_PAGE_SIZE;
                cs[i].len = BN_PAGE_SIZE;
                cs[i].flags = BN_GNTCOPY_SOURCE_GREF;
                pages[i] = v->indirect_pages + (size_t)i * BN_PAGE_SIZE;
        }
        if (bn_gnt_copy(v->gnt, req->nr_indirect, cs) < 0)
                return -EFAULT;
        for (uint32_t i = 0; i < req->nr_indirect; i++)
                if (cs[i].status != BN_GNTST_OKAY)
                        return -EFAULT;
        (void)pages;
        return 0;
}

/* ---- wire ---------------------------------------------------------------- */

static uint64_t make_tag(struct vbd *v, struct vbd_req *r, uint32_t chunk)
{
        return ((uint64_t)(v->gen & 0xffffff) << 40) | ((uint64_t)r->q->idx << 32) |
               ((uint64_t)r->idx << 8) | chunk;
}

/* The wire accepted the lowest unsent chunk of r (bn_txq_done_fn); a chunk
 * the queue dropped stays unsent and goes out again on the next wire. */
static void chunk_sent(void *arg, void *cookie, int status)
{
        struct vbd_req *r = cookie;
        (void)arg;

        if (status < 0 || !r->unsent)
                return;
        uint32_t bit = 1u << __builtin_ctz(r->unsent);
        r->unsent &= ~bit;
        r->pending |= bit;
}

/* Hand r's unsent chunks to the wire, in order, after what waits. */
static void submit(struct vbd *v, struct vbd_req *r)
{
        struct bn_wire_msg m[32];
        void *cookies[32];
        unsigned n = 0;

        for (uint32_t left = r->unsent; left; left &= left - 1) {
                uint32_t k = (uint32_t)__builtin_ctz(left);
                struct bn_blk_msg_req h = {.tag = make_tag(v, r, k)};
                void *data = NULL;

                if (k < r->ndata) {
                        uint64_t off = (uint64_t)k * VBD_CHUNK;
                        uint64_t len = r->bytes - off < VBD_CHUNK ? r->bytes - off : VBD_CHUNK;
                        h.op = (r->op == BN_BLK_OP_READ) ? BN_BLK_IO_READ : BN_BLK_IO_WRITE;
                        h.offset = (r->sector << 9) + off;
                        h.len = len;
                        data = r->buf ? r->buf + off : NULL;
                } else if (r->op == BN_BLK_OP_DISCARD) {
                        h.op = BN_BLK_IO_DISCARD;
                        h.offset = r->sector << 9;
                        h.len = r->nr_sectors << 9;
                } else {
                        h.op = BN_BLK_IO_FLUSH;
                }
                if (bn_blk_msg_req_encode(&m[n], &h, data) < 0) {
                        /* cannot happen for a validated request */
                        r->unsent &= ~(1u << k);
                        r->status = BLKIF_RSP_ERROR;
                        continue;
                }
                cookies[n++] = r;
        }
        if (n && bn_txq_send(&v->txq, v->port, m, cookies, n) == -ENOMEM) {
                fail(v, ENOMEM, "no memory to queue a request for the wire");
                return;
        }
        if (!r->unsent && !r->pending) /* every chunk failed to encode */
                req_finish(r);
}

/* Send what waits; false when the wire refused (or is absent). */
static bool pump(struct vbd *v)
{
        return bn_txq_flush(&v->txq, v->port) == 1;
}

/* ---- ring -> requests ------------------------------------------------- */

/* Handle one copied slot, journaled at jidx (the top of the free stack).
 * false: stop (vbd broken). */
static bool take_slot(struct vbd_queue *q, const void *slot, uint32_t jidx)
{
        struct vbd *v = q->v;
        struct bn_blk_req *p = &v->scratch;
        const char *why = NULL;
        enum bn_blk_verdict vd;
        struct vbd_req *r;
        char msg[160];

        vd = bn_blk_parse_slot(slot, BN_BLK_SLOT_SIZE, &v->geom, p, &why);
        if (vd == BN_BLK_V_OK && p->indirect) {
                if (fetch_indirect(v, p) < 0) {
                        fail(v, EFAULT, "cannot copy the indirect pages of a request");
                        return false;
                }
                const void *pages[BN_BLK_INDIRECT_PAGES_MAX];
                for (uint32_t i = 0; i < p->nr_indirect; i++)
                        pages[i] = v->indirect_pages + (size_t)i * BN_PAGE_SIZE;
                vd = bn_blk_parse_indirect(p, pages, &v->geom, &why);
        }
        if (vd == BN_BLK_V_DISCONNECT) {
                snprintf(msg, sizeof(msg), "bad request on queue %u: %s", q->idx, why ? why : "?");
                fail(v, EPROTO, msg);
                return false;
        }
        if (vd != BN_BLK_V_OK || p->op == BN_BLK_OP_BARRIER) {
                put_response(q, p->id, p->ring_op,
                             vd == BN_BLK_V_OK ? BLKIF_RSP_EOPNOTSUPP : bn_blk_verdict_status(vd));
                vbd_j_free(q, jidx);
                return true;
        }
        r = &q->reqs[q->free_stack[--q->nfree]];
        r->used = true;
        r->id = p->id;
        r->ring_op = p->ring_op;
        r->op = p->op;
        r->secure = p->secure;
        r->sector = p->sector;
        r->nr_sectors = p->nr_sectors;
        r->nr_segs = p->nr_segs;
        r->status = BLKIF_RSP_OKAY;
        if (p->nr_segs && p->op != BN_BLK_OP_DISCARD) {
                r->segs = p->nr_segs <= VBD_SLOT_SEGS ? r->seg_slot
                                                      : malloc(sizeof(*r->segs) * p->nr_segs);
                if (!r->segs)
                        goto nomem;
                memcpy(r->segs, p->seg, sizeof(*r->segs) * p->nr_segs);
                r->bytes = p->nr_sectors << 9;
                r->ndata = (uint32_t)((r->bytes + VBD_CHUNK - 1) / VBD_CHUNK);
        }
        if (r->op == BN_BLK_OP_DISCARD || r->op == BN_BLK_OP_FLUSH)
                r->nchunks = r->ndata + 1;
        else
                r->nchunks = r->ndata;
        if (r->op != BN_BLK_OP_READ && r->bytes) {
                if (req_buf(r) < 0)
                        goto nomem;
                if (copy_segs(v, r, 0, r->bytes, r->buf, false) < 0) {
                        req_release(r);
                        fail(v, EFAULT, "cannot copy a write request's data from the guest");
                        return false;
                }
        }
        r->unsent = (1u << r->nchunks) - 1;
        submit(v, r);
        return true;
nomem:
        r->status = BLKIF_RSP_ERROR;
        req_finish(r);
        return true;
}

/* Consume one queue's ring while we can. */
static void serve_queue(struct vbd_queue *q)
{
        struct vbd *v = q->v;
        blkif_back_ring_t *b = &q->back;
        int more;

        /* requests an earlier bananad took and never answered, first */
        while (q->replay_next < q->nreplay) {
                struct vbd_jent *e = &q->replay[q->replay_next];
                uint32_t jidx;

                if (!q->nfree || !bn_txq_empty(&v->txq) || !v->port || !atomic_load(&v->info_known))
                        return;
                jidx = q->free_stack[q->nfree - 1];
                vbd_j_take(q, jidx, e->slot, e->req_idx);
                q->replay_next++;
                if (!take_slot(q, e->slot, jidx) || v->broken)
                        return;
                if (!pump(v))
                        return;
        }
        do {
                RING_IDX rc = b->req_cons;
                RING_IDX rp = b->sring->req_prod;

                xen_rmb();
                if (RING_REQUEST_PROD_OVERFLOW(b, rp)) {
                        char msg[128];
                        snprintf(msg, sizeof(msg),
                                 "queue %u: producer index %u is impossible (consumer %u)", q->idx,
                                 rp, rc);
                        fail(v, EPROTO, msg);
                        return;
                }
                while (rc != rp && !RING_REQUEST_CONS_OVERFLOW(b, rc)) {
                        unsigned char slot[BN_BLK_SLOT_SIZE];

                        if (!q->nfree || !bn_txq_empty(&v->txq) || !v->port ||
                            !atomic_load(&v->info_known))
                                return; /* resumed by a completion / the wire / INFO */
                        uint32_t jidx = q->free_stack[q->nfree - 1];

                        memcpy(slot, RING_GET_REQUEST(b, rc), sizeof(slot)); /* copy once */
                        vbd_j_take(q, jidx, slot, rc);
                        b->req_cons = ++rc;
                        vbd_j_req_cons(q, rc);
                        if (!take_slot(q, slot, jidx) || v->broken)
                                return;
                        if (!pump(v))
                                return;
                }
                if (v->hold)
                        return; /* the loop polls: req_event stays behind, no event channel */
                RING_FINAL_CHECK_FOR_REQUESTS(b, more);
        } while (more);
}

static void serve_all(struct vbd *v)
{
        if (!v->polling || v->broken)
                return;
        if (!pump(v))
                goto out;
        for (unsigned i = 0; i < v->nq && !v->broken; i++)
                serve_queue(&v->q[i]);
out:
        push_responses(v);
}

/* ---- adaptive polling (bn_loop_poller) -------------------------------- */

static uint64_t taken(const struct vbd *v)
{
        uint64_t n = 0;

        for (unsigned i = 0; i < v->nq; i++)
                n += v->q[i].back.req_cons + v->q[i].replay_next;
        return n;
}

/* New requests on a ring (one read of each shared producer index): serve
 * them. true when some were taken. */
static bool ring_poll(void *arg)
{
        struct vbd *v = arg;
        uint64_t before;
        bool seen = false;

        if (!v->polling || v->broken)
                return false;
        for (unsigned i = 0; i < v->nq && !seen; i++)
                seen = v->q[i].back.req_cons != *(volatile RING_IDX *)&v->q[i].back.sring->req_prod;
        if (!seen)
                return false;
        before = taken(v);
        serve_all(v);
        return taken(v) != before;
}

static void ring_hold(void *arg)
{
        struct vbd *v = arg;

        v->hold = true;
}

/* The loop will sleep: set req_event (RING_FINAL_CHECK_FOR_REQUESTS) on
 * every ring, and serve what came in meanwhile. */
static bool ring_rearm(void *arg)
{
        struct vbd *v = arg;
        uint64_t before = taken(v);

        v->hold = false;
        serve_all(v);
        return taken(v) != before;
}

static void evtchn_ready(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct vbd *v = arg;
        (void)loop;
        (void)fd;
        (void)events;

        bn_evtchn_drain(v->evtchn);
        serve_all(v);
}

static void send_hello(struct vbd *v)
{
        struct bn_wire_msg m;

        bn_blk_msg_hello_encode(&m);
        v->hello_owed = bn_endpoint_send(v->ep, &m, 1) != 1;
}

static void pg_reclaim(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct vbd *v = arg;
        unsigned n;
        (void)loop;
        (void)t;

        n = vbd_pg_reclaim(v, bn_now_ms(), VBD_PG_IDLE_MS);
        if (n) {
                v->pg->reclaimed += n;
                bn_debug(v->ep->name, "%u idle persistent grant(s) unmapped, %u kept", n, v->pg->n);
        }
}

void vbd_io_start(void *arg)
{
        struct vbd *v = arg;
        int rc = bn_loop_add_fd(v->ep->loop, bn_evtchn_fd(v->evtchn), EPOLLIN, evtchn_ready, v);

        if (rc) {
                bn_err(v->ep->name, "cannot poll the event channel: %s", strerror(-rc));
                return;
        }
        bn_txq_fini(&v->txq); /* empty already, unless a disconnect was missed */
        bn_txq_init(&v->txq, chunk_sent, v);
        bn_loop_poller_del(v->ep->loop, &v->poller); /* a start without a stop */
        v->poller = (struct bn_loop_poller){
            .poll = ring_poll, .begin = ring_hold, .end = ring_rearm, .arg = v};
        v->hold = false;
        bn_loop_poller_add(v->ep->loop, &v->poller);
        v->polling = true;
        v->connected = true;
        v->broken = false;
        v->gen++;
        vbd_geom_update(v);
        if (v->persistent) {
                if (vbd_pg_init(v) == 0)
                        bn_loop_timer_add(v->ep->loop, VBD_PG_RECLAIM_MS, VBD_PG_RECLAIM_MS,
                                          pg_reclaim, v, &v->pg_timer);
                else
                        bn_warn(v->ep->name, "no memory for persistent grants: grant copy only");
        }
        serve_all(v);
}

void vbd_io_stop(void *arg)
{
        struct vbd *v = arg;

        if (v->polling)
                bn_loop_del_fd(v->ep->loop, bn_evtchn_fd(v->evtchn));
        bn_loop_poller_del(v->ep->loop, &v->poller);
        v->hold = false;
        v->polling = false;
        v->connected = false;
        if (v->pg_timer)
                bn_loop_timer_cancel(v->ep->loop, v->pg_timer);
        v->pg_timer = NULL;
        if (v->pg) {
                bn_info(v->ep->name,
                        "persistent grants: %" PRIu64 " mapped, %" PRIu64 " reuses, %" PRIu64
                        " reclaimed idle, %u still mapped (unmapping)",
                        v->pg->maps, v->pg->hits, v->pg->reclaimed, v->pg->n);
                vbd_pg_fini(v);
        }
        /* Requests in flight are forgotten: their answers will not match
         * the next generation's tags. */
        bn_txq_fini(&v->txq);
}

/* ---- wire callbacks ------------------------------------------------------ */

int vbd_spike_port_attach(struct vbd *v, struct bn_wire_port *port)
{
        v->port = port;
        send_hello(v);
        if (!v->polling) /* the queues are not ours (yet, or any more) */
                return 0;
        /* chunks a previous wire did not answer go out again, and those it
         * refused behind them, so that each request's stay in order */
        bn_txq_clear(&v->txq, -ENOTCONN);
        for (unsigned i = 0; i < v->nq; i++) {
                struct vbd_queue *q = &v->q[i];
                for (uint32_t k = 0; k < q->nreqs; k++) {
                        struct vbd_req *r = &q->reqs[k];
                        if (r->used && (r->pending || r->unsent)) {
                                r->unsent |= r->pending;
                                r->pending = 0;
                                submit(v, r);
                        }
                }
        }
        serve_all(v);
        return 0;
}

void vbd_spike_port_detach(struct vbd *v, struct bn_wire_port *port)
{
        if (v->port == port)
                v->port = NULL;
}

unsigned vbd_spike_inflight(const struct vbd *v)
{
        unsigned n = 0;

        if (!v->polling)
                return 0;
        for (unsigned i = 0; i < v->nq; i++)
                for (uint32_t k = 0; k < v->q[i].nreqs; k++)
                        n += v->q[i].reqs[k].used && v->q[i].reqs[k].pending;
        return n;
}

void vbd_spike_port_writable(struct vbd *v)
{
        if (v->hello_owed)
                send_hello(v);
        serve_all(v);
}

static void on_info(struct vbd *v, const struct bn_wire_msg *m)
{
        struct bn_blk_msg_info i;
        const char *why = NULL;
        bool was = atomic_load(&v->info_known);

        if (bn_blk_msg_info_decode(m, &i, &why) < 0) {
                bn_warn(v->ep->name, "bad disk info from the wire: %s", why ? why : "?");
                return;
        }
        if (was && i.size == atomic_load(&v->size) &&
            !!(i.flags & BN_BLK_INFO_F_READONLY) == atomic_load(&v->corm_ro))
                return;
        atomic_store(&v->size, i.size);
        atomic_store(&v->corm_ro, !!(i.flags & BN_BLK_INFO_F_READONLY));
        atomic_store(&v->info_known, true);
        vbd_info_changed(v);
}

static void on_rsp(struct vbd *v, const struct bn_wire_msg *m)
{
        struct bn_blk_msg_rsp h;
        const char *why = NULL;
        struct vbd_queue *q;
        struct vbd_req *r;
        uint32_t qi, idx, k;

        if (bn_blk_msg_rsp_decode(m, &h, &why) < 0) {
                bn_warn(v->ep->name, "bad block response from the wire: %s", why ? why : "?");
                return;
        }
        if ((uint32_t)(h.tag >> 40) != (v->gen & 0xffffff))
                return; /* from before a reconnect of the guest */
        qi = (uint32_t)(h.tag >> 32) & 0xff;
        idx = (uint32_t)(h.tag >> 8) & 0xffffff;
        k = (uint32_t)h.tag & 0xff;
        if (qi >= v->nq || idx >= v->q[qi].nreqs)
                goto stale;
        q = &v->q[qi];
        r = &q->reqs[idx];
        if (!r->used || k >= 32 || !(r->pending & (1u << k)))
                goto stale;
        r->pending &= ~(1u << k);
        if (h.status) {
                r->status = h.status == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
        } else if (k < r->ndata && r->op == BN_BLK_OP_READ) {
                uint64_t off = (uint64_t)k * VBD_CHUNK;
                uint64_t len = r->bytes - off < VBD_CHUNK ? r->bytes - off : VBD_CHUNK;

                if (h.len != len) {
                        r->status = BLKIF_RSP_ERROR;
                } else if (copy_segs(v, r, off, len, m->data, true) < 0) {
                        r->status = BLKIF_RSP_ERROR;
                        fail(v, EFAULT, "cannot copy read data into the guest's pages");
                }
        }
        if (!r->pending && !r->unsent)
                req_finish(r);
        return;
stale:
        bn_debug(v->ep->name, "answer with unknown tag %#" PRIx64 " ignored", h.tag);
}

void vbd_spike_port_rx(struct vbd *v, struct bn_wire_msg *msgs, unsigned n)
{
        for (unsigned i = 0; i < n; i++) {
                if (msgs[i].type == BN_MSG_BLK_INFO)
                        on_info(v, &msgs[i]);
                else if (msgs[i].type == BN_MSG_BLK_RSP && v->polling)
                        on_rsp(v, &msgs[i]);
        }
        serve_all(v);
}
