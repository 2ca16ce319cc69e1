/* vif_journal.c: the vif Spike's ring journal (vif_int.h, bn_xenbus.h):
 * mapping it at connect and, after a crash of bananad, publishing the
 * answers the old one had written to its journal but not to the rings, so
 * that no request slot is read again after it was answered (it would hold
 * an answer, not a request). */
#include <errno.h>
#include <string.h>

#include "bn_endpoint.h"
#include "bn_log.h"
#include "vif_int.h"

void bn_vif_journal_open(struct bn_vif *vif)
{
        /* the connection's name: new ones on every handshake */
        static const char *const keys[] = {"tx-ring-ref", "rx-ring-ref", "event-channel",
                                           "event-channel-tx", NULL};

        /* no journal (the framework says why): recovery from the rings alone */
        vif->journal = bn_xb_journal_open(vif->dev, sizeof(struct bn_vif_journal), vif->nq, keys,
                                          &vif->journal_resumed);
}

void bn_vif_journal_close(struct bn_vif *vif)
{
        if (vif->journal)
                bn_xb_journal_unmap(vif->dev, vif->journal, sizeof(struct bn_vif_journal));
        vif->journal = NULL;
        for (unsigned i = 0; vif->q && i < vif->nq; i++)
                vif->q[i].j = NULL;
}

void bn_vif_journal_recover(struct bn_vif *vif, struct bn_vif_queue *q)
{
        struct bn_vif_jq *jq;

        q->j = NULL;
        if (!vif->journal || RING_SIZE(&q->tx) != BN_VIF_J_SLOTS ||
            RING_SIZE(&q->rx) != BN_VIF_J_SLOTS)
                return;
        jq = &vif->journal->q[q->idx];
        if (vif->journal_resumed && __atomic_load_n(&jq->valid, __ATOMIC_ACQUIRE)) {
                int ntx = BN_RING_JOURNAL_RESUME(q->tx, jq->tx, BN_VIF_J_SLOTS,
                                                 __atomic_load_n(&jq->tx_rsp, __ATOMIC_ACQUIRE));
                int nrx = BN_RING_JOURNAL_RESUME(q->rx, jq->rx, BN_VIF_J_SLOTS,
                                                 __atomic_load_n(&jq->rx_rsp, __ATOMIC_ACQUIRE));

                if (ntx < 0 || nrx < 0)
                        bn_warn(vif->name,
                                "queue %u: ring journal does not fit the rings: resuming from "
                                "the rings",
                                q->idx);
                bn_info(vif->name,
                        "queue %u: taken back from the ring journal: %d tx and %d rx answer(s) "
                        "published",
                        q->idx, ntx < 0 ? 0 : ntx, nrx < 0 ? 0 : nrx);
                if (ntx > 0)
                        bn_evtchn_notify(bn_xb_dev_evtchn(vif->dev), q->tx_port);
                if (nrx > 0)
                        bn_evtchn_notify(bn_xb_dev_evtchn(vif->dev), q->rx_port);
        } else {
                memset(jq, 0, sizeof(*jq));
        }
        jq->tx_rsp = q->tx.rsp_prod_pvt;
        jq->rx_rsp = q->rx.rsp_prod_pvt;
        __atomic_store_n(&jq->valid, 1, __ATOMIC_RELEASE);
        q->j = jq;
}
