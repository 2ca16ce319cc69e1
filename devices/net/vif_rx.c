/* vif_rx.c: guest RX of the vif Spike: frames from the wire go into the
 * pages the guest posted on its RX ring, by grant copy in batches. A frame
 * takes one slot per 4 KiB of data plus one for the GSO extra info (which
 * sits in the slot after the first, as netfront expects); the first
 * response carries NETRXF_* flags. A frame the guest has no posted buffers
 * for waits, copied, in a bounded FIFO until the guest posts more (its RX
 * kick, asked for with req_event); when the FIFO is full it is dropped and
 * counted. Runs on ep->loop (port_rx, the event channel).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bn_endpoint.h"
#include "bn_log.h"
#include "vif_hdr.h"
#include "vif_int.h"

static unsigned pick_queue(struct bn_vif *vif, const uint8_t *f, uint32_t len)
{
        /* addresses and ports: a flow stays on one queue */
        return vif->nq == 1 ? 0 : bn_net_flow_hash(f, len) % vif->nq;
}

static void flush(struct bn_vif *vif)
{
        bool notify_q[BN_VIF_MAX_QUEUES] = {false};
        unsigned i, j, k;
        int rc;

        if (!vif->nrxf)
                return;
        if (vif->nrxsegs) {
                rc = bn_gnt_copy(vif->gnt, vif->nrxsegs, vif->rxsegs);
                if (rc < 0) {
                        bn_warn(vif->name, "rx grant copy of %u segments failed: %s", vif->nrxsegs,
                                strerror(-rc));
                        for (k = 0; k < vif->nrxsegs; k++)
                                vif->rxsegs[k].status = BN_GNTST_GENERAL_ERROR;
                }
        }
        for (i = 0; i < vif->nrxf; i++) {
                struct bn_vif_rxf *f = &vif->rxf[i];
                struct bn_vif_queue *q = f->q;
                uint32_t idx = f->rsp_idx, off = 0;
                int16_t err = 0;

                for (k = 0; k < f->nfrag; k++) {
                        int16_t s = vif->rxsegs[f->seg0 + k].status;

                        if (s == BN_GNTST_OKAY)
                                continue;
                        err = NETIF_RSP_ERROR;
                        if ((s == BN_GNTST_BAD_GNTREF || s == BN_GNTST_PERMISSION_DENIED) &&
                            !vif->dead)
                                bn_vif_fatal(vif, -EPERM,
                                             "rx: grant copy into ref %u failed with status %d",
                                             vif->rxsegs[f->seg0 + k].dest.foreign.ref, s);
                }
                if (err)
                        atomic_fetch_add(&vif->st.rx_drop_bad, 1);
                else {
                        atomic_fetch_add(&vif->st.rx_pkts, 1);
                        atomic_fetch_add(&vif->st.rx_bytes, f->len);
                }
                /* slot layout: data0 [gso extra] data1 .. dataN-1 (the extra
                 * slot is written also when data0 is the only data slot) */
                uint32_t nslots = f->nfrag + (f->gso_type != XEN_NETIF_GSO_TYPE_NONE);

                for (j = 0, k = 0; j < nslots; j++) {
                        if (j == 1 && f->gso_type != XEN_NETIF_GSO_TYPE_NONE) {
                                struct netif_extra_info e;

                                memset(&e, 0, sizeof(e));
                                e.type = XEN_NETIF_EXTRA_TYPE_GSO;
                                e.u.gso.type = f->gso_type;
                                e.u.gso.size = f->gso_size;
                                bn_vif_put_rx(q, idx + j, &e, sizeof(e));
                                continue;
                        }
                        netif_rx_response_t r = {.id = f->ids[j]};
                        uint32_t fl = f->len - off < BN_PAGE_SIZE ? f->len - off : BN_PAGE_SIZE;

                        if (k == 0) {
                                r.flags = f->rx_flags;
                                if (f->gso_type != XEN_NETIF_GSO_TYPE_NONE)
                                        r.flags |= NETRXF_extra_info;
                        }
                        if (k + 1 < f->nfrag)
                                r.flags |= NETRXF_more_data;
                        r.status = err ? err : (int16_t)fl;
                        bn_vif_put_rx(q, idx + j, &r, sizeof(r));
                        off += fl;
                        k++;
                }
                q->rx.rsp_prod_pvt = idx + j;
                notify_q[q->idx] = true;
        }
        for (i = 0; i < vif->nq; i++) {
                int notify;

                if (!notify_q[i])
                        continue;
                RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&vif->q[i].rx, notify);
                if (notify)
                        bn_evtchn_notify(vif->evt, vif->q[i].rx_port);
        }
        vif->nrxf = 0;
        vif->nrxsegs = 0;
}

/* Queue one frame for the batch: 1 placed, 0 no RX buffers for it now
 * (nothing counted), -1 dropped (counted) or fatal. */
static int place(struct bn_vif *vif, struct bn_wire_msg *m)
{
        struct virtio_net_hdr vh;
        struct bn_vif_queue *q;
        struct bn_vif_rxf *f;
        uint16_t rx_flags, gso_size;
        uint8_t gso_type;
        uint32_t nfrag, need, j, k;
        RING_IDX prod;
        int avail;

        if (m->type != BN_MSG_NET_FRAME || m->len < BN_NET_ETH_HLEN ||
            m->len > XEN_NETIF_MAX_TX_SIZE)
                goto bad;
        memset(&vh, 0, sizeof(vh));
        if (m->hdr_len >= sizeof(vh))
                memcpy(&vh, m->hdr, sizeof(vh));
        if (bn_net_netif_from_vnet(&vh, &rx_flags, &gso_type, &gso_size) < 0)
                goto bad;
        if ((gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && !vif->fe_gso4) ||
            (gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && !vif->fe_gso6))
                goto bad; /* no software segmentation here: the Corm does it */
        if (rx_flags & NETRXF_csum_blank) {
                struct bn_net_l4 l4;
                bool ok = bn_net_l4_locate(m->data, m->len, &l4) == 0 &&
                          (l4.ipv6 ? vif->fe_csum6 : vif->fe_csum4);

                if (!ok) {
                        if (bn_net_csum_complete(m->data, m->len, vh.csum_start, vh.csum_offset) <
                            0)
                                goto bad;
                        rx_flags = NETRXF_data_validated;
                }
        }
        nfrag = (m->len + BN_PAGE_SIZE - 1) / BN_PAGE_SIZE;
        if (nfrag > 1 && !vif->fe_sg)
                goto bad;
        need = nfrag + (gso_type != XEN_NETIF_GSO_TYPE_NONE);
        if (vif->nrxsegs + nfrag > BN_VIF_RX_SEGS)
                flush(vif);

        q = &vif->q[pick_queue(vif, m->data, m->len)];
        prod = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_ACQUIRE);
        avail = bn_net_ring_pending(prod, q->rx.req_cons, RING_SIZE(&q->rx));
        if (avail < 0) {
                bn_vif_fatal(vif, -EPROTO,
                             "rx ring of queue %u: req_prod %u is past req_cons %u by more "
                             "than the %u slots of the ring",
                             q->idx, prod, q->rx.req_cons, RING_SIZE(&q->rx));
                return -1;
        }
        if ((uint32_t)avail < need)
                return 0;
        f = &vif->rxf[vif->nrxf];
        f->q = q;
        f->rsp_idx = q->rx.req_cons;
        f->nfrag = (uint16_t)nfrag;
        f->rx_flags = rx_flags;
        f->gso_type = gso_type;
        f->gso_size = gso_size;
        f->len = m->len;
        f->seg0 = vif->nrxsegs;
        for (j = 0, k = 0; j < need; j++) {
                netif_rx_request_t req;

                memcpy(&req, RING_GET_REQUEST(&q->rx, q->rx.req_cons + j), sizeof(req));
                f->ids[j] = req.id;
                if (j == 1 && gso_type != XEN_NETIF_GSO_TYPE_NONE)
                        continue; /* this slot carries the extra info */
                if (bn_net_rx_gref_ok(req.gref, &vif->lim) < 0) {
                        bn_vif_fatal(vif, -EPROTO, "rx ring of queue %u, slot %u: bad grant ref %u",
                                     q->idx, q->rx.req_cons + j, req.gref);
                        return -1;
                }
                struct bn_gnt_copy_seg *s = &vif->rxsegs[vif->nrxsegs++];
                uint32_t off = k * BN_PAGE_SIZE;

                memset(s, 0, sizeof(*s));
                s->source.virt = (uint8_t *)m->data + off;
                s->dest.foreign.ref = req.gref;
                s->dest.foreign.offset = 0;
                s->dest.foreign.domid = (uint16_t)vif->fe_domid;
                s->len = (uint16_t)(m->len - off < BN_PAGE_SIZE ? m->len - off : BN_PAGE_SIZE);
                s->flags = BN_GNTCOPY_DEST_GREF;
                k++;
        }
        q->rx.req_cons += need;
        vif->nrxf++;
        if (vif->nrxf == BN_VIF_RX_BATCH)
                flush(vif);
        return 1;
bad:
        atomic_fetch_add(&vif->st.rx_drop_bad, 1);
        atomic_fetch_add(&vif->ep->counters.drops, 1);
        return -1;
}

static void free_list(struct bn_vif_rxq_ent *e)
{
        while (e) {
                struct bn_vif_rxq_ent *n = e->next;

                free(e);
                e = n;
        }
}

void bn_vif_rx_purge(struct bn_vif *vif)
{
        free_list(vif->rxq_head);
        free_list(vif->rxq_done);
        vif->rxq_head = vif->rxq_tail = vif->rxq_done = NULL;
        vif->rxq_n = 0;
        vif->rxq_bytes = 0;
}

/* Hold a copy of m until the guest posts buffers; false when full. */
static bool enqueue(struct bn_vif *vif, const struct bn_wire_msg *m)
{
        struct bn_vif_rxq_ent *e;

        if (vif->rxq_n >= BN_VIF_RXQ_FRAMES || vif->rxq_bytes + m->len > BN_VIF_RXQ_BYTES ||
            m->len > XEN_NETIF_MAX_TX_SIZE)
                return false;
        e = malloc(sizeof(*e) + m->len);
        if (!e)
                return false;
        e->next = NULL;
        e->m = *m;
        memcpy(e->data, m->data, m->len);
        e->m.data = e->data;
        if (vif->rxq_tail)
                vif->rxq_tail->next = e;
        else
                vif->rxq_head = e;
        vif->rxq_tail = e;
        vif->rxq_n++;
        vif->rxq_bytes += m->len;
        return true;
}

/* Place queued frames while the guest has buffers; true when none is left. */
static bool drain(struct bn_vif *vif)
{
        while (vif->rxq_head && !vif->dead) {
                struct bn_vif_rxq_ent *e = vif->rxq_head;
                int r = place(vif, &e->m);

                if (r == 0)
                        return false;
                vif->rxq_head = e->next;
                if (!vif->rxq_head)
                        vif->rxq_tail = NULL;
                vif->rxq_n--;
                vif->rxq_bytes -= e->m.len;
                e->next = vif->rxq_done; /* its data is read by the batch's copy */
                vif->rxq_done = e;
        }
        return vif->rxq_head == NULL;
}

/* Ask the guest to kick us when it posts RX buffers; true if it already did
 * in the meantime (look again). */
static bool arm_rx(struct bn_vif *vif)
{
        bool again = false;
        unsigned i;
        int more;

        for (i = 0; i < vif->nq; i++) {
                RING_FINAL_CHECK_FOR_REQUESTS(&vif->q[i].rx, more);
                if (more)
                        again = true;
        }
        return again;
}

void bn_vif_rx_frames(struct bn_vif *vif, struct bn_wire_msg *msgs, unsigned n)
{
        unsigned i, tries;

        if (!vif->running || vif->dead) {
                atomic_fetch_add(&vif->ep->counters.drops, n);
                return;
        }
        drain(vif);
        for (i = 0; i < n && !vif->dead; i++) {
                if (!vif->rxq_head && place(vif, &msgs[i]) != 0)
                        continue;
                if (!enqueue(vif, &msgs[i])) {
                        if (!atomic_load(&vif->st.rx_drop_nobuf))
                                bn_warn(vif->name,
                                        "rx: the guest posts no buffers and %u frames (%zu "
                                        "bytes) wait: dropping (counted from now on)",
                                        vif->rxq_n, vif->rxq_bytes);
                        atomic_fetch_add(&vif->st.rx_drop_nobuf, 1);
                        atomic_fetch_add(&vif->ep->counters.drops, 1);
                }
        }
        /* Frames wait: have the guest kick us when it posts buffers, and
         * look once more in case it did just now. */
        for (tries = 0; tries < 4 && vif->rxq_head && !vif->dead && arm_rx(vif); tries++)
                drain(vif);
        flush(vif);
        free_list(vif->rxq_done);
        vif->rxq_done = NULL;
}
