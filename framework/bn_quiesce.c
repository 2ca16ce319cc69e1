/* bn_quiesce.c: quiesce, resume and make-before-break, the same for every
 * device class (bn_endpoint.h): while quiesced a port accepts nothing, so
 * new requests wait in the class's retry queue; a disk's DRAIN follows the
 * last request on the old wire and the switch to the new port waits for
 * DRAINED and for the class's last answer (a wire without control
 * messages gets its type's drain instead: nbd's DISC); a NIC switches as
 * soon as the new wire is linked. Each switch logs where the new requests'
 * wait went (how many were in flight, when the last answer came). Also the
 * fence of a disk Corm: a newer port of a wire is not read while an older
 * port of the same wire has not drained (DRAINED sent, or
 * bn_wire_port_peer_drained) or closed.
 * Everything runs on the endpoint's loop; bn_endpoint_swap hands a swap to
 * it and its outcome goes back to the caller's loop. */
#include "bn_wire_int.h"
#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWAP_TICK_MS 1 /* the swap looks again at least this often */

struct bn_ep_swap {
        struct bn_endpoint *ep;
        struct bn_wire_port *old, *next;
        unsigned timeout_ms;
        struct bn_loop *notify;
        bn_swap_done_fn done;
        void *arg;
        uint64_t t0_us, quiesced_us, switched_us;
        uint64_t answered_us; /* the old port's last answer in (a disk) */
        unsigned inflight0;   /* the class's requests on the old port at the quiesce */
        bool quiesced, switched, timed_out, stepping;
        struct bn_timer *timer;
};

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A class that needs ordered delivery (a disk) is drained; others are not. */
static bool needs_drain(const struct bn_endpoint *ep)
{
        return ep->cls->wire_needs.ordered;
}

static int port_index(const struct bn_endpoint *ep, const struct bn_wire_port *port)
{
        for (unsigned i = 0; i < ep->nports; i++)
                if (ep->ports[i] == port)
                        return (int)i;
        return -1;
}

int bn_endpoint_quiesce(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        int rc;

        if (port_index(ep, port) < 0)
                return -ENOENT;
        port->held = true;
        if (!needs_drain(ep) || port->drain_sent || port->err)
                return 0;
        if (!port->caps.control) {
                /* the type's own goodbye (nbd: DISC), if it has one: the
                 * Corm then reads the new port without waiting for the
                 * controller to close this one */
                if (port->cls->drain)
                        port->cls->drain(port);
                port->drain_sent = true;
                return 0;
        }
        /* DRAIN goes straight to the wire: behind everything the class sent
         * on it, ahead of nothing (the port accepts no more of the class) */
        rc = bn_wire_send_ctl(port, BN_MSG_CTL_DRAIN);
        if (rc == 1)
                port->drain_sent = true;
        return rc < 0 ? rc : 0; /* 0: no room yet, the swap tries again */
}

bool bn_endpoint_drained(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        if (port_index(ep, port) < 0 || !port->held)
                return false;
        if (!needs_drain(ep))
                return true;
        if (ep->cls->port_inflight && ep->cls->port_inflight(ep, port))
                return false;
        if (port->caps.control && !port->err)
                return port->drained;
        return true; /* no control messages (nbd): every answer is in */
}

/* port first in ep's list: the one bn_endpoint_send uses. */
static void make_first(struct bn_endpoint *ep, int i)
{
        struct bn_wire_port *p = ep->ports[i];

        memmove(&ep->ports[1], &ep->ports[0], (size_t)i * sizeof(ep->ports[0]));
        ep->ports[0] = p;
}

int bn_endpoint_resume(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        int i = port_index(ep, port);

        if (i < 0)
                return -ENOENT;
        make_first(ep, i);
        port->held = false;
        port->standby = false;
        port->drain_sent = port->drained = false;
        port->tx_blocked = false;
        if (ep->cls->port_writable)
                ep->cls->port_writable(ep, port);
        return 0;
}

static void call_done(void *arg)
{
        struct bn_swap_result *r = arg;

        r->done(r);
}

static void finish(struct bn_ep_swap *s, bool aborted)
{
        struct bn_endpoint *ep = s->ep;
        struct bn_swap_result *r = calloc(1, sizeof(*r));
        uint64_t t = now_us();

        if (s->timer)
                bn_loop_timer_cancel(ep->loop, s->timer);
        ep->swap = NULL;
        if (s->switched)
                bn_info(ep->name,
                        "wire %s: switched to the new port after %" PRIu64 " us (new requests "
                        "waited %" PRIu64 " us: %u in flight on the old port, the last answered "
                        "after %" PRIu64 " us%s)",
                        s->next->wire, s->switched_us - s->t0_us, s->switched_us - s->quiesced_us,
                        s->inflight0, s->answered_us ? s->answered_us - s->quiesced_us : 0,
                        s->timed_out ? "; the old port did not drain in time" : "");
        else
                bn_warn(ep->name, "wire %s: swap given up: %s", s->next->wire,
                        aborted ? "the new port went away or never linked" : "?");
        if (r) {
                r->ep = ep;
                r->old = s->old;
                r->next = s->next;
                r->arg = s->arg;
                r->done = s->done;
                r->wait_us = s->switched ? s->switched_us - s->quiesced_us : 0;
                r->total_us = t - s->t0_us;
                r->timed_out = s->timed_out;
                r->aborted = aborted;
                if (!s->notify || bn_loop_call(s->notify, call_done, r))
                        free(r);
        }
        free(s);
}

/* Attach next to the class as the endpoint's port, and let sends go there. */
static void do_switch(struct bn_ep_swap *s)
{
        struct bn_endpoint *ep = s->ep;
        struct bn_wire_port *n = s->next;
        int rc;

        s->switched = true;
        s->switched_us = now_us();
        make_first(ep, port_index(ep, n));
        n->standby = false;
        if (ep->cls->port_attach && (rc = ep->cls->port_attach(ep, n)))
                bn_endpoint_set_error(ep, "wire %s: device class %s refused the new port: %s",
                                      n->wire, ep->cls->name, strerror(-rc));
        bn_endpoint_resume(ep, n);
}

static void step(struct bn_ep_swap *s)
{
        struct bn_endpoint *ep = s->ep;
        uint64_t t = now_us(), lim = (uint64_t)s->timeout_ms * 1000u;

        if (!s->quiesced) {
                if (!bn_wire_port_linked(s->next)) {
                        if (t - s->t0_us >= lim)
                                finish(s, true);
                        return;
                }
                s->quiesced = true;
                s->quiesced_us = t;
                if (ep->cls->port_inflight)
                        s->inflight0 = ep->cls->port_inflight(ep, s->old);
                if (bn_endpoint_quiesce(ep, s->old) < 0)
                        bn_warn(ep->name, "wire %s: no DRAIN on the old port (broken)",
                                s->old->wire);
        }
        if (!s->switched) {
                if (!s->old->drain_sent)
                        bn_endpoint_quiesce(ep, s->old); /* the DRAIN found no room before */
                if (!s->answered_us && needs_drain(ep) &&
                    (!ep->cls->port_inflight || !ep->cls->port_inflight(ep, s->old)))
                        s->answered_us = t;
                if (!bn_endpoint_drained(ep, s->old)) {
                        if (t - s->quiesced_us < lim)
                                return;
                        s->timed_out = true;
                }
                do_switch(s);
                if (needs_drain(ep)) {
                        finish(s, false);
                        return;
                }
        }
        /* a NIC keeps the old port a little: frames in flight still arrive */
        if (t - s->switched_us >= (uint64_t)BN_SWAP_LINGER_MS * 1000u)
                finish(s, false);
}

void bn_ep_swap_poke(struct bn_endpoint *ep)
{
        struct bn_ep_swap *s = ep->swap;

        if (s && !s->stepping) {
                s->stepping = true; /* the class's callbacks may poke again */
                step(s);
                if (ep->swap == s)
                        s->stepping = false;
        }
}

static void tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        (void)loop;
        (void)t;
        bn_ep_swap_poke(arg);
}

void bn_ep_swap_closing(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct bn_ep_swap *s = ep->swap;

        if (!s || (port != s->old && port != s->next))
                return;
        if (port == s->next && !s->switched) {
                if (s->quiesced)
                        bn_endpoint_resume(ep, s->old); /* the old wire carries on */
                finish(s, true);
        } else if (port == s->old && !s->switched) {
                s->timed_out = !s->quiesced || !bn_endpoint_drained(ep, s->old);
                if (!s->quiesced)
                        s->quiesced_us = now_us();
                do_switch(s);
                finish(s, false);
        } else {
                finish(s, false);
        }
}

struct swap_start {
        struct bn_ep_swap *s;
        int rc;
};

static void start_on_loop(void *arg)
{
        struct swap_start *c = arg;
        struct bn_ep_swap *s = c->s;
        struct bn_endpoint *ep = s->ep;

        if (ep->swap) {
                c->rc = -EBUSY;
                return;
        }
        if (port_index(ep, s->old) < 0 || port_index(ep, s->next) < 0 || !s->next->standby) {
                c->rc = -ENOENT;
                return;
        }
        c->rc = bn_loop_timer_add(ep->loop, SWAP_TICK_MS, SWAP_TICK_MS, tick, ep, &s->timer);
        if (c->rc)
                return;
        ep->swap = s;
        c->s = NULL; /* the loop's now */
        bn_ep_swap_poke(ep);
}

int bn_endpoint_swap(struct bn_endpoint *ep, struct bn_wire_port *old, struct bn_wire_port *next,
                     unsigned timeout_ms, struct bn_loop *notify, bn_swap_done_fn done, void *arg)
{
        struct swap_start c = {.s = calloc(1, sizeof(*c.s))};
        int rc;

        if (!c.s)
                return -ENOMEM;
        c.s->ep = ep;
        c.s->old = old;
        c.s->next = next;
        c.s->timeout_ms = timeout_ms ? timeout_ms : 1;
        c.s->notify = notify;
        c.s->done = done;
        c.s->arg = arg;
        c.s->t0_us = now_us();
        rc = bn_loop_call_wait(ep->loop, start_on_loop, &c);
        if (!rc)
                rc = c.rc;
        free(c.s); /* NULL once the loop took it */
        return rc;
}

/* ---- the Corm's fence ---------------------------------------------------- */

bool bn_wire_fence_needed(struct bn_endpoint *ep, struct bn_wire_port *p)
{
        if (ep->kind != BN_EP_CORM || !needs_drain(ep))
                return false;
        for (unsigned i = 0; i < ep->nports; i++) {
                struct bn_wire_port *q = ep->ports[i];
                if (q != p && !q->drained && strcmp(q->wire, p->wire) == 0) {
                        p->fenced_us = now_us();
                        return true;
                }
        }
        return false;
}

bool bn_wire_port_peer_drained(struct bn_wire_port *p)
{
        struct bn_endpoint *ep = p->ep;
        bool twin = false;

        for (unsigned i = 0; i < ep->nports && !twin; i++)
                twin = ep->ports[i] != p && ep->ports[i]->fenced &&
                       strcmp(ep->ports[i]->wire, p->wire) == 0;
        if (!twin || ep->kind != BN_EP_CORM)
                return p->drained;
        p->drained = true;
        bn_wire_unfence(ep, p);
        return true;
}

bool bn_wire_port_peer_back(struct bn_wire_port *p)
{
        struct bn_endpoint *ep = p->ep;

        if (!p->drained || ep->kind != BN_EP_CORM)
                return true;
        for (unsigned i = 0; i < ep->nports; i++)
                if (ep->ports[i] != p && strcmp(ep->ports[i]->wire, p->wire) == 0)
                        return false;
        p->drained = false;
        return true;
}

void bn_wire_unfence(struct bn_endpoint *ep, struct bn_wire_port *p)
{
        for (unsigned i = 0; i < ep->nports; i++) {
                struct bn_wire_port *q = ep->ports[i];
                bool older = false;
                int rc;

                if (q == p || !q->fenced || strcmp(q->wire, p->wire) != 0)
                        continue;
                /* still behind another older twin that has not drained? */
                for (unsigned k = 0; k < i && !older; k++)
                        older = ep->ports[k] != p && !ep->ports[k]->drained &&
                                !ep->ports[k]->fenced && strcmp(ep->ports[k]->wire, q->wire) == 0;
                if (older)
                        continue;
                q->fenced = false;
                if ((rc = bn_wire_port_poll(q)))
                        bn_endpoint_set_error(ep, "wire %s: cannot poll the new port: %s", q->wire,
                                              strerror(-rc));
                else
                        bn_info(ep->name,
                                "wire %s: the old port %s, the new one is read (fenced %" PRIu64
                                " us since it opened)",
                                q->wire, p->drained ? "drained" : "closed",
                                now_us() - q->fenced_us);
        }
}
