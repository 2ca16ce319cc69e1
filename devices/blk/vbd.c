/* vbd.c: the "vbd" device class (back-end types "vbd" and "vbd3"): the
 * xenbus side of the vbd Spike (feature keys, ring and event-channel set-up
 * per queue, the disk's size and read-only flag as the Corm reports them,
 * growth announced to the front-end as blkback does) and the class table.
 *
 * Feature keys written at probe: feature-flush-cache=1, feature-discard=1
 * (discard-granularity 4096, discard-alignment 0, discard-secure 0),
 * feature-max-indirect-segments=256, max-ring-page-order=4,
 * multi-queue-max-queues=4, feature-persistent=1 (vbd_pgrant.c: grants of
 * a front-end that asks are mapped once and reused, bounded, idle ones
 * unmapped; otherwise data moves by grant copy). feature-barrier is NOT advertised: barriers are
 * deprecated in blkif.h and a WRITE_BARRIER request is answered
 * BLKIF_RSP_EOPNOTSUPP. sectors / info / sector-size /
 * physical-sector-size are written at connect from the Corm's INFO (0
 * sectors until the disk is known) and rewritten when the disk grows,
 * followed by a rewrite of state=Connected so that the front-end re-reads
 * them (what Linux blkback's xen_vbd_resize does). */
#include "vbd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

void vbd_geom_fill(const struct vbd *v, struct bn_blk_geom *g)
{
        memset(g, 0, sizeof(*g));
        g->sectors = atomic_load(&v->size) >> BN_BLK_SECTOR_SHIFT;
        g->max_indirect_segs = VBD_MAX_INDIRECT;
        g->readonly = v->mode_ro || atomic_load(&v->corm_ro);
        g->flush = true;
        g->barrier = false;
        g->discard = true;
        g->discard_secure = false;
}

void vbd_geom_update(struct vbd *v)
{
        vbd_geom_fill(v, &v->geom);
}

/* ep->loop: write the size keys with our own xenstore connection, then
 * state=Connected again when it is Connected (blkfront re-reads). */
void vbd_info_changed(struct vbd *v)
{
        char path[300], val[32];
        unsigned len;
        int tries;

        vbd_geom_update(v);
        if (!v->xs)
                return;
        for (tries = 0; tries < 10; tries++) {
                xs_transaction_t t = xs_transaction_start(v->xs);
                char *st;
                int n;

                if (t == XBT_NULL)
                        return;
                snprintf(path, sizeof(path), "%s/state", v->be_path);
                st = xs_read(v->xs, t, path, &len);
                n = snprintf(val, sizeof(val), "%" PRIu64, v->geom.sectors);
                snprintf(path, sizeof(path), "%s/sectors", v->be_path);
                xs_write(v->xs, t, path, val, (unsigned)n);
                n = snprintf(val, sizeof(val), "%u", v->geom.readonly ? VDISK_READONLY : 0);
                snprintf(path, sizeof(path), "%s/info", v->be_path);
                xs_write(v->xs, t, path, val, (unsigned)n);
                if (st && strcmp(st, "4") == 0) {
                        snprintf(path, sizeof(path), "%s/state", v->be_path);
                        xs_write(v->xs, t, path, "4", 1);
                }
                free(st);
                if (xs_transaction_end(v->xs, t, false))
                        break;
                if (errno != EAGAIN)
                        break;
        }
        bn_info(v->ep->name, "disk of %" PRIu64 " sectors%s", v->geom.sectors,
                v->geom.readonly ? ", read-only" : "");
}

static void vbd_remove(struct bn_xb_dev *dev, struct bn_endpoint *ep);

static int vbd_probe(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct vbd *v = ep->priv;
        char mode[8];
        int rc = 0;

        v->dev = dev;
        v->ep = ep;
        snprintf(v->be_path, sizeof(v->be_path), "%s", bn_xb_dev_backend_path(dev));
        v->mode_ro = bn_xb_read_be(dev, "mode", mode, sizeof(mode)) == 0 && mode[0] == 'r';
        v->indirect_pages = aligned_alloc(BN_PAGE_SIZE, BN_PAGE_SIZE * BN_BLK_INDIRECT_PAGES_MAX);
        if (!v->indirect_pages) {
                rc = -ENOMEM;
                goto out;
        }
        v->xs = bn_hv_xs_open(bn_xb_dev_hv(dev));
        if (!v->xs) {
                rc = errno ? -errno : -EIO;
                bn_err(ep->name, "cannot open a xenstore connection: %s", strerror(-rc));
                goto out;
        }
        rc |= bn_xb_write(dev, "feature-flush-cache", "1");
        rc |= bn_xb_write(dev, "feature-discard", "1");
        rc |= bn_xb_write(dev, "discard-granularity", "4096");
        rc |= bn_xb_write(dev, "discard-alignment", "0");
        rc |= bn_xb_write(dev, "discard-secure", "0");
        rc |= bn_xb_write(dev, "feature-max-indirect-segments", "%u", VBD_MAX_INDIRECT);
        rc |= bn_xb_write(dev, "max-ring-page-order", "%u", VBD_MAX_RING_ORDER);
        rc |= bn_xb_write(dev, "multi-queue-max-queues", "%u", VBD_MAX_QUEUES);
        rc |= bn_xb_write(dev, "feature-persistent", "1");
        if (rc)
                rc = -EIO;
out:
        if (rc) /* remove is not called after a failed probe */
                vbd_remove(dev, ep);
        return rc;
}

static void undo_queues(struct vbd *v)
{
        for (unsigned i = 0; i < VBD_MAX_QUEUES; i++) {
                struct vbd_queue *q = &v->q[i];

                if (q->bound)
                        bn_xb_unbind_evtchn(v->dev, q->port);
                q->bound = false;
                if (q->mapped)
                        bn_xb_unmap_ring(v->dev, &q->ring);
                q->mapped = false;
                vbd_io_queue_fini(q);
        }
        v->nq = 0;
        vbd_journal_close(v);
}

/* A disk's Spike is named by its vdev ("xvda"), from the "dev" key the
 * toolstack writes in the back-end directory (libxl does); lower-case
 * letters then digits only, else the default name. */
static int vbd_spike_name(struct bn_xb_dev *dev, char *buf, size_t len)
{
        char v[32];
        size_t i = 0;

        if (bn_xb_read_be(dev, "dev", v, sizeof(v)) < 0 || len < sizeof(v))
                return -ENOENT;
        while (v[i] >= 'a' && v[i] <= 'z')
                i++;
        if (i == 0)
                return -EINVAL;
        while (v[i] >= '0' && v[i] <= '9')
                i++;
        if (v[i])
                return -EINVAL;
        snprintf(buf, len, "%s", v);
        return 0;
}

/* Main thread. The rings are mapped and the queues set up here while the
 * loop does not look at them (v->polling is false: port callbacks leave
 * them alone); vbd_io_start, in one call on ep->loop, hands them over. */
static int vbd_connect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct vbd *v = ep->priv;
        struct bn_blk_geom geom;
        char proto[64];
        unsigned nq;
        int rc;

        rc = bn_xb_read_fe(dev, "protocol", proto, sizeof(proto));
        if (rc == 0 && bn_blk_protocol_check(proto) < 0) {
                bn_xb_fatal(dev, EPROTONOSUPPORT, "protocol '%s' is not served (only native)",
                            proto);
                return -EPROTONOSUPPORT;
        }
        rc = bn_xb_num_queues(dev, &nq);
        if (rc) {
                bn_xb_fatal(dev, rc, "bad multi-queue-num-queues");
                return rc;
        }
        v->gnt = bn_xb_dev_gnt(dev);
        v->evtchn = bn_xb_dev_evtchn(dev);
        v->fe_domid = bn_xb_dev_frontend_id(dev);
        {
                uint64_t pers = 0;
                bn_xb_read_fe_uint(dev, "feature-persistent", 0, 1, 0, &pers);
                v->persistent = pers == 1;
        }
        v->nq_want = nq;
        vbd_journal_open(v);
        for (unsigned i = 0; i < nq; i++) {
                struct vbd_queue *q = &v->q[i];
                int qi = nq > 1 ? (int)i : -1;

                q->v = v;
                q->idx = i;
                rc = bn_xb_map_ring(dev, qi, "ring-ref", &q->ring);
                if (rc)
                        goto fail;
                q->mapped = true;
                rc = bn_xb_bind_evtchn(dev, qi, "event-channel", &q->port);
                if (rc)
                        goto fail;
                q->bound = true;
                BACK_RING_ATTACH(&q->back, (blkif_sring_t *)q->ring.addr,
                                 bn_xb_ring_resume_index(q->ring.addr),
                                 BN_PAGE_SIZE * q->ring.npages);
                rc = vbd_io_queue_init(q);
                if (rc) {
                        bn_xb_fatal(dev, rc, "cannot allocate queue %u", i);
                        goto fail;
                }
                vbd_journal_recover(v, q);
        }
        v->nq = nq;
        vbd_geom_fill(v, &geom);
        /* Until the Corm's INFO arrives the size is unknown (0). A disk
         * re-attached after a bananad restart keeps the size it had, so the
         * connected guest never sees a zero-sized disk; INFO rewrites it. */
        char had[32];
        rc = 0;
        if (geom.sectors || bn_xb_read_be(dev, "sectors", had, sizeof(had)) < 0) {
                rc |= bn_xb_write(dev, "sectors", "%" PRIu64, geom.sectors);
                rc |= bn_xb_write(dev, "info", "%u", geom.readonly ? VDISK_READONLY : 0);
        }
        rc |= bn_xb_write(dev, "sector-size", "512");
        rc |= bn_xb_write(dev, "physical-sector-size", "512");
        if (rc) {
                rc = -EIO;
                goto fail;
        }
        rc = bn_loop_call_wait(ep->loop, vbd_io_start, v);
        if (rc || !v->polling) {
                rc = rc ? rc : -EIO;
                goto fail;
        }
        bn_info(ep->name,
                "vbd serving %u queue(s), ring of %u page(s), %" PRIu64
                " sectors%s, persistent grants %s",
                nq, v->q[0].ring.npages, geom.sectors, geom.readonly ? ", read-only" : "",
                v->persistent ? "on" : "off");
        return 0;
fail:
        undo_queues(v);
        return rc;
}

static void vbd_disconnect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct vbd *v = ep->priv;
        (void)dev;

        bn_loop_call_wait(ep->loop, vbd_io_stop, v);
        undo_queues(v);
        bn_info(ep->name, "vbd stopped after %" PRIu64 " request(s), %" PRIu64 " error(s)",
                v->served, v->errors);
}

/* On ep->loop, its owner: the xenstore handle vbd_info_changed uses and the
 * buffers of the I/O path. The framework closed the Spike's port before
 * remove, and disconnect stopped the I/O, so no callback uses them after. */
static void vbd_remove_on_loop(void *arg)
{
        struct vbd *v = arg;

        if (v->xs)
                xs_close(v->xs);
        v->xs = NULL;
        free(v->indirect_pages);
        v->indirect_pages = NULL;
        bn_txq_fini(&v->txq);
}

static void vbd_remove(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct vbd *v = ep->priv;
        (void)dev;

        bn_loop_call_wait(ep->loop, vbd_remove_on_loop, v);
        v->dev = NULL;
}

/* ---- wire ports: Spike or Corm ---------------------------------------- */

static int vbd_port_attach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        if (ep->kind == BN_EP_CORM)
                return vbd_corm_port_attach(ep, port);
        return vbd_spike_port_attach(ep->priv, port);
}

static void vbd_port_detach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        if (ep->kind == BN_EP_CORM)
                vbd_corm_port_detach(ep, port);
        else
                vbd_spike_port_detach(ep->priv, port);
}

static void vbd_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port, struct bn_wire_msg *msgs,
                        unsigned n)
{
        if (ep->kind == BN_EP_CORM)
                vbd_corm_port_rx(ep, port, msgs, n);
        else
                vbd_spike_port_rx(ep->priv, msgs, n);
}

static void vbd_port_writable(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        if (ep->kind == BN_EP_CORM)
                vbd_corm_port_writable(ep, port);
        else
                vbd_spike_port_writable(ep->priv);
}

static void vbd_port_ctl(struct bn_endpoint *ep, struct bn_wire_port *port, uint16_t type)
{
        if (ep->kind == BN_EP_CORM)
                vbd_corm_port_ctl(ep, port, type);
}

static unsigned vbd_port_inflight(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        (void)port; /* a Spike's requests are on its one class-attached port */
        return ep->kind == BN_EP_SPIKE ? vbd_spike_inflight(ep->priv) : 0;
}

const struct bn_devclass bn_vbd_class = {
    .name = "vbd",
    .backend_types = {"vbd", "vbd3", NULL},
    .max_ring_page_order = VBD_MAX_RING_ORDER,
    .max_queues = VBD_MAX_QUEUES,
    /* a lost or reordered write is a corrupt disk */
    .wire_needs = {.ordered = true, .reliable = true},
    .wire_version = 1,
    .corm_colocate = true,
    .spike_priv_size = sizeof(struct vbd),
    .corm_priv_size = sizeof(struct vbd_corm),
    .spike_name = vbd_spike_name,
    .probe = vbd_probe,
    .connect = vbd_connect,
    .disconnect = vbd_disconnect,
    .remove = vbd_remove,
    .corm_open = vbd_corm_open,
    .corm_check = vbd_corm_check,
    .corm_mirror = vbd_corm_mirror,
    .corm_close = vbd_corm_close,
    .port_attach = vbd_port_attach,
    .port_detach = vbd_port_detach,
    .port_rx = vbd_port_rx,
    .port_writable = vbd_port_writable,
    .port_ctl = vbd_port_ctl,
    .port_inflight = vbd_port_inflight,
};
