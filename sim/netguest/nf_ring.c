/* nf_ring.c: the netfront side of sim-netguest's rings: grant the ring and
 * buffer pages, post RX buffers, put frames on the TX ring (first slot with
 * the whole size, GSO extra, more_data fragments), reap TX responses and
 * reassemble RX frames (extra info in the slot after the first). RX buffer
 * i is always posted at ring index i mod ring size, so a response's slot
 * says which page holds its data (as Linux netfront does).
 */
#include <errno.h>
#include <string.h>

#include "devices/net/vif_hdr.h"
#include "netguest.h"

int ng_queue_init(struct ng *ng, struct ng_queue *q, unsigned idx)
{
        netif_tx_sring_t *txs;
        netif_rx_sring_t *rxs;
        unsigned i;
        int rc;

        q->ng = ng;
        q->idx = idx;
        if ((rc = bn_guest_alloc_pages(ng->g, 1, &q->tx_ring_pfn)) < 0 ||
            (rc = bn_guest_alloc_pages(ng->g, 1, &q->rx_ring_pfn)) < 0 ||
            (rc = bn_guest_alloc_pages(ng->g, NG_RING, &q->tx_buf_pfn)) < 0 ||
            (rc = bn_guest_alloc_pages(ng->g, NG_RING, &q->rx_buf_pfn)) < 0)
                return rc;
        txs = bn_guest_page(ng->g, q->tx_ring_pfn);
        rxs = bn_guest_page(ng->g, q->rx_ring_pfn);
        SHARED_RING_INIT(txs);
        FRONT_RING_INIT(&q->tx, txs, BN_PAGE_SIZE);
        SHARED_RING_INIT(rxs);
        FRONT_RING_INIT(&q->rx, rxs, BN_PAGE_SIZE);
        if ((rc = q->tx_ring_ref = bn_guest_grant(ng->g, q->tx_ring_pfn, ng->fe.be_domid, 0)) < 0 ||
            (rc = q->rx_ring_ref = bn_guest_grant(ng->g, q->rx_ring_pfn, ng->fe.be_domid, 0)) < 0)
                return rc;
        for (i = 0; i < NG_RING; i++) {
                rc = bn_guest_grant(ng->g, q->tx_buf_pfn + i, ng->fe.be_domid, 1);
                if (rc < 0)
                        return rc;
                q->tx_gref[i] = (uint32_t)rc;
                rc = bn_guest_grant(ng->g, q->rx_buf_pfn + i, ng->fe.be_domid, 0);
                if (rc < 0)
                        return rc;
                q->rx_gref[i] = (uint32_t)rc;
                q->tx_free[i] = (uint16_t)(NG_RING - 1 - i);
        }
        q->ntx_free = NG_RING;
        /* post every RX buffer */
        for (i = 0; i < NG_RING; i++) {
                netif_rx_request_t *r = RING_GET_REQUEST(&q->rx, q->rx.req_prod_pvt);

                r->id = (uint16_t)(q->rx.req_prod_pvt % NG_RING);
                r->gref = q->rx_gref[q->rx.req_prod_pvt % NG_RING];
                q->rx.req_prod_pvt++;
        }
        RING_PUSH_REQUESTS(&q->rx);
        return 0;
}

unsigned ng_pick_queue(struct ng *ng, const uint8_t *f, uint32_t len)
{
        /* addresses and ports: a flow stays on one queue */
        return ng->nq == 1 ? 0 : bn_net_flow_hash(f, len) % ng->nq;
}

int ng_tx_frame(struct ng *ng, const struct virtio_net_hdr *vh, const uint8_t *frame, uint32_t len)
{
        struct ng_queue *q = &ng->q[ng_pick_queue(ng, frame, len)];
        uint32_t nfrag = (len + BN_PAGE_SIZE - 1) / BN_PAGE_SIZE, k, off = 0;
        uint16_t flags = 0;
        uint8_t gso_type = XEN_NETIF_GSO_TYPE_NONE;
        int notify;

        if (len < 14 || len > XEN_NETIF_MAX_TX_SIZE)
                return -EINVAL;
        if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
                flags |= NETTXF_csum_blank | NETTXF_data_validated;
        else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
                flags |= NETTXF_data_validated;
        switch (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
        case VIRTIO_NET_HDR_GSO_TCPV4:
                gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
                break;
        case VIRTIO_NET_HDR_GSO_TCPV6:
                gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
                break;
        case VIRTIO_NET_HDR_GSO_NONE:
                break;
        default:
                return -EINVAL;
        }
        if (RING_FREE_REQUESTS(&q->tx) < nfrag + 1 || q->ntx_free < nfrag) {
                ng->st.tx_busy++;
                return -EAGAIN;
        }
        for (k = 0; k < nfrag; k++) {
                uint16_t id = q->tx_free[--q->ntx_free];
                uint32_t fl = len - off < BN_PAGE_SIZE ? len - off : BN_PAGE_SIZE;
                netif_tx_request_t *r = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);

                memcpy(bn_guest_page(ng->g, q->tx_buf_pfn + id), frame + off, fl);
                r->gref = q->tx_gref[id];
                r->offset = 0;
                r->id = id;
                r->size = (uint16_t)(k == 0 ? len : fl);
                r->flags =
                    (uint16_t)((k == 0 ? flags : 0) | (k + 1 < nfrag ? NETTXF_more_data : 0));
                if (k == 0 && gso_type != XEN_NETIF_GSO_TYPE_NONE) {
                        struct netif_extra_info *e;

                        r->flags |= NETTXF_extra_info;
                        e = (struct netif_extra_info *)RING_GET_REQUEST(&q->tx,
                                                                        q->tx.req_prod_pvt++);
                        memset(e, 0, sizeof(*e));
                        e->type = XEN_NETIF_EXTRA_TYPE_GSO;
                        e->u.gso.type = gso_type;
                        e->u.gso.size = vh->gso_size;
                }
                off += fl;
        }
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
        if (notify)
                bn_guest_evtchn_notify(ng->g, (uint32_t)q->tx_port);
        ng->st.tx_frames++;
        ng->st.tx_bytes += len;
        return 0;
}

static void reap_tx(struct ng *ng, struct ng_queue *q)
{
        int more;

        do {
                RING_IDX prod = q->tx.sring->rsp_prod;

                xen_rmb();
                while (q->tx.rsp_cons != prod) {
                        netif_tx_response_t *r = RING_GET_RESPONSE(&q->tx, q->tx.rsp_cons++);

                        if (r->status == NETIF_RSP_NULL)
                                continue;
                        if (r->status != NETIF_RSP_OKAY)
                                ng->st.tx_errors++;
                        if (r->id < NG_RING && q->ntx_free < NG_RING)
                                q->tx_free[q->ntx_free++] = r->id;
                }
                RING_FINAL_CHECK_FOR_RESPONSES(&q->tx, more);
        } while (more);
}

static int reap_rx(struct ng *ng, struct ng_queue *q,
                   void (*deliver)(struct ng *, const struct virtio_net_hdr *, const uint8_t *,
                                   uint32_t))
{
        int more, n = 0, notify;
        unsigned reposted = 0;

        do {
                RING_IDX prod = q->rx.sring->rsp_prod;

                xen_rmb();
                while (q->rx.rsp_cons != prod) {
                        struct virtio_net_hdr vh;
                        uint32_t len = 0;
                        uint16_t first_flags = 0, fl;
                        bool bad = false, first = true;
                        struct netif_extra_info gso = {0};

                        /* a frame: data [extra] data ... until !more_data */
                        do {
                                RING_IDX i;
                                netif_rx_response_t r;

                                if (q->rx.rsp_cons == prod)
                                        return -EPROTO; /* back-end pushed half a frame */
                                i = q->rx.rsp_cons++;
                                r = *RING_GET_RESPONSE(&q->rx, i);
                                reposted++;
                                fl = r.flags;
                                if (r.status < 0 ||
                                    (uint32_t)r.offset + (uint32_t)r.status > BN_PAGE_SIZE ||
                                    len + (uint32_t)r.status > NG_FRAME_MAX)
                                        bad = true;
                                else
                                        memcpy(q->rxframe + len,
                                               (uint8_t *)bn_guest_page(ng->g, q->rx_buf_pfn +
                                                                                   i % NG_RING) +
                                                   r.offset,
                                               (size_t)r.status);
                                if (!bad)
                                        len += (uint32_t)r.status;
                                if (first) {
                                        first = false;
                                        first_flags = fl;
                                        if (fl & NETRXF_extra_info) {
                                                if (q->rx.rsp_cons == prod)
                                                        return -EPROTO;
                                                i = q->rx.rsp_cons++;
                                                memcpy(&gso, RING_GET_RESPONSE(&q->rx, i),
                                                       sizeof(gso));
                                                reposted++;
                                        }
                                }
                        } while (fl & NETRXF_more_data);

                        if (bad || len < 14) {
                                ng->st.rx_bad++;
                                continue;
                        }
                        memset(&vh, 0, sizeof(vh));
                        if (first_flags & NETRXF_csum_blank) {
                                struct bn_net_l4 l4;

                                if (bn_net_l4_locate(q->rxframe, len, &l4) == 0) {
                                        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                                        vh.csum_start = l4.l4_off;
                                        vh.csum_offset = l4.csum_off;
                                        vh.hdr_len = l4.hdr_len;
                                }
                        } else if (first_flags & NETRXF_data_validated) {
                                vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
                        }
                        if (gso.type == XEN_NETIF_EXTRA_TYPE_GSO) {
                                vh.gso_type = gso.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6
                                                  ? VIRTIO_NET_HDR_GSO_TCPV6
                                                  : VIRTIO_NET_HDR_GSO_TCPV4;
                                vh.gso_size = gso.u.gso.size;
                        }
                        ng->st.rx_frames++;
                        ng->st.rx_bytes += len;
                        deliver(ng, &vh, q->rxframe, len);
                        n++;
                }
                RING_FINAL_CHECK_FOR_RESPONSES(&q->rx, more);
        } while (more);

        /* give the buffers back, each at its own slot index */
        for (; reposted; reposted--) {
                netif_rx_request_t *r = RING_GET_REQUEST(&q->rx, q->rx.req_prod_pvt);

                r->id = (uint16_t)(q->rx.req_prod_pvt % NG_RING);
                r->gref = q->rx_gref[q->rx.req_prod_pvt % NG_RING];
                q->rx.req_prod_pvt++;
        }
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
        if (notify)
                bn_guest_evtchn_notify(ng->g, (uint32_t)q->rx_port);
        return n;
}

int ng_poll(struct ng *ng, void (*deliver)(struct ng *ng, const struct virtio_net_hdr *vh,
                                           const uint8_t *frame, uint32_t len))
{
        unsigned i;
        int n = 0, rc;

        for (i = 0; i < ng->nq; i++) {
                reap_tx(ng, &ng->q[i]);
                rc = reap_rx(ng, &ng->q[i], deliver);
                if (rc < 0)
                        return rc;
                n += rc;
        }
        return n;
}
