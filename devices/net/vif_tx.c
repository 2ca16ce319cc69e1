/* vif_tx.c: guest TX of the vif Spike: copy the published slots out of the
 * shared ring, validate them (vif_parse.c), grant-copy the packets in one
 * batch into a local buffer, send them as wire messages (frame + virtio_net
 * header), answer every slot, and re-check the ring with
 * RING_FINAL_CHECK_FOR_REQUESTS before going back to sleep. Runs on ep->loop.
 *
 * Backpressure: messages the wire refuses stay in the batch buffer and are
 * offered again first (port_writable); until they are gone no new request
 * is consumed, so the guest's ring fills and netfront stops its queue.
 */
#include <errno.h>
#include <string.h>

#include "bn_endpoint.h"
#include "bn_log.h"
#include "vif_hdr.h"
#include "vif_int.h"

static void respond(struct bn_vif_queue *q, const struct bn_net_tx_pkt *pkt, int16_t status)
{
        uint32_t i;

        for (i = 0; i < pkt->nslots; i++) {
                netif_tx_response_t r = {.id = pkt->ids[i],
                                         .status = pkt->is_extra[i] ? NETIF_RSP_NULL : status};

                bn_vif_put_tx(q, q->tx.rsp_prod_pvt, &r, sizeof(r));
                q->tx.rsp_prod_pvt++;
        }
}

static void push_and_notify(struct bn_vif_queue *q)
{
        int notify;

        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
        if (notify)
                bn_evtchn_notify(q->vif->evt, q->tx_port);
}

/* Hand the first n messages of the batch to the wire after the refused ones
 * (n == 0: only those). true when none is left waiting. */
static bool send_batch(struct bn_vif_queue *q, unsigned n)
{
        struct bn_vif *vif = q->vif;
        int rc;

        if (n && q->msgs[n - 1].len >= 14 && !(((uint8_t *)q->msgs[n - 1].data)[6] & 1)) {
                memcpy(vif->guest_mac, (uint8_t *)q->msgs[n - 1].data + 6, 6);
                vif->guest_mac_known = true;
        }
        rc = bn_txq_send(&q->txq, bn_endpoint_port(vif->ep), q->msgs, NULL, n);

        if (rc < 0) {
                /* no wire (or a broken one): the queued frames are lost */
                unsigned lost = bn_txq_clear(&q->txq, rc);
                atomic_fetch_add(&vif->st.tx_drop, lost);
                if (rc == -ENOTCONN)
                        atomic_fetch_add(&vif->ep->counters.drops, lost);
                return true;
        }
        return rc == 1;
}

static bool hostile_status(int16_t st)
{
        return st == BN_GNTST_BAD_GNTREF || st == BN_GNTST_PERMISSION_DENIED ||
               st == BN_GNTST_BAD_DOMAIN || st == BN_GNTST_BAD_COPY_ARG;
}

/* Grant-copy the batch, build the messages, answer the slots. Returns the
 * number of messages built, or -EPROTO after a fatal error. */
static int finish_batch(struct bn_vif_queue *q, unsigned npkt, unsigned nsegs)
{
        struct bn_vif *vif = q->vif;
        unsigned i, k, nmsg = 0;
        int rc, bad = 0;

        if (nsegs) {
                rc = bn_gnt_copy(vif->gnt, nsegs, q->txsegs);
                if (rc < 0) {
                        bn_warn(vif->name, "tx grant copy of %u segments failed: %s", nsegs,
                                strerror(-rc));
                        for (k = 0; k < nsegs; k++)
                                q->txsegs[k].status = BN_GNTST_GENERAL_ERROR;
                }
        }
        for (i = 0; i < npkt; i++) {
                struct bn_vif_txp *t = &q->txp[i];
                struct bn_net_tx_pkt *p = &t->pkt;
                struct virtio_net_hdr vh;
                int16_t st = NETIF_RSP_OKAY;
                uint8_t *data = q->txbuf + t->buf_off;

                for (k = 0; k < p->nsegs; k++) {
                        int16_t s = q->txsegs[t->seg0 + k].status;

                        if (s == BN_GNTST_OKAY)
                                continue;
                        st = NETIF_RSP_ERROR;
                        if (hostile_status(s) && !bad) {
                                bad = 1;
                                bn_vif_fatal(vif, -EPERM,
                                             "tx: grant copy of ref %u (offset %u, %u bytes) "
                                             "failed with status %d",
                                             p->segs[k].gref, p->segs[k].offset, p->segs[k].len, s);
                        }
                }
                if (st != NETIF_RSP_OKAY) {
                        atomic_fetch_add(&vif->st.tx_err, 1);
                        respond(q, p, st);
                        continue;
                }
                respond(q, p, NETIF_RSP_OKAY);
                if (p->gso_type == XEN_NETIF_GSO_TYPE_NONE && p->total_len > vif->mtu + 18u) {
                        atomic_fetch_add(&vif->st.tx_drop, 1);
                        continue;
                }
                if (bn_net_vnet_from_netif(data, p->total_len, p->csum_flags, p->gso_type,
                                           p->gso_size, &vh) < 0) {
                        /* csum/GSO on a frame that is not TCP/UDP over IP: netback
                         * drops those too. */
                        atomic_fetch_add(&vif->st.tx_drop, 1);
                        continue;
                }
                struct bn_wire_msg *m = &q->msgs[nmsg++];

                m->type = BN_MSG_NET_FRAME;
                m->hdr_len = sizeof(vh);
                memcpy(m->hdr, &vh, sizeof(vh));
                m->len = p->total_len;
                m->data = data;
                m->wire_priv = 0;
                atomic_fetch_add(&vif->st.tx_pkts, 1);
                atomic_fetch_add(&vif->st.tx_bytes, p->total_len);
        }
        return bad ? -EPROTO : (int)nmsg;
}

void bn_vif_tx_work(struct bn_vif_queue *q)
{
        struct bn_vif *vif = q->vif;

        if (!vif->running || vif->dead || !send_batch(q, 0))
                return;
        for (;;) {
                RING_IDX prod, cons = q->tx.req_cons;
                unsigned npkt = 0, nsegs = 0;
                uint32_t n, pos = 0, buf = 0, i;
                bool stop = false;
                int pending, more, nmsg;

                prod = __atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE);
                pending = bn_net_ring_pending(prod, cons, RING_SIZE(&q->tx));
                if (pending < 0) {
                        bn_vif_fatal(vif, -EPROTO,
                                     "tx ring of queue %u: req_prod %u is past req_cons %u by "
                                     "more than the %u slots of the ring",
                                     q->idx, prod, cons, RING_SIZE(&q->tx));
                        return;
                }
                if (pending == 0) {
                        RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
                        if (!more)
                                return;
                        continue;
                }
                n = (uint32_t)pending;
                for (i = 0; i < n; i++)
                        memcpy(&q->slots[i], RING_GET_REQUEST(&q->tx, cons + i),
                               sizeof(q->slots[i]));

                while (pos < n && npkt < BN_VIF_TX_BATCH) {
                        struct bn_vif_txp *t = &q->txp[npkt];
                        struct bn_net_tx_err err;
                        enum bn_net_tx_verdict v;

                        v = bn_net_tx_parse(q->slots + pos, n - pos, &vif->lim, &t->pkt, &err);
                        if (v == BN_NET_TX_FATAL || v == BN_NET_TX_INCOMPLETE) {
                                bn_vif_fatal(vif, -EPROTO, "tx ring of queue %u, slot %u: %s",
                                             q->idx, cons + pos + err.slot, err.what);
                                return;
                        }
                        if (v == BN_NET_TX_ERROR) {
                                bn_debug(vif->name, "tx slot %u: %s: answered with an error",
                                         cons + pos + err.slot, err.what);
                                atomic_fetch_add(&vif->st.tx_err, 1);
                                respond(q, &t->pkt, NETIF_RSP_ERROR);
                                pos += t->pkt.nslots;
                                continue;
                        }
                        if (t->pkt.kind != BN_NET_TX_FRAME) {
                                /* multicast filter requests: no filter kept, flood */
                                respond(q, &t->pkt, NETIF_RSP_OKAY);
                                pos += t->pkt.nslots;
                                continue;
                        }
                        if (buf + t->pkt.total_len > BN_VIF_TX_BUF)
                                break;
                        if (!bn_vif_rate_allow(vif, t->pkt.total_len)) {
                                stop = true;
                                break;
                        }
                        t->buf_off = buf;
                        t->seg0 = nsegs;
                        for (i = 0; i < t->pkt.nsegs; i++) {
                                struct bn_gnt_copy_seg *s = &q->txsegs[nsegs++];

                                memset(s, 0, sizeof(*s));
                                s->source.foreign.ref = t->pkt.segs[i].gref;
                                s->source.foreign.offset = t->pkt.segs[i].offset;
                                s->source.foreign.domid = (uint16_t)vif->fe_domid;
                                s->dest.virt = q->txbuf + buf;
                                s->len = t->pkt.segs[i].len;
                                s->flags = BN_GNTCOPY_SOURCE_GREF;
                                buf += t->pkt.segs[i].len;
                        }
                        pos += t->pkt.nslots;
                        npkt++;
                }
                q->tx.req_cons = cons + pos;
                nmsg = finish_batch(q, npkt, nsegs);
                push_and_notify(q);
                if (nmsg < 0)
                        return;
                if (!send_batch(q, (unsigned)nmsg) || stop)
                        return;
        }
}
