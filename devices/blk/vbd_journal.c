/* vbd_journal.c: the vbd Spike's ring journal (vbd_int.h, bn_xenbus.h):
 * mapping it at connect, and taking the rings back from it after a restart
 * so that every request the guest is waiting for is answered exactly once:
 * answers written but not pushed are pushed, requests taken and not
 * answered are served again, nothing is read twice from the ring. */
#include "vbd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "bn_endpoint.h"
#include "bn_log.h"

void vbd_journal_open(struct vbd *v)
{
        /* the connection's name: new ones on every handshake */
        static const char *const keys[] = {"event-channel", "ring-ref", "ring-ref0", NULL};

        /* no journal (the framework says why): recovery from the ring alone */
        v->journal = bn_xb_journal_open(v->dev, sizeof(struct vbd_journal), v->nq_want, keys,
                                        &v->journal_resumed);
}

void vbd_journal_close(struct vbd *v)
{
        if (v->journal)
                bn_xb_journal_unmap(v->dev, v->journal, sizeof(struct vbd_journal));
        v->journal = NULL;
        for (unsigned i = 0; i < VBD_MAX_QUEUES; i++)
                v->q[i].j = NULL;
}

void vbd_journal_recover(struct vbd *v, struct vbd_queue *q)
{
        struct vbd_jq *jq;
        uint32_t size = RING_SIZE(&q->back), answered = 0, replay = 0;
        RING_IDX P, R, C, Q;

        q->j = NULL;
        free(q->replay);
        q->replay = NULL;
        q->nreplay = q->replay_next = 0;
        if (!v->journal || size > VBD_J_SLOTS)
                return;
        jq = &v->journal->q[q->idx];
        if (!v->journal_resumed || !__atomic_load_n(&jq->valid, __ATOMIC_ACQUIRE) ||
            jq->nslots != size)
                goto fresh;
        P = q->back.rsp_prod_pvt; /* attached at the shared rsp_prod */
        R = __atomic_load_n(&jq->rsp_pvt, __ATOMIC_ACQUIRE);
        C = __atomic_load_n(&jq->req_cons, __ATOMIC_ACQUIRE);
        Q = __atomic_load_n(&q->back.sring->req_prod, __ATOMIC_ACQUIRE);
        if (R - P > size || C - R > size || Q - C > size) {
                bn_warn(v->ep->name,
                        "queue %u: ring journal does not fit the ring (rsp_prod %u, journal "
                        "rsp %u req %u, req_prod %u): resuming from the ring",
                        q->idx, P, R, C, Q);
                goto fresh;
        }
        q->replay = calloc(size, sizeof(*q->replay));
        if (!q->replay)
                goto fresh;
        for (uint32_t i = 0; i < size; i++) {
                struct vbd_jent *e = &jq->e[i];
                bool done = false;

                if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != VBD_J_PENDING)
                        continue;
                /* taken (before C) by the journal's account? */
                if ((int32_t)(C - e->req_idx) > 0) {
                        for (RING_IDX k = P; k != R && !done; k++) {
                                blkif_response_t rsp;
                                memcpy(&rsp, RING_GET_RESPONSE(&q->back, k), sizeof(rsp));
                                done = rsp.id == e->id;
                        }
                        if (done)
                                answered++;
                        else
                                q->replay[q->nreplay++] = *e;
                }
                e->state = VBD_J_FREE;
        }
        q->back.rsp_prod_pvt = R;
        q->back.req_cons = C;
        q->dirty = R != P;
        replay = q->nreplay;
        bn_info(v->ep->name,
                "queue %u: taken back from the ring journal: %u answer(s) pushed, %u request(s) "
                "to serve again (%u answered before the crash)",
                q->idx, R - P, replay, answered);
        goto start;
fresh:
        memset(jq, 0, sizeof(*jq));
        jq->nslots = size;
start:
        q->j = jq;
        jq->req_cons = q->back.req_cons;
        jq->rsp_pvt = q->back.rsp_prod_pvt;
        __atomic_store_n(&jq->valid, 1, __ATOMIC_RELEASE);
}
