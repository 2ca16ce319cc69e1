/* evtchn.c: xensim's event channels: per-domain port tables, interdomain
 * binding, and the channel-state table (a sealed memfd of cookies that
 * clients map read-only, so that a notify to a closed channel fails without
 * asking the daemon). Delivery itself is an eventfd write by the client. */
#include "xensim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

int chan_init(struct xsim *x)
{
        char path[64];
        int rc = 0;

        x->chan = MAP_FAILED;
        x->chan_ro_fd = -1;
        x->chan_fd = memfd_create("xensim-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (x->chan_fd < 0 || ftruncate(x->chan_fd, XSIM_CHAN_BYTES) < 0)
                goto fail;
        x->chan = mmap(NULL, XSIM_CHAN_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, x->chan_fd, 0);
        if (x->chan == MAP_FAILED)
                goto fail;
        /* Only this mapping may write: clients get a read-only fd, and the
         * seal stops them from reopening it writable through /proc. */
        if (fcntl(x->chan_fd, F_ADD_SEALS,
                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
                goto fail;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", x->chan_fd);
        x->chan_ro_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (x->chan_ro_fd < 0)
                goto fail;
        x->chan_next = 1;
        x->cookie_next = 1;
        return 0;
fail:
        rc = -errno;
        xlog(x, XLOG_ERR, "channel table: %s", strerror(errno));
        chan_fini(x);
        return rc;
}

void chan_fini(struct xsim *x)
{
        if (x->chan && x->chan != MAP_FAILED)
                munmap(x->chan, XSIM_CHAN_BYTES);
        x->chan = NULL;
        if (x->chan_fd >= 0)
                close(x->chan_fd);
        if (x->chan_ro_fd >= 0)
                close(x->chan_ro_fd);
        x->chan_fd = x->chan_ro_fd = -1;
}

static int slot_alloc(struct xsim *x, uint32_t *slot, uint32_t *cookie)
{
        uint32_t i, s;

        for (i = 0; i < XSIM_CHAN_SLOTS - 1; i++) {
                s = 1 + (x->chan_next - 1 + i) % (XSIM_CHAN_SLOTS - 1);
                if (__atomic_load_n(&x->chan[s], __ATOMIC_RELAXED) == 0) {
                        if (++x->cookie_next == 0)
                                x->cookie_next = 1;
                        *slot = s;
                        *cookie = x->cookie_next;
                        __atomic_store_n(&x->chan[s], *cookie, __ATOMIC_RELEASE);
                        x->chan_next = s + 1;
                        return 0;
                }
        }
        return -ENOSPC;
}

static int port_alloc(struct xsim *x, struct xsim_dom *d, struct xsim_client *c, uint32_t *port)
{
        uint32_t p;
        int efd;

        for (p = 1; p < XSIM_MAX_PORTS; p++)
                if (d->ports[p].state == XP_FREE)
                        break;
        if (p == XSIM_MAX_PORTS)
                return -ENOSPC;
        efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (efd < 0) {
                xlog(x, XLOG_ERR, "dom%u: eventfd: %s", d->domid, strerror(errno));
                return -errno;
        }
        d->ports[p] = (struct xsim_port){.state = XP_UNBOUND, .efd = efd, .owner = c};
        *port = p;
        return 0;
}

/* A port of c's domain that c owns, or NULL. */
static struct xsim_port *own_port(struct xsim_client *c, uint32_t port)
{
        struct xsim_port *p;

        if (!c->dom || port == 0 || port >= XSIM_MAX_PORTS)
                return NULL;
        p = &c->dom->ports[port];
        if (p->state == XP_FREE || p->owner != c)
                return NULL;
        return p;
}

int evtchn_alloc_unbound(struct xsim *x, struct xsim_client *c, uint32_t remote_dom, uint32_t *port,
                         int *efd)
{
        int rc;

        if (!dom_get(x, remote_dom))
                return -ESRCH;
        rc = port_alloc(x, c->dom, c, port);
        if (rc < 0)
                return rc;
        c->dom->ports[*port].remote_dom = remote_dom;
        *efd = c->dom->ports[*port].efd;
        xlog(x, XLOG_DEBUG, "dom%u: port %u unbound for dom%u", c->dom->domid, *port, remote_dom);
        return 0;
}

int evtchn_bind(struct xsim *x, struct xsim_client *c, uint32_t rdom, uint32_t rport,
                uint32_t *port, int *efd, int *peer_efd, uint32_t *slot, uint32_t *cookie)
{
        struct xsim_dom *rd = dom_get(x, rdom), *ld = c->dom;
        struct xsim_port *rp, *lp;
        int rc;

        if (!rd)
                return -ESRCH;
        if (rport == 0 || rport >= XSIM_MAX_PORTS)
                return -EINVAL;
        rp = &rd->ports[rport];
        if (rp->state != XP_UNBOUND || rp->remote_dom != ld->domid)
                return -EINVAL;
        rc = slot_alloc(x, slot, cookie);
        if (rc < 0)
                return rc;
        rc = port_alloc(x, ld, c, port);
        if (rc < 0) {
                __atomic_store_n(&x->chan[*slot], 0, __ATOMIC_RELEASE);
                return rc;
        }
        lp = &ld->ports[*port];
        rp = &rd->ports[rport]; /* same table; re-read for clarity */
        lp->state = rp->state = XP_INTERDOMAIN;
        lp->remote_dom = rdom;
        lp->remote_port = rport;
        rp->remote_dom = ld->domid;
        rp->remote_port = *port;
        lp->slot = rp->slot = *slot;
        lp->cookie = rp->cookie = *cookie;
        *efd = lp->efd;
        *peer_efd = rp->efd;
        xlog(x, XLOG_DEBUG, "dom%u port %u bound to dom%u port %u", ld->domid, *port, rdom, rport);
        return 0;
}

int evtchn_peer(struct xsim *x, struct xsim_client *c, uint32_t port, int *peer_efd, uint32_t *slot,
                uint32_t *cookie)
{
        struct xsim_port *p = own_port(c, port);
        struct xsim_dom *rd;

        if (!p)
                return -EINVAL;
        if (p->state != XP_INTERDOMAIN)
                return -ENOTCONN;
        rd = dom_get(x, p->remote_dom);
        if (!rd)
                return -ENOTCONN;
        *peer_efd = rd->ports[p->remote_port].efd;
        *slot = p->slot;
        *cookie = p->cookie;
        return 0;
}

/* Close port p of d: the peer (if any) becomes unbound, reserved for d, as
 * in Xen, and its channel slot is cleared so its notifies fail. */
static void port_close(struct xsim *x, struct xsim_dom *d, uint32_t port)
{
        struct xsim_port *p = &d->ports[port];

        if (p->state == XP_INTERDOMAIN) {
                struct xsim_dom *rd = dom_get(x, p->remote_dom);

                __atomic_store_n(&x->chan[p->slot], 0, __ATOMIC_RELEASE);
                if (rd) {
                        struct xsim_port *rp = &rd->ports[p->remote_port];

                        rp->state = XP_UNBOUND;
                        rp->remote_dom = d->domid;
                        rp->remote_port = 0;
                        rp->slot = rp->cookie = 0;
                }
        }
        if (p->efd >= 0)
                close(p->efd);
        *p = (struct xsim_port){.state = XP_FREE, .efd = -1};
}

int evtchn_close(struct xsim *x, struct xsim_client *c, uint32_t port)
{
        if (!own_port(c, port))
                return -EINVAL;
        port_close(x, c->dom, port);
        xlog(x, XLOG_DEBUG, "dom%u: port %u closed", c->dom->domid, port);
        return 0;
}

void evtchn_close_all(struct xsim *x, struct xsim_dom *d, struct xsim_client *c)
{
        uint32_t p;

        for (p = 1; p < XSIM_MAX_PORTS; p++)
                if (d->ports[p].state != XP_FREE && (!c || d->ports[p].owner == c))
                        port_close(x, d, p);
}
