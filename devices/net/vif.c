/* vif.c: the vif Spike's device class ("vif", back-end type "vif"): xenbus
 * probe (feature keys), connect (front-end keys, rings, event channels,
 * handing the rings to ep->loop), disconnect, remove; the event-channel
 * handler; the per-vif rate limit; wire port callbacks, which dispatch to
 * the bridge Corm (corm_bridge.c, the class's Corm) when ep->kind is
 * BN_EP_CORM.
 * Ring work itself lives in vif_tx.c and vif_rx.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "corm_bridge.h"
#include "vif_int.h"

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void bn_vif_fatal(struct bn_vif *vif, int err, const char *fmt, ...)
{
        char msg[256];
        va_list ap;

        if (vif->dead)
                return;
        vif->dead = true;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Stop listening at once: the fd stays readable otherwise. */
        if (vif->running)
                bn_loop_del_fd(vif->ep->loop, vif->evt_fd);
        bn_xb_fail(vif->dev, err, "%s", msg);
}

/* ---- rate limit ("rate" = "bytes,usec", credit based, as netback) ---- */

static void rate_timer_cb(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct bn_vif *vif = arg;
        unsigned i;

        (void)loop;
        (void)t;
        vif->rate_timer = NULL; /* one-shot: freed by the loop */
        if (!vif->running || vif->dead)
                return;
        for (i = 0; i < vif->nq; i++)
                bn_vif_tx_work(&vif->q[i]);
}

bool bn_vif_rate_allow(struct bn_vif *vif, uint32_t len)
{
        uint64_t now;

        if (!vif->rate_usec)
                return true;
        now = now_us();
        if (now >= vif->credit_next_us) {
                /* Windows follow their schedule, not our wake-ups: a late
                 * timer neither stretches a window nor, when it missed a
                 * whole window, loses that window's credit (at most one is
                 * made up: two windows' bytes at once bound the burst). */
                uint64_t missed = (now - vif->credit_next_us) / vif->rate_usec;

                vif->credit_left = vif->rate_bytes * (missed ? 2 : 1);
                vif->credit_next_us += (missed + 1) * vif->rate_usec;
        }
        if (len <= vif->credit_left) {
                vif->credit_left -= len;
                return true;
        }
        /* A packet larger than a whole window goes alone in a full window. */
        if (len > vif->rate_bytes && vif->credit_left >= vif->rate_bytes) {
                vif->credit_left = 0;
                return true;
        }
        if (!vif->rate_timer) {
                uint64_t ms = (vif->credit_next_us - now + 999) / 1000;

                if (bn_loop_timer_add(vif->ep->loop, ms ? ms : 1, 0, rate_timer_cb, vif,
                                      &vif->rate_timer) < 0)
                        vif->rate_timer = NULL;
        }
        return false;
}

static int parse_rate(const char *s, uint64_t *bytes, uint64_t *usec)
{
        char *end;
        unsigned long long b, u;

        errno = 0;
        b = strtoull(s, &end, 10);
        if (errno || end == s || *end != ',')
                return -EINVAL;
        s = end + 1;
        u = strtoull(s, &end, 10);
        if (errno || end == s || *end || u == 0 || b == 0 || u > 10000000ull)
                return -EINVAL;
        *bytes = b;
        *usec = u;
        return 0;
}

/* ---- event channel ---------------------------------------------------- */

static void evtchn_cb(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct bn_vif *vif = arg;
        bool tx[BN_VIF_MAX_QUEUES] = {false}, rx = false;
        unsigned i;
        int port;

        (void)loop;
        (void)fd;
        (void)events;
        while ((port = bn_evtchn_pending(vif->evt)) >= 0) {
                for (i = 0; i < vif->nq; i++) {
                        if ((uint32_t)port == vif->q[i].tx_port)
                                tx[i] = true;
                        if ((uint32_t)port == vif->q[i].rx_port)
                                rx = true; /* buffers posted: frames may wait */
                }
                bn_evtchn_unmask(vif->evt, (uint32_t)port);
        }
        for (i = 0; i < vif->nq && !vif->dead; i++)
                if (tx[i])
                        bn_vif_tx_work(&vif->q[i]);
        if (rx && vif->rxq_head && !vif->dead)
                bn_vif_rx_frames(vif, NULL, 0);
}

/* ---- xenbus ------------------------------------------------------------- */

static int vif_probe(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct bn_vif *vif = ep->priv;
        char buf[64];
        int rc;

        memset(vif, 0, sizeof(*vif));
        vif->dev = dev;
        vif->ep = ep;
        vif->name = ep->name;
        vif->evt_fd = -1;
        vif->fe_domid = bn_xb_dev_frontend_id(dev);
        vif->mtu = 1500;

        if (bn_xb_read_be(dev, "mac", vif->mac, sizeof(vif->mac)) < 0)
                snprintf(vif->mac, sizeof(vif->mac), "00:16:3e:00:00:00");
        /* The `mtu` key is the toolstack's until this back-end writes the
         * wire's MTU there (tell_mtu): the toolstack's is kept aside at the
         * first probe, so that a bananad started again (the journal's
         * restart) recomputes the MTU a wire gives instead of reading back
         * the one an earlier bananad told as if the toolstack had said it. */
        bool saved = bn_xb_read_be(dev, BN_VIF_TOOLSTACK_MTU, buf, sizeof(buf)) == 0;

        if (saved || bn_xb_read_be(dev, "mtu", buf, sizeof(buf)) == 0) {
                char *end;
                unsigned long m = strtoul(buf, &end, 10);

                if (*end || m < 68 || m > 65535 - 18)
                        bn_warn(ep->name, "ignoring bad mtu '%s' (68..65517)", buf);
                else
                        vif->mtu = (unsigned)m;
        }
        if (!saved && (rc = bn_xb_write(dev, BN_VIF_TOOLSTACK_MTU, "%u", vif->mtu)) < 0) {
                bn_err(ep->name, "cannot write %s: %s", BN_VIF_TOOLSTACK_MTU, strerror(-rc));
                return rc;
        }
        if (bn_xb_read_be(dev, "rate", buf, sizeof(buf)) == 0) {
                if (parse_rate(buf, &vif->rate_bytes, &vif->rate_usec) < 0) {
                        bn_warn(ep->name, "ignoring bad rate '%s' (want \"bytes,usec\")", buf);
                        vif->rate_bytes = vif->rate_usec = 0;
                } else {
                        bn_info(ep->name, "rate limit %" PRIu64 " bytes per %" PRIu64 " us",
                                vif->rate_bytes, vif->rate_usec);
                }
        }

        const struct {
                const char *key;
                unsigned val;
        } feat[] = {
            {"feature-rx-copy", 1},
            {"feature-rx-flip", 0},
            {"feature-sg", 1},
            {"feature-gso-tcpv4", 1},
            {"feature-gso-tcpv6", 1},
            {"feature-ipv6-csum-offload", 1},
            {"feature-rx-notify", 1},
            {"feature-split-event-channels", 1},
            {"multi-queue-max-queues", BN_VIF_MAX_QUEUES},
        };
        for (size_t k = 0; k < sizeof(feat) / sizeof(feat[0]); k++) {
                rc = bn_xb_write(dev, feat[k].key, "%u", feat[k].val);
                if (rc < 0) {
                        bn_err(ep->name, "cannot write %s: %s", feat[k].key, strerror(-rc));
                        return rc;
                }
        }
        /* xl waits for this (on a real host the hotplug script writes it). */
        bn_xb_write(dev, "hotplug-status", "connected");
        return 0;
}

static bool fe_flag(struct bn_xb_dev *dev, const char *key, bool def)
{
        uint64_t v;

        if (bn_xb_read_fe_uint(dev, key, 0, 1, def, &v) < 0)
                return def;
        return v != 0;
}

static int fe_has(struct bn_xb_dev *dev, int queue, const char *key)
{
        char path[64], buf[32];

        if (queue < 0)
                snprintf(path, sizeof(path), "%s", key);
        else
                snprintf(path, sizeof(path), "queue-%d/%s", queue, key);
        return bn_xb_read_fe(dev, path, buf, sizeof(buf)) == 0;
}

static void queue_release(struct bn_vif *vif, struct bn_vif_queue *q)
{
        if (q->tx_bound)
                bn_xb_unbind_evtchn(vif->dev, q->tx_port);
        if (q->rx_bound && (!q->tx_bound || q->rx_port != q->tx_port))
                bn_xb_unbind_evtchn(vif->dev, q->rx_port);
        q->tx_bound = q->rx_bound = false;
        if (q->tx_map.addr)
                bn_xb_unmap_ring(vif->dev, &q->tx_map);
        if (q->rx_map.addr)
                bn_xb_unmap_ring(vif->dev, &q->rx_map);
        q->tx_map.addr = q->rx_map.addr = NULL;
        bn_txq_fini(&q->txq); /* its messages point into txbuf */
        free(q->txbuf);
        q->txbuf = NULL;
}

static void release_all(struct bn_vif *vif)
{
        unsigned i;

        bn_vif_journal_close(vif);
        for (i = 0; vif->q && i < vif->nq; i++)
                queue_release(vif, &vif->q[i]);
        free(vif->q);
        vif->q = NULL;
        vif->nq = 0;
}

static int queue_setup(struct bn_vif *vif, unsigned idx)
{
        struct bn_vif_queue *q = &vif->q[idx];
        int qk = vif->nq == 1 ? -1 : (int)idx;
        int rc;

        q->vif = vif;
        q->idx = idx;
        q->txbuf = malloc(BN_VIF_TX_BUF);
        if (!q->txbuf)
                return -ENOMEM;
        rc = bn_xb_map_ring(vif->dev, qk, "tx-ring-ref", &q->tx_map);
        if (rc < 0)
                return rc;
        rc = bn_xb_map_ring(vif->dev, qk, "rx-ring-ref", &q->rx_map);
        if (rc < 0)
                return rc;
        BACK_RING_ATTACH(&q->tx, (netif_tx_sring_t *)q->tx_map.addr,
                         bn_xb_ring_resume_index(q->tx_map.addr),
                         (size_t)BN_PAGE_SIZE * q->tx_map.npages);
        BACK_RING_ATTACH(&q->rx, (netif_rx_sring_t *)q->rx_map.addr,
                         bn_xb_ring_resume_index(q->rx_map.addr),
                         (size_t)BN_PAGE_SIZE * q->rx_map.npages);

        if (fe_has(vif->dev, qk, "event-channel-tx")) {
                rc = bn_xb_bind_evtchn(vif->dev, qk, "event-channel-tx", &q->tx_port);
                if (rc < 0)
                        return rc;
                q->tx_bound = true;
                rc = bn_xb_bind_evtchn(vif->dev, qk, "event-channel-rx", &q->rx_port);
                if (rc < 0)
                        return rc;
                q->rx_bound = true;
                vif->split = true;
        } else {
                rc = bn_xb_bind_evtchn(vif->dev, qk, "event-channel", &q->tx_port);
                if (rc < 0)
                        return rc;
                q->tx_bound = true;
                q->rx_port = q->tx_port;
        }
        bn_vif_journal_recover(vif, q);
        return 0;
}

struct start_arg {
        struct bn_vif *vif;
        int rc;
};

static void start_on_loop(void *arg)
{
        struct start_arg *a = arg;
        struct bn_vif *vif = a->vif;
        unsigned i;

        vif->dead = false; /* loop state: set here, by its owner */
        a->rc = bn_loop_add_fd(vif->ep->loop, vif->evt_fd, EPOLLIN, evtchn_cb, vif);
        if (a->rc < 0)
                return;
        vif->running = true;
        /* The front-end may have queued packets before we listened. */
        for (i = 0; i < vif->nq && !vif->dead; i++)
                bn_vif_tx_work(&vif->q[i]);
}

static void stop_on_loop(void *arg)
{
        struct bn_vif *vif = arg;

        if (vif->running && !vif->dead)
                bn_loop_del_fd(vif->ep->loop, vif->evt_fd);
        if (vif->rate_timer)
                bn_loop_timer_cancel(vif->ep->loop, vif->rate_timer);
        vif->rate_timer = NULL;
        vif->running = false;
        bn_vif_rx_purge(vif);
}

static int vif_connect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct bn_vif *vif = ep->priv;
        struct start_arg sa = {.vif = vif};
        uint64_t v;
        unsigned nq, i;
        int rc;

        rc = bn_xb_read_fe_uint(dev, "request-rx-copy", 0, 1, 0, &v);
        if (rc < 0 || v != 1) {
                bn_xb_fatal(dev, -EOPNOTSUPP,
                            "front-end must request rx-copy (request-rx-copy = 1)");
                return -EOPNOTSUPP;
        }
        vif->fe_sg = fe_flag(dev, "feature-sg", false);
        vif->fe_gso4 = fe_flag(dev, "feature-gso-tcpv4", false);
        vif->fe_gso6 = fe_flag(dev, "feature-gso-tcpv6", false);
        vif->fe_csum4 = !fe_flag(dev, "feature-no-csum-offload", false);
        vif->fe_csum6 = fe_flag(dev, "feature-ipv6-csum-offload", false);
        /* feature-rx-notify: we never hold frames for later, so it is not
         * needed; read for the log only. */
        bool rx_notify = fe_flag(dev, "feature-rx-notify", false);

        memset(&vif->lim, 0, sizeof(vif->lim));
        vif->lim.max_len = XEN_NETIF_MAX_TX_SIZE;

        rc = bn_xb_num_queues(dev, &nq);
        if (rc < 0) {
                bn_xb_fatal(dev, rc, "bad multi-queue-num-queues (1..%u)", BN_VIF_MAX_QUEUES);
                return rc;
        }
        vif->q = calloc(nq, sizeof(*vif->q));
        if (!vif->q) {
                rc = -ENOMEM;
                goto out;
        }
        vif->nq = nq;
        vif->split = false;
        bn_vif_journal_open(vif);
        for (i = 0; i < nq; i++) {
                rc = queue_setup(vif, i);
                if (rc < 0)
                        goto out;
        }
        vif->gnt = bn_xb_dev_gnt(dev);
        vif->evt = bn_xb_dev_evtchn(dev);
        vif->evt_fd = bn_evtchn_fd(vif->evt);
        vif->credit_left = vif->rate_bytes;
        vif->credit_next_us = 0;

        rc = bn_loop_call_wait(ep->loop, start_on_loop, &sa);
        if (rc == 0)
                rc = sa.rc;
        if (rc < 0) {
                bn_err(ep->name, "cannot start ring work: %s", strerror(-rc));
                goto out;
        }
        bn_info(ep->name,
                "connected: %u queue(s)%s, mac %s, mtu %u, sg %d, gso v4 %d v6 %d, csum v4 %d "
                "v6 %d, rx-notify %d",
                nq, vif->split ? " split event channels" : "", vif->mac, vif->mtu, vif->fe_sg,
                vif->fe_gso4, vif->fe_gso6, vif->fe_csum4, vif->fe_csum6, rx_notify);
        rc = 0;
out:
        if (rc < 0)
                release_all(vif);
        return rc;
}

static void vif_disconnect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct bn_vif *vif = ep->priv;

        (void)dev;
        bn_loop_call_wait(ep->loop, stop_on_loop, vif);
        bn_info(ep->name,
                "disconnected: tx %" PRIu64 " pkts %" PRIu64 " bytes (%" PRIu64 " errors, %" PRIu64
                " dropped); rx %" PRIu64 " pkts %" PRIu64 " bytes (%" PRIu64
                " dropped without buffers, %" PRIu64 " bad)",
                atomic_load(&vif->st.tx_pkts), atomic_load(&vif->st.tx_bytes),
                atomic_load(&vif->st.tx_err), atomic_load(&vif->st.tx_drop),
                atomic_load(&vif->st.rx_pkts), atomic_load(&vif->st.rx_bytes),
                atomic_load(&vif->st.rx_drop_nobuf), atomic_load(&vif->st.rx_drop_bad));
        release_all(vif);
}

static void vif_remove(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct bn_vif *vif = ep->priv;

        (void)dev;
        release_all(vif);
}

/* ---- wire ports: Spike, or the bridge Corm (corm_bridge.c) ------------- */

/* A Spike's new wire (a swap, or one replacing a wire whose peer died):
 * announce the guest's MAC with a RARP from it, as a migrated guest is
 * announced, so that the bridge at the other end forwards to the new wire
 * at once (not flooding both wires' ports, nor the old one until the guest
 * speaks). Best effort: a refused announcement is not retried. */
static void announce(struct bn_vif *vif)
{
        uint8_t f[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        static const uint8_t rarp[10] = {0x80, 0x35, 0, 1, 0x08, 0, 6, 4, 0, 3};
        struct bn_wire_msg m = {.type = BN_MSG_NET_FRAME, .hdr_len = 10, .len = sizeof(f)};

        if (!vif->running || !vif->guest_mac_known)
                return;
        memcpy(f + 6, vif->guest_mac, 6);
        memcpy(f + 12, rarp, sizeof(rarp));
        memcpy(f + 22, vif->guest_mac, 6); /* sender: the guest, address 0 */
        memcpy(f + 32, vif->guest_mac, 6); /* target: the guest */
        m.data = f;
        if (bn_endpoint_send(vif->ep, &m, 1) == 1)
                bn_debug(vif->name, "announced the guest's MAC on the new wire");
}

/* The guest learns its wire's MTU as Linux's netfront learns it: from the
 * back-end's `mtu` key, which says the smaller of the toolstack's MTU and
 * the wire's (docs/wires.md). A frame the guest sends over the wire's MTU
 * anyway is the wire's drop_too_big. On ep->loop; the write is queued to
 * the main thread, which owns xenstore. */
static void tell_mtu(struct bn_vif *vif, const struct bn_wire_link *link)
{
        unsigned m = vif->mtu;

        if (link->mtu && link->mtu < m)
                m = link->mtu;
        if (m == vif->mtu_told)
                return;
        vif->mtu_told = m;
        bn_info(vif->name, "the guest's MTU is %u (%s)", m,
                m < vif->mtu ? "the wire's" : "the toolstack's");
        bn_xb_write_async(vif->dev, "mtu", "%u", m);
}

static int vif_port_attach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        if (ep->kind == BN_EP_CORM)
                return bn_net_corm_bridge_port_attach(ep, port);
        announce(ep->priv);
        tell_mtu(ep->priv, &port->link);
        return 0;
}

static void vif_port_detach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        if (ep->kind == BN_EP_CORM)
                bn_net_corm_bridge_port_detach(ep, port);
}

static void vif_port_link(struct bn_endpoint *ep, struct bn_wire_port *port,
                          const struct bn_wire_link *link)
{
        if (ep->kind == BN_EP_CORM)
                bn_net_corm_bridge_port_link(ep, port, link);
        else if (link->up)
                tell_mtu(ep->priv, link);
}

static void vif_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port, struct bn_wire_msg *msgs,
                        unsigned n)
{
        if (ep->kind == BN_EP_CORM) {
                bn_net_corm_bridge_port_rx(ep, port, msgs, n);
                return;
        }
        bn_vif_rx_frames(ep->priv, msgs, n);
}

static void vif_port_writable(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct bn_vif *vif = ep->priv;
        unsigned i;

        if (ep->kind == BN_EP_CORM) {
                bn_net_corm_bridge_port_writable(ep, port);
                return;
        }
        if (!vif->running)
                return;
        for (i = 0; i < vif->nq && !vif->dead; i++)
                bn_vif_tx_work(&vif->q[i]);
}

const struct bn_devclass bn_vif_class = {
    .name = "vif",
    .backend_types = {"vif", NULL},
    .max_ring_page_order = 0,
    .max_queues = BN_VIF_MAX_QUEUES,
    /* frames may be lost or reordered (TCP copes); the MTU is the wire's */
    .wire_needs = {.ordered = false, .reliable = false},
    .wire_version = 1,
    .spike_priv_size = sizeof(struct bn_vif),
    .corm_priv_size = BN_NET_CORM_BRIDGE_PRIV_SIZE,
    .probe = vif_probe,
    .connect = vif_connect,
    .disconnect = vif_disconnect,
    .remove = vif_remove,
    .corm_open = bn_net_corm_bridge_open,
    .corm_check = bn_net_corm_bridge_check,
    .corm_close = bn_net_corm_bridge_close,
    .port_attach = vif_port_attach,
    .port_detach = vif_port_detach,
    .port_rx = vif_port_rx,
    .port_writable = vif_port_writable,
    .port_link = vif_port_link,
};
