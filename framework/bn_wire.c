/* bn_wire.c: the registry of wire types and the framework side of wire
 * ports: open/close on the endpoint's loop, polling, delivery of received
 * batches to the device class, send with backpressure (see bn_wire.h). */
#include "bn_wire.h"
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
        if (!cls || !cls->name || !cls->open || !cls->close || !cls->send || !cls->recv || !cls->fd)
                return -EINVAL;
        if (bn_wire_registry_find(r, cls->name, NULL))
                return -EEXIST;
        if (r->n >= BN_WIRE_CLASSES_MAX)
                return -ENOSPC;
        void *ctx = NULL;
        if (cls->class_init) {
                int rc = cls->class_init(&ctx);
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
        if (port->err)
                return false;
        return port->cls->linked ? port->cls->linked(port) : true;
}

/* Tell the device class when the link to the peer comes or goes. */
static void link_changed(struct bn_wire_port *port, bool up)
{
        struct bn_endpoint *ep = port->ep;

        if (port->link_up == up)
                return;
        port->link_up = up;
        if (ep->cls->port_link)
                ep->cls->port_link(ep, port, up);
}

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
                        if (n == -EPIPE || n == -ECONNRESET || n == -ENOTCONN)
                                bn_warn(ep->name, "wire %s: the peer has gone (%s)", port->wire,
                                        strerror(-n));
                        else
                                bn_endpoint_set_error(ep, "wire %s: receive failed: %s", port->wire,
                                                      strerror(-n));
                        port->err = n;
                        if (port->fd_added)
                                bn_loop_del_fd(port->loop, port->cls->fd(port));
                        port->fd_added = false;
                        if (n == -EPIPE || n == -ECONNRESET || n == -ENOTCONN) {
                                link_changed(port, false);
                                if (port->on_down)
                                        port->on_down(port->on_down_arg, port);
                        }
                        return;
                }
                if (n == 0)
                        break;
                uint64_t bytes = 0;
                for (int i = 0; i < n; i++)
                        bytes += msgs[i].len;
                atomic_fetch_add(&ep->counters.msgs_in, (unsigned)n);
                atomic_fetch_add(&ep->counters.bytes_in, bytes);
                if (ep->cls->port_rx)
                        ep->cls->port_rx(ep, port, msgs, (unsigned)n);
                else
                        atomic_fetch_add(&ep->counters.drops, (unsigned)n);
                if (port->cls->release)
                        port->cls->release(port, msgs, (unsigned)n);
        }
        link_changed(port, bn_wire_port_linked(port));
        if (port->tx_blocked) {
                port->tx_blocked = false;
                if (ep->cls->port_writable)
                        ep->cls->port_writable(ep, port);
        }
}

struct port_call {
        struct bn_wire_port *port;
        const struct bn_params *params;
        char *err;
        size_t errlen;
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

        if (ep->kind == BN_EP_SPIKE && ep->nports) {
                snprintf(c->err, c->errlen, "the spike already has a wire (%.200s)",
                         ep->ports[0]->wire);
                c->rc = -EBUSY;
                return;
        }
        c->rc = p->cls->open(p, c->params, c->err, c->errlen);
        if (c->rc)
                return;
        c->rc = bn_loop_add_fd(p->loop, p->cls->fd(p), EPOLLIN, port_readable, p);
        if (c->rc) {
                snprintf(c->err, c->errlen, "cannot poll the wire: %s", strerror(-c->rc));
                goto out_close;
        }
        p->fd_added = true;
        c->rc = bn_endpoint_attach_port(ep, p);
        if (c->rc) {
                snprintf(c->err, c->errlen, "cannot attach the port: %s", strerror(-c->rc));
                goto out_del;
        }
        p->link_up = bn_wire_port_linked(p); /* what port_attach sees */
        if (ep->cls->port_attach) {
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
        bn_loop_del_fd(p->loop, p->cls->fd(p));
        p->fd_added = false;
out_close:
        bn_loop_defer_cancel(p->loop, &p->flush_work); /* port_attach may have sent */
        p->cls->close(p);
}

/* On ep->loop: after this no callback of the port runs and the endpoint no
 * longer sends on it. */
static void port_close_on_loop(void *arg)
{
        struct bn_wire_port *p = arg;
        struct bn_endpoint *ep = p->ep;

        if (ep->cls->port_detach)
                ep->cls->port_detach(ep, p);
        bn_endpoint_detach_port(ep, p);
        if (p->fd_added)
                bn_loop_del_fd(p->loop, p->cls->fd(p));
        p->fd_added = false;
        if (p->flush_work.queued) { /* what was sent last still goes */
                bn_loop_defer_cancel(p->loop, &p->flush_work);
                p->cls->flush(p);
        }
        p->cls->close(p);
        if (!ep->nports && bn_endpoint_get_state(ep, NULL, 0) == BN_EP_CONNECTED)
                bn_endpoint_set_state(ep, BN_EP_READY);
}

int bn_wire_port_open(const struct bn_wire_registry *r, const char *type, const char *wire,
                      unsigned end, struct bn_endpoint *ep, const struct bn_params *params,
                      struct bn_wire_port **out, char *err, size_t errlen)
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
        bn_params_init(&p->params);
        if (params && (rc = bn_params_copy(&p->params, params)))
                goto fail;
        struct port_call c = {.port = p, .params = &p->params, .err = why, .errlen = sizeof(why)};
        rc = bn_loop_call_wait(ep->loop, port_open_on_loop, &c);
        if (!rc)
                rc = c.rc;
        if (rc)
                goto fail;
        bn_info(ep->name, "wire %s (%s, end %u) attached", wire, type, end);
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

void bn_wire_port_close(struct bn_wire_port *p)
{
        struct bn_endpoint *ep = p->ep;
        bn_loop_call_wait(p->loop, port_close_on_loop, p);
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

int bn_wire_send(struct bn_wire_port *p, const struct bn_wire_msg *msgs, unsigned n)
{
        struct bn_endpoint *ep = p->ep;
        uint64_t bytes = 0;
        int rc = p->cls->send(p, msgs, n);

        if (p->cls->flush && rc != 0) { /* publish once per loop iteration */
                if (bn_loop_in_thread(p->loop)) {
                        if (!p->flush_work.fn)
                                bn_loop_work_init(&p->flush_work, flush_work, p);
                        bn_loop_defer(p->loop, &p->flush_work);
                } else {
                        p->cls->flush(p);
                }
        }
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

void bn_wire_port_stats(struct bn_wire_port *p, struct bn_wire_stats *st)
{
        memset(st, 0, sizeof(*st));
        if (p->cls->stats)
                p->cls->stats(p, st);
}
