/* corm_bridge.c: the bridge Corm of class "vif" (see corm_bridge.h): the
 * bridge, one TAP per attached wire end, frames between them, link state,
 * and software segmentation when metadata cannot travel.
 */
#include "corm_bridge.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_txq.h"
#include "bn_wire.h"
#include "corm_gso.h"
#include "tap_dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAP_BATCH  32
#define TAP_ROUNDS 8 /* batches read per wake-up at most */

struct corm_port {
        struct corm *c;
        struct bn_wire_port *port;
        char ifname[IFNAMSIZ];
        int fd;
        bool paused;       /* the wire refused: TAP reads stop until writable */
        unsigned mtu;      /* the TAP's, as set (0: the kernel's) */
        struct bn_txq txq; /* frames of msgs read but refused by the wire */
        struct bn_wire_msg msgs[TAP_BATCH];
        uint8_t *bufs; /* TAP_BATCH frames of BN_NET_TAP_FRAME_MAX */
        struct corm_port *next;
};

struct corm {
        struct bn_endpoint *ep;
        char bridge[IFNAMSIZ];
        bool created, offload;
        unsigned mtu;
        uint8_t *scratch; /* one segment, for software segmentation */
        struct corm_port *ports;
};

static const char *const corm_known[] = {"bridge", "create", "offload", "mtu", NULL};

static struct corm *corm_of(struct bn_endpoint *ep)
{
        return *(struct corm **)ep->priv;
}

/* The Corm's params: bridge, create, mtu (offload is read by open). */
static int corm_params(const struct bn_params *params, const char **br, bool *create, uint64_t *mtu,
                       char *err, size_t errlen)
{
        bool offload;
        int rc;

        rc = bn_params_check_known(params, corm_known, err, errlen);
        if (rc < 0)
                return rc;
        if ((rc = bn_params_get_str(params, "bridge", true, NULL, br, err, errlen)) < 0 ||
            (rc = bn_params_get_bool(params, "create", false, false, create, err, errlen)) < 0 ||
            (rc = bn_params_get_bool(params, "offload", false, true, &offload, err, errlen)) < 0 ||
            (rc = bn_params_get_uint(params, "mtu", false, 0, 0, 65521, mtu, err, errlen)) < 0)
                return rc;
        if (strlen(*br) == 0 || strlen(*br) >= IFNAMSIZ || strchr(*br, '/')) {
                snprintf(err, errlen, "parameter 'bridge': '%s' is not an interface name", *br);
                return -EINVAL;
        }
        if (*mtu && *mtu < 68) {
                snprintf(err, errlen, "parameter 'mtu': %llu is out of range 68..65521",
                         (unsigned long long)*mtu);
                return -EINVAL;
        }
        return 0;
}

int bn_net_corm_bridge_check(const struct bn_params *params, char *err, size_t errlen)
{
        const char *br;
        bool create;
        uint64_t mtu;

        return corm_params(params, &br, &create, &mtu, err, errlen);
}

int bn_net_corm_bridge_open(struct bn_endpoint *ep, const struct bn_params *params, char *err,
                            size_t errlen)
{
        struct corm *c = NULL;
        const char *br;
        bool create;
        uint64_t mtu;
        int rc;

        if ((rc = corm_params(params, &br, &create, &mtu, err, errlen)) < 0)
                return rc;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->ep = ep;
        c->mtu = (unsigned)mtu;
        snprintf(c->bridge, sizeof(c->bridge), "%s", br);
        rc = bn_params_get_bool(params, "offload", false, true, &c->offload, err, errlen);
        if (rc < 0)
                goto fail;
        c->scratch = malloc(BN_NET_TAP_FRAME_MAX);
        if (!c->scratch) {
                rc = -ENOMEM;
                goto fail;
        }
        rc = bn_net_bridge_ensure(c->bridge, create, &c->created);
        if (rc < 0) {
                if (rc == -ENODEV)
                        snprintf(err, errlen, "bridge '%s' does not exist (create=no)", br);
                else
                        snprintf(err, errlen, "bridge '%s': %s", br, strerror(-rc));
                goto fail;
        }
        *(struct corm **)ep->priv = c;
        bn_info(ep->name, "bridge Corm on %s%s (offload %s)", c->bridge,
                c->created ? " (created)" : "", c->offload ? "on" : "off");
        return 0;
fail:
        free(c->scratch);
        free(c);
        return rc;
}

void bn_net_corm_bridge_close(struct bn_endpoint *ep)
{
        struct corm *c = corm_of(ep);

        if (!c)
                return;
        while (c->ports) /* normally detached already */
                bn_net_corm_bridge_port_detach(ep, c->ports->port);
        if (c->created && bn_net_link_delete(c->bridge) == 0)
                bn_info(ep->name, "bridge %s deleted", c->bridge);
        free(c->scratch);
        free(c);
        *(struct corm **)ep->priv = NULL;
}

static struct corm_port *find_port(struct corm *c, struct bn_wire_port *port)
{
        struct corm_port *p;

        for (p = c->ports; p; p = p->next)
                if (p->port == port)
                        return p;
        return NULL;
}

/* Offer the first n frames of msgs to the wire after the refused ones (n ==
 * 0: only those); true when none is left waiting. */
static bool send_batch(struct corm_port *p, unsigned n)
{
        int rc = bn_txq_send(&p->txq, p->port, p->msgs, NULL, n);

        if (rc < 0) { /* the wire broke: the link goes down, frames are lost */
                atomic_fetch_add(&p->c->ep->counters.drops, bn_txq_clear(&p->txq, rc));
                bn_net_tap_set_carrier(p->fd, p->ifname, false);
                return true;
        }
        return rc == 1;
}

static void pause_reads(struct corm_port *p, bool pause)
{
        if (p->paused == pause)
                return;
        p->paused = pause;
        bn_loop_mod_fd(p->port->loop, p->fd, pause ? 0 : EPOLLIN);
}

/* TAP readable: read a batch of frames and send them on the wire. */
static void tap_readable(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct corm_port *p = arg;
        unsigned n = 0;

        (void)loop;
        (void)events;
        if (!send_batch(p, 0)) {
                pause_reads(p, true);
                return;
        }
        /* Several batches per wake-up: the same loop also writes the other
         * ports' frames into their TAPs, and reading only one batch per
         * round let the kernel's TAP queue overflow. */
        for (unsigned round = 0; round < TAP_ROUNDS; round++) {
                n = 0;
                while (n < TAP_BATCH) {
                        struct bn_wire_msg *m = &p->msgs[n];
                        uint8_t *buf = p->bufs + (size_t)n * BN_NET_TAP_FRAME_MAX;
                        struct virtio_net_hdr h;
                        int len = bn_net_tap_read(fd, &h, buf, BN_NET_TAP_FRAME_MAX);

                        if (len < 0) {
                                if (len != -EAGAIN)
                                        bn_warn(p->ifname, "reading the TAP: %s", strerror(-len));
                                break;
                        }
                        memset(m, 0, sizeof(*m));
                        m->type = BN_MSG_NET_FRAME;
                        m->hdr_len = BN_NET_VNET_HDR_LEN;
                        memcpy(m->hdr, &h, sizeof(h));
                        m->data = buf;
                        m->len = (uint32_t)len;
                        n++;
                }
                if (!send_batch(p, n)) {
                        pause_reads(p, true);
                        return;
                }
                if (n < TAP_BATCH)
                        return; /* the TAP is empty */
        }
}

static int write_segment(void *arg, const uint8_t *frame, size_t len)
{
        struct corm_port *p = arg;
        int rc = bn_net_tap_write(p->fd, NULL, frame, len);

        if (rc < 0)
                atomic_fetch_add(&p->c->ep->counters.drops, 1);
        return 0;
}

void bn_net_corm_bridge_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port,
                                struct bn_wire_msg *msgs, unsigned n)
{
        struct corm *c = corm_of(ep);
        struct corm_port *p = c ? find_port(c, port) : NULL;

        for (unsigned i = 0; i < n; i++) {
                struct bn_wire_msg *m = &msgs[i];
                struct virtio_net_hdr h = {0};
                int rc;

                if (!p || m->type != BN_MSG_NET_FRAME || m->len < 14 ||
                    m->len > BN_NET_TAP_FRAME_MAX) {
                        atomic_fetch_add(&ep->counters.drops, 1);
                        continue;
                }
                if (m->hdr_len >= sizeof(h))
                        memcpy(&h, m->hdr, sizeof(h));
                if (!c->offload && (h.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
                                    (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))) {
                        rc = bn_net_gso_segment(&h, m->data, m->len, c->scratch,
                                                BN_NET_TAP_FRAME_MAX, write_segment, p);
                } else {
                        rc = bn_net_tap_write(p->fd, &h, m->data, m->len);
                        if (rc == -EINVAL && h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
                                /* the kernel refused the metadata: do it here */
                                rc = bn_net_gso_segment(&h, m->data, m->len, c->scratch,
                                                        BN_NET_TAP_FRAME_MAX, write_segment, p);
                }
                if (rc < 0) {
                        atomic_fetch_add(&ep->counters.drops, 1);
                        bn_debug(p->ifname, "frame of %u bytes dropped: %s", m->len, strerror(-rc));
                }
        }
}

void bn_net_corm_bridge_port_writable(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct corm *c = corm_of(ep);
        struct corm_port *p = c ? find_port(c, port) : NULL;

        if (p && send_batch(p, 0))
                pause_reads(p, false);
}

/* The TAP's MTU: the Corm's mtu parameter, or the wire's MTU when that is
 * smaller (a vxlan wire's 1450), so that the bridge says what the wire
 * carries; on ep->loop. 0 or -errno. */
static int set_mtu(struct corm_port *p, const struct bn_wire_link *link)
{
        unsigned m = p->c->mtu;
        int rc;

        if (link->mtu >= 68 && link->mtu <= 65521 && (!m || link->mtu < m))
                m = link->mtu;
        if (!m || m == p->mtu)
                return 0;
        if ((rc = bn_net_link_set_mtu(p->ifname, m)) < 0)
                return rc;
        p->mtu = m;
        return 0;
}

static uint32_t fnv(uint32_t h, const char *s)
{
        while (*s)
                h = (h ^ (uint8_t)*s++) * 16777619u;
        return h;
}

int bn_net_corm_bridge_port_attach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct corm *c = corm_of(ep);
        struct corm_port *p;
        uint32_t h;
        int rc, salt;

        if (!c)
                return -ENODEV;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->c = c;
        p->port = port;
        p->fd = -1;
        p->bufs = malloc((size_t)TAP_BATCH * BN_NET_TAP_FRAME_MAX);
        if (!p->bufs) {
                rc = -ENOMEM;
                goto fail;
        }
        h = fnv(fnv(2166136261u, ep->name), port->wire) ^ port->end;
        for (salt = 0; salt < 8; salt++) {
                snprintf(p->ifname, sizeof(p->ifname), "bn%08x", h + (uint32_t)salt * 0x9e3779b9u);
                rc = bn_net_tap_create(p->ifname, c->offload);
                if (rc != -EEXIST)
                        break;
        }
        if (rc < 0) {
                bn_err(ep->name, "wire %s: cannot create TAP %s: %s", port->wire, p->ifname,
                       strerror(-rc));
                goto fail;
        }
        p->fd = rc;
        if ((rc = set_mtu(p, &port->link)) < 0)
                goto fail;
        rc = bn_net_link_enslave(p->ifname, c->bridge);
        if (rc < 0) {
                bn_err(ep->name, "wire %s: cannot put TAP %s on bridge %s: %s", port->wire,
                       p->ifname, c->bridge, strerror(-rc));
                goto fail;
        }
        /* no carrier until the wire's peer is there: the bridge does not
         * forward into a port that leads nowhere */
        bn_net_tap_set_carrier(p->fd, p->ifname, bn_wire_port_linked(port));
        rc = bn_loop_add_fd(port->loop, p->fd, EPOLLIN, tap_readable, p);
        if (rc < 0)
                goto fail;
        p->next = c->ports;
        c->ports = p;
        bn_info(ep->name, "wire %s end %u: TAP %s on bridge %s", port->wire, port->end, p->ifname,
                c->bridge);
        return 0;
fail:
        if (p->fd >= 0)
                close(p->fd);
        free(p->bufs);
        free(p);
        return rc;
}

void bn_net_corm_bridge_port_link(struct bn_endpoint *ep, struct bn_wire_port *port,
                                  const struct bn_wire_link *link)
{
        bool up = link->up;
        struct corm *c = corm_of(ep);
        struct corm_port *p;

        if (!c)
                return;
        for (p = c->ports; p && p->port != port; p = p->next)
                ;
        if (!p)
                return;
        if (up && set_mtu(p, link) < 0)
                bn_warn(ep->name, "wire %s: cannot set TAP %s's MTU to the wire's %u", port->wire,
                        p->ifname, link->mtu);
        bn_net_tap_set_carrier(p->fd, p->ifname, up);
        if (up)
                bn_info(ep->name, "wire %s: the peer is there: TAP %s has carrier", port->wire,
                        p->ifname);
        else if (!port->err) /* not gone: e.g. a handshake that failed */
                bn_warn(ep->name, "wire %s: link down (%s): TAP %s has no carrier", port->wire,
                        link->reason, p->ifname);
        else
                bn_warn(ep->name, "wire %s: the peer has gone: TAP %s has no carrier", port->wire,
                        p->ifname);
}

static void *tap_close_main(void *arg)
{
        close((int)(intptr_t)arg);
        return NULL;
}

/* Closing a TAP unregisters its device: 15-60 ms in the kernel (RCU grace
 * periods), during which the Corm's loop forwarded none of its other wires'
 * frames (every NIC swap showed a gap of about 20 ms). A thread of its own
 * closes it; nothing else holds the fd. */
static void tap_close_async(int fd)
{
        pthread_attr_t a;
        pthread_t th;
        int rc = pthread_attr_init(&a);

        if (!rc) {
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                rc = pthread_create(&th, &a, tap_close_main, (void *)(intptr_t)fd);
                pthread_attr_destroy(&a);
        }
        if (rc)
                close(fd); /* no thread: here, then */
}

void bn_net_corm_bridge_port_detach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct corm *c = corm_of(ep);
        struct corm_port **pp, *p;

        if (!c)
                return;
        for (pp = &c->ports; *pp && (*pp)->port != port; pp = &(*pp)->next)
                ;
        p = *pp;
        if (!p)
                return;
        *pp = p->next;
        bn_net_tap_set_carrier(p->fd, p->ifname, false);
        bn_loop_del_fd(port->loop, p->fd);
        tap_close_async(p->fd); /* the TAP disappears with its fd, shortly */
        bn_info(ep->name, "wire %s: TAP %s removed", port->wire, p->ifname);
        bn_txq_fini(&p->txq); /* its frames are in bufs */
        free(p->bufs);
        free(p);
}

const char *bn_net_corm_bridge_tap_name(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct corm *c = corm_of(ep);
        struct corm_port *p = c ? find_port(c, port) : NULL;

        return p ? p->ifname : "";
}
