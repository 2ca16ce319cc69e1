/* bn_wire.c: the registry of wire types and the framework side of wire
 * ports: open/close on the endpoint's loop, polling, delivery of received
 * batches to the device class, send with backpressure, the link state (see
 * bn_wire.h; capabilities and control messages: bn_wire_ctl.c). */
#include "bn_wire.h"
#include "bn_wire_int.h"
#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_BATCH 32
/* Batches taken from one port per wake-up at most. A loop serves other fds
 * too (a bridge Corm's TAP reads): a port that always has more must not
 * starve them. 8 batches is what a bridge Corm reads from a TAP per wake-up
 * (TAP_ROUNDS): more frames written into one TAP than read from another per
 * loop iteration overflow the kernel's TAP queue. */
#define RX_ROUNDS 8

void bn_wire_registry_init(struct bn_wire_registry *r)
{
        memset(r, 0, sizeof(*r));
        r->env.host = "";
}

void bn_wire_registry_fini(struct bn_wire_registry *r)
{
        for (unsigned i = 0; i < r->n; i++)
                if (r->cls[i]->class_fini)
                        r->cls[i]->class_fini(r->ctx[i]);
        memset(r, 0, sizeof(*r));
}

int bn_wire_registry_add(struct bn_wire_registry *r, const struct bn_wire_class *cls)
{
        if (!cls || !cls->name || !cls->open || !cls->close || !cls->send || !cls->recv ||
            !cls->fd || !cls->caps.max_msg || cls->caps.max_msg > BN_WIRE_DATA_MAX)
                return -EINVAL;
        if (bn_wire_registry_find(r, cls->name, NULL))
                return -EEXIST;
        if (r->n >= BN_WIRE_CLASSES_MAX)
                return -ENOSPC;
        void *ctx = NULL;
        r->env.registry = r; /* also when the caller set env anew */
        if (cls->class_init) {
                int rc = cls->class_init(&r->env, &ctx);
                if (rc)
                        return rc;
        }
        r->cls[r->n] = cls;
        r->ctx[r->n] = ctx;
        r->n++;
        return 0;
}

const struct bn_wire_class *bn_wire_registry_find(const struct bn_wire_registry *r,
                                                  const char *name, void **class_ctx)
{
        for (unsigned i = 0; i < r->n; i++) {
                if (!strcmp(r->cls[i]->name, name)) {
                        if (class_ctx)
                                *class_ctx = r->ctx[i];
                        return r->cls[i];
                }
        }
        return NULL;
}

bool bn_wire_port_linked(struct bn_wire_port *port)
{
        if (port->err || port->hs_fail[0])
                return false;
        return port->cls->linked ? port->cls->linked(port) : true;
}

static bool peer_left(int err)
{
        return err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN;
}

/* The link as it is now, with the reason when down. */
static void link_now(struct bn_wire_port *p, struct bn_wire_link *l)
{
        memset(l, 0, sizeof(*l));
        l->caps = p->caps;
        l->mtu = p->caps.mtu;
        l->up = bn_wire_port_linked(p);
        if (l->up)
                return;
        if (p->hs_fail[0])
                snprintf(l->reason, sizeof(l->reason), "%s", p->hs_fail);
        else if (p->err)
                snprintf(l->reason, sizeof(l->reason), "%s (%s)",
                         peer_left(p->err) ? "the peer has gone" : "the wire failed",
                         strerror(-p->err));
        else if (p->cls->link_why)
                p->cls->link_why(p, l->reason, sizeof(l->reason));
        if (!l->reason[0])
                snprintf(l->reason, sizeof(l->reason), "waiting for the peer");
}

/* Tell the device class when the link to the peer comes or goes (or its
 * MTU changes). */
void bn_wire_port_link_update(struct bn_wire_port *port)
{
        struct bn_endpoint *ep = port->ep;
        struct bn_wire_link l;
        bool tell;

        link_now(port, &l);
        tell = l.up != port->link.up || l.mtu != port->link.mtu;
        port->link = l;
        if (tell && ep->cls->port_link)
                ep->cls->port_link(ep, port, &port->link);
        if (tell && l.up && ep->swap)
                bn_ep_swap_poke(ep); /* a swap's new port linked: quiesce now, not on a tick */
}

void bn_wire_port_writable(struct bn_wire_port *port)
{
        struct bn_endpoint *ep = port->ep;

        if (port->hello_owed && bn_wire_hello_try(port) != 1)
                return; /* still no room: the HELLO goes first */
        if (!port->tx_blocked)
                return;
        port->tx_blocked = false;
        if (ep->cls->port_writable)
                ep->cls->port_writable(ep, port);
}

/* Hand a received batch to the class: control messages to the framework,
 * nothing of the class after a failed handshake. */
static void deliver(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned n)
{
        struct bn_endpoint *ep = port->ep;
        struct bn_wire_msg keep[RX_BATCH];
        unsigned k = 0;
        bool plain = !port->hs_fail[0];

        for (unsigned i = 0; i < n && plain; i++)
                plain = msgs[i].type < BN_MSG_RESERVED_FIRST;
        if (!plain) {
                for (unsigned i = 0; i < n; i++) {
                        if (msgs[i].type >= BN_MSG_RESERVED_FIRST)
                                bn_wire_ctl_rx(port, &msgs[i]);
                        else if (port->hs_fail[0])
                                atomic_fetch_add(&ep->counters.drops, 1);
                        else
                                keep[k++] = msgs[i];
                }
                msgs = keep;
                n = k;
        }
        if (!n)
                return;
        uint64_t bytes = 0;
        for (unsigned i = 0; i < n; i++)
                bytes += msgs[i].len;
        atomic_fetch_add(&ep->counters.msgs_in, n);
        atomic_fetch_add(&ep->counters.bytes_in, bytes);
        if (ep->cls->port_rx)
                ep->cls->port_rx(ep, port, msgs, n);
        else
                atomic_fetch_add(&ep->counters.drops, n);
}

static void rx_work(void *arg);

static void port_readable(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        (void)loop;
        (void)fd;
        (void)events;
        struct bn_wire_port *port = arg;
        struct bn_endpoint *ep = port->ep;
        struct bn_wire_msg msgs[RX_BATCH];
        for (unsigned rounds = 0; rounds < RX_ROUNDS; rounds++) {
                int n = port->cls->recv(port, msgs, RX_BATCH);
                if (n < 0) {
                        /* Stop polling a broken port (its fd may stay readable
                         * for ever); the controller closes or replaces it. A
                         * peer that left is not an error of this endpoint. */
                        if (peer_left(n))
                                bn_warn(ep->name, "wire %s: the peer has gone (%s)", port->wire,
                                        strerror(-n));
                        else
                                bn_endpoint_set_error(ep, "wire %s: receive failed: %s", port->wire,
                                                      strerror(-n));
                        port->err = n;
                        if (port->fd_added)
                                bn_loop_del_fd(port->loop, port->cls->fd(port));
                        port->fd_added = false;
                        bn_wire_port_link_update(port); /* down, with the reason */
                        if (peer_left(n)) {
                                if (port->on_down)
                                        port->on_down(port->on_down_arg, port);
                        }
                        return;
                }
                if (n == 0)
                        break;
                deliver(port, msgs, (unsigned)n);
                if (port->cls->release)
                        port->cls->release(port, msgs, (unsigned)n);
                if (rounds + 1 == RX_ROUNDS) {
                        /* more may wait: read on in the next iteration (a
                         * wire that rings by bn_wire_port_kick leaves no fd
                         * readable for them) */
                        if (!port->rx_work.fn)
                                bn_loop_work_init(&port->rx_work, rx_work, port);
                        bn_loop_defer_next(port->loop, &port->rx_work);
                }
        }
        bn_wire_port_link_update(port);
        bn_wire_port_writable(port);
        if (ep->swap)
                bn_ep_swap_poke(ep); /* the last answer, or the link, may be in */
}

static void rx_work(void *arg)
{
        struct bn_wire_port *p = arg;

        if (p->fd_added)
                port_readable(p->loop, -1, EPOLLIN, p);
}

void bn_wire_port_kick(struct bn_wire_port *p)
{
        if (!p->rx_work.fn)
                bn_loop_work_init(&p->rx_work, rx_work, p);
        bn_loop_defer(p->loop, &p->rx_work);
}

int bn_wire_port_poll(struct bn_wire_port *p)
{
        int rc = bn_loop_add_fd(p->loop, p->cls->fd(p), EPOLLIN, port_readable, p);

        if (!rc) {
                p->fd_added = true;
                /* what a wire kicked (bn_wire_port_kick) while the port was
                 * not read (fenced) is read now */
                if (bn_loop_in_thread(p->loop))
                        bn_wire_port_kick(p);
        }
        return rc;
}

struct port_call {
        struct bn_wire_port *port;
        const struct bn_params *params;
        char *err;
        size_t errlen;
        bool next; /* bn_wire_port_open_next: a Spike's standby port */
        int rc;
};

/* On ep->loop, in one go (no other callback of the loop runs in between):
 * the wire class opens the port and its fd is polled, then the port joins
 * the endpoint's list, before the class's port_attach (which may already
 * send on it). */
static void port_open_on_loop(void *arg)
{
        struct port_call *c = arg;
        struct bn_wire_port *p = c->port;
        struct bn_endpoint *ep = p->ep;

        if (c->next && (ep->kind != BN_EP_SPIKE || ep->nports != 1 || ep->swap)) {
                snprintf(c->err, c->errlen,
                         "a swap needs a spike with one wire and no swap in progress");
                c->rc = -EBUSY;
                return;
        }
        if (ep->kind == BN_EP_SPIKE && ep->nports && !c->next) {
                snprintf(c->err, c->errlen, "the spike already has a wire (%.200s)",
                         ep->ports[0]->wire);
                c->rc = -EBUSY;
                return;
        }
        c->rc = p->cls->open(p, c->params, c->err, c->errlen);
        if (c->rc)
                return;
        p->caps = p->cls->caps;
        if (p->cls->port_caps)
                p->cls->port_caps(p, &p->caps);
        c->rc = bn_wire_caps_check(&p->caps, p->cls->name, ep->cls, c->err, c->errlen);
        if (c->rc)
                goto out_close;
        p->hello_owed = p->caps.control;
        p->standby = c->next;
        /* a disk Corm reads a new port of a wire only once its older port
         * drained: a write from the old never lands after one of the new */
        p->fenced = bn_wire_fence_needed(ep, p);
        if (!p->fenced && (c->rc = bn_wire_port_poll(p))) {
                snprintf(c->err, c->errlen, "cannot poll the wire: %s", strerror(-c->rc));
                goto out_close;
        }
        c->rc = bn_endpoint_attach_port(ep, p);
        if (c->rc) {
                snprintf(c->err, c->errlen, "cannot attach the port: %s", strerror(-c->rc));
                goto out_del;
        }
        /* Our HELLO goes before anything of the class: now, or (no room, no
         * peer yet) before the class's first send gets through. */
        if (bn_wire_hello_try(p) < 0)
                bn_warn(ep->name, "wire %s: cannot send the hello yet", p->wire);
        link_now(p, &p->link); /* what port_attach sees */
        if (ep->cls->port_attach && !p->standby) {
                c->rc = ep->cls->port_attach(ep, p);
                if (c->rc) {
                        snprintf(c->err, c->errlen, "device class %s refused the wire: %s",
                                 ep->cls->name, strerror(-c->rc));
                        bn_endpoint_detach_port(ep, p);
                        goto out_del;
                }
        }
        if (bn_endpoint_get_state(ep, NULL, 0) == BN_EP_READY)
                bn_endpoint_set_state(ep, BN_EP_CONNECTED);
        return;
out_del:
        if (p->fd_added)
                bn_loop_del_fd(p->loop, p->cls->fd(p));
        p->fd_added = false;
out_close:
        bn_loop_defer_cancel(p->loop, &p->flush_work); /* port_attach may have sent */
        bn_loop_defer_cancel(p->loop, &p->rx_work);
        p->cls->close(p);
}

/* On ep->loop: after this no callback of the port runs and the endpoint no
 * longer sends on it. */
static void port_close_on_loop(void *arg)
{
        struct bn_wire_port *p = arg;
        struct bn_endpoint *ep = p->ep;

        bn_ep_swap_closing(ep, p);
        if (ep->cls->port_detach && !p->standby)
                ep->cls->port_detach(ep, p);
        bn_endpoint_detach_port(ep, p);
        bn_wire_unfence(ep, p);
        if (p->fd_added)
                bn_loop_del_fd(p->loop, p->cls->fd(p));
        p->fd_added = false;
        if (p->flush_work.queued) { /* what was sent last still goes */
                bn_loop_defer_cancel(p->loop, &p->flush_work);
                p->cls->flush(p);
        }
        p->cls->close(p);
        bn_loop_defer_cancel(p->loop, &p->rx_work); /* close may have kicked us */
        bn_wire_regions_free(p);
        if (!ep->nports && bn_endpoint_get_state(ep, NULL, 0) == BN_EP_CONNECTED)
                bn_endpoint_set_state(ep, BN_EP_READY);
}

static int port_open(const struct bn_wire_registry *r, const char *type, const char *wire,
                     unsigned end, struct bn_endpoint *ep, const struct bn_params *params,
                     bool next, struct bn_wire_port **out, char *err, size_t errlen)
{
        char why[256] = "";
        int rc = 0;
        struct bn_wire_port *p = NULL;
        void *ctx = NULL;
        const struct bn_wire_class *cls = bn_wire_registry_find(r, type, &ctx);
        if (!cls) {
                snprintf(why, sizeof(why), "unknown wire type '%s'", type);
                rc = -ENOENT;
                goto fail;
        }
        if (end > 1 || !wire || strlen(wire) >= sizeof(p->wire)) {
                snprintf(why, sizeof(why), "bad wire name or end");
                rc = -EINVAL;
                goto fail;
        }
        if ((rc = bn_wire_caps_check(&cls->caps, cls->name, ep->cls, why, sizeof(why))))
                goto fail;
        p = calloc(1, sizeof(*p));
        if (!p) {
                rc = -ENOMEM;
                goto fail;
        }
        if (cls->priv_size && !(p->priv = calloc(1, cls->priv_size))) {
                rc = -ENOMEM;
                goto fail;
        }
        p->cls = cls;
        p->class_ctx = ctx;
        snprintf(p->wire, sizeof(p->wire), "%s", wire);
        p->on_down = r->on_down;
        p->on_down_arg = r->on_down_arg;
        p->end = end;
        p->ep = ep;
        p->loop = ep->loop;
        if ((rc = bn_wire_end_params(params, end, &p->params, why, sizeof(why))))
                goto fail;
        struct port_call c = {
            .port = p, .params = &p->params, .err = why, .errlen = sizeof(why), .next = next};
        uint64_t t0 = bn_now_ms();
        rc = bn_loop_call_wait(ep->loop, port_open_on_loop, &c);
        if (!rc)
                rc = c.rc;
        bn_debug(ep->name, "wire %s: opening end %u took %llu ms on its loop", wire, end,
                 (unsigned long long)(bn_now_ms() - t0));
        if (rc)
                goto fail;
        bn_info(ep->name, "wire %s (%s, end %u) %s", wire, type, end,
                next ? "opened beside the old one" : "attached");
        if (out)
                *out = p;
        return 0;
fail:
        if (err)
                snprintf(err, errlen, "endpoint %s, wire %s: %s", ep->name, wire ? wire : "?",
                         why[0] ? why : strerror(-rc));
        if (p) {
                bn_params_clear(&p->params);
                free(p->priv);
                free(p);
        }
        return rc;
}

int bn_wire_port_open(const struct bn_wire_registry *r, const char *type, const char *wire,
                      unsigned end, struct bn_endpoint *ep, const struct bn_params *params,
                      struct bn_wire_port **out, char *err, size_t errlen)
{
        return port_open(r, type, wire, end, ep, params, false, out, err, errlen);
}

int bn_wire_port_open_next(const struct bn_wire_registry *r, const char *type, const char *wire,
                           unsigned end, struct bn_endpoint *ep, const struct bn_params *params,
                           struct bn_wire_port **out, char *err, size_t errlen)
{
        return port_open(r, type, wire, end, ep, params, true, out, err, errlen);
}

void bn_wire_port_close(struct bn_wire_port *p)
{
        struct bn_endpoint *ep = p->ep;
        uint64_t t0 = bn_now_ms();
        bn_loop_call_wait(p->loop, port_close_on_loop, p);
        bn_debug(ep->name, "wire %s: closing end %u took %llu ms on its loop", p->wire, p->end,
                 (unsigned long long)(bn_now_ms() - t0));
        bn_info(ep->name, "wire %s detached", p->wire);
        bn_params_clear(&p->params);
        free(p->priv);
        free(p);
}

static void flush_work(void *arg)
{
        struct bn_wire_port *p = arg;

        p->cls->flush(p);
}

int bn_wire_send_raw(struct bn_wire_port *p, const struct bn_wire_msg *msgs, unsigned n)
{
        int rc = p->cls->send(p, msgs, n);

        if (p->cls->flush && rc > 0) { /* publish once per loop iteration */
                if (bn_loop_in_thread(p->loop)) {
                        if (!p->flush_work.fn)
                                bn_loop_work_init(&p->flush_work, flush_work, p);
                        bn_loop_defer(p->loop, &p->flush_work);
                } else {
                        p->cls->flush(p);
                }
        }
        return rc;
}

int bn_wire_send(struct bn_wire_port *p, const struct bn_wire_msg *msgs, unsigned n)
{
        struct bn_endpoint *ep = p->ep;
        uint64_t bytes = 0;
        int rc = 0;

        if (p->hs_fail[0]) { /* the peer is of another kind: it gets nothing */
                atomic_fetch_add(&ep->counters.drops, n);
                return (int)n;
        }
        if (p->held) { /* quiesced: new requests wait in the class's retry queue */
                p->tx_blocked = n > 0;
                return 0;
        }
        if (p->hello_owed)
                rc = bn_wire_hello_try(p);
        if (rc >= 0 && !p->hello_owed)
                rc = bn_wire_send_raw(p, msgs, n);
        if (rc < 0) {
                if (p->err != rc)
                        bn_endpoint_set_error(ep, "wire %s: send failed: %s", p->wire,
                                              strerror(-rc));
                p->err = rc;
                return rc;
        }
        for (int i = 0; i < rc; i++)
                bytes += msgs[i].len;
        if (rc) {
                atomic_fetch_add(&ep->counters.msgs_out, (unsigned)rc);
                atomic_fetch_add(&ep->counters.bytes_out, bytes);
        }
        if ((unsigned)rc < n)
                p->tx_blocked = true;
        return rc;
}

struct err_call {
        struct bn_wire_port *port;
        int err;
};

static void err_on_loop(void *arg)
{
        struct err_call *c = arg;
        c->err = c->port->err;
}

int bn_wire_port_error(struct bn_wire_port *p)
{
        struct err_call c = {.port = p};
        int rc = bn_loop_call_wait(p->loop, err_on_loop, &c);

        return rc ? rc : c.err;
}

struct link_call {
        struct bn_wire_port *port;
        struct bn_wire_link link;
};

static void link_on_loop(void *arg)
{
        struct link_call *c = arg;
        c->link = c->port->link;
}

int bn_wire_port_link(struct bn_wire_port *p, struct bn_wire_link *out)
{
        struct link_call c = {.port = p};
        int rc = bn_loop_call_wait(p->loop, link_on_loop, &c);

        *out = c.link;
        return rc;
}

void bn_wire_stats_detail(struct bn_wire_stats *st, const char *name, uint64_t n)
{
        for (unsigned i = 0; i < BN_WIRE_DETAIL_MAX; i++)
                if (!st->detail[i].name || strcmp(st->detail[i].name, name) == 0) {
                        st->detail[i].name = name;
                        st->detail[i].n += n;
                        return;
                }
}

/* The ports of one loop, read in one call to it. */
struct links_call {
        struct bn_loop *loop;
        struct bn_wire_port *const *ports;
        struct bn_wire_link *out;
        size_t n;
};

static void links_on_loop(void *arg)
{
        struct links_call *c = arg;

        for (size_t i = 0; i < c->n; i++)
                if (c->ports[i] && c->ports[i]->loop == c->loop)
                        c->out[i] = c->ports[i]->link;
}

int bn_wire_ports_link(struct bn_wire_port *const *ports, size_t n, struct bn_wire_link *out)
{
        struct bn_loop *done[16];
        size_t ndone = 0;
        int rc = 0;

        memset(out, 0, n * sizeof(*out));
        for (size_t i = 0; i < n && !rc; i++) {
                struct links_call c = {.ports = ports, .out = out, .n = n};
                bool seen = false;

                if (!ports[i])
                        continue;
                for (size_t k = 0; k < ndone && !seen; k++)
                        seen = done[k] == ports[i]->loop;
                if (seen)
                        continue;
                c.loop = ports[i]->loop;
                if (ndone < sizeof(done) / sizeof(done[0])) {
                        done[ndone++] = c.loop;
                        rc = bn_loop_call_wait(c.loop, links_on_loop, &c);
                } else { /* more loops than remembered: this port alone */
                        struct link_call one = {.port = ports[i]};
                        rc = bn_loop_call_wait(c.loop, link_on_loop, &one);
                        out[i] = one.link;
                }
        }
        return rc;
}

void bn_wire_port_stats(struct bn_wire_port *p, struct bn_wire_stats *st)
{
        memset(st, 0, sizeof(*st));
        if (p->cls->stats)
                p->cls->stats(p, st);
}
