/* shm_ring.c: one single-producer single-consumer byte ring of frame
 * records in shared memory: reserve/commit/publish on the producer side,
 * validated parsing and release on the consumer side, and the coalesced
 * wake-up flags (see shm_ring.h and shm_port.h).
 *
 * Everything read from the peer's side of the control block (its index)
 * or from the ring (record headers) is loaded once into a local and
 * checked before use.
 */
#include "shm_ring.h"
#include "shm_port.h"

#include <errno.h>
#include <string.h>

void bn_shm_ring_init(struct bn_shm_ring *r, struct bn_shm_ctl *ctl, uint8_t *data, uint32_t size)
{
        memset(r, 0, sizeof(*r));
        r->ctl = ctl;
        r->data = data;
        r->size = size;
        r->mask = size - 1;
        r->prod = r->pub = atomic_load_explicit(&ctl->prod, memory_order_relaxed);
        r->cons = atomic_load_explicit(&ctl->cons, memory_order_relaxed);
        r->resv = UINT32_MAX;
}

static uint32_t rec_total(size_t meta_len, size_t len)
{
        return bn_shm_align8((uint32_t)(sizeof(struct bn_shm_rec) + meta_len + len));
}

/* Bytes the consumer still holds, validated; -EPROTO if impossible. */
static int64_t used_bytes(struct bn_shm_ring *r)
{
        uint32_t cons = atomic_load_explicit(&r->ctl->cons, memory_order_acquire);
        uint32_t used = r->prod - cons;

        if (used > r->size || (cons & 7u))
                return -EPROTO;
        return used;
}

int64_t bn_shm_ring_reserve(struct bn_shm_ring *r, uint16_t msg_type, size_t meta_len,
                            size_t max_len)
{
        uint32_t need = rec_total(meta_len, max_len);
        uint32_t pos = r->prod & r->mask;
        uint32_t contig = r->size - pos;
        uint32_t pad = need > contig ? contig : 0;
        int64_t used = used_bytes(r);

        r->resv = UINT32_MAX;
        if (used < 0)
                return used;
        if ((uint64_t)used + pad + need > r->size)
                return -ENOBUFS;
        if (pad) {
                struct bn_shm_rec rec = {
                    .len = pad - (uint32_t)sizeof(rec), .meta_len = 0, .kind = BN_SHM_REC_PAD};
                memcpy(r->data + pos, &rec, sizeof(rec));
                r->prod += pad;
                pos = 0;
        }
        r->resv = pos;
        r->resv_ml = (uint32_t)meta_len;
        r->resv_type = msg_type;
        return pos;
}

void bn_shm_ring_commit(struct bn_shm_ring *r, size_t len)
{
        struct bn_shm_rec rec = {.len = (uint32_t)len,
                                 .meta_len = (uint8_t)r->resv_ml,
                                 .kind = BN_SHM_REC_FRAME,
                                 .msg_type = r->resv_type};

        if (r->resv == UINT32_MAX)
                return;
        memcpy(r->data + r->resv, &rec, sizeof(rec));
        r->prod += rec_total(r->resv_ml, len);
        r->resv = UINT32_MAX;
        r->pending++;
}

bool bn_shm_ring_publish(struct bn_shm_ring *r)
{
        if (r->prod == r->pub)
                return false;
        atomic_store_explicit(&r->ctl->prod, r->prod, memory_order_release);
        r->pub = r->prod;
        r->pending = 0;
        /* Pairs with the consumer's store of cons_wait then load of prod. */
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&r->ctl->cons_wait, memory_order_relaxed) == 0)
                return false;
        return atomic_exchange_explicit(&r->ctl->cons_wait, 0, memory_order_acq_rel) != 0;
}

bool bn_shm_ring_has_space(struct bn_shm_ring *r)
{
        int64_t used = used_bytes(r);

        /* Room for a maximal frame, wherever it lands (pad included). */
        return used >= 0 &&
               (uint64_t)used + 2 * (uint64_t)rec_total(BN_SHM_META_MAX, BN_SHM_FRAME_MAX) <=
                   r->size;
}

bool bn_shm_ring_arm_space(struct bn_shm_ring *r)
{
        atomic_store_explicit(&r->ctl->prod_wait, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        return bn_shm_ring_has_space(r);
}

int64_t bn_shm_ring_avail(struct bn_shm_ring *r)
{
        uint32_t prod = atomic_load_explicit(&r->ctl->prod, memory_order_acquire);
        uint32_t avail = prod - r->cons;

        if (avail > r->size || (prod & 7u))
                return -EPROTO;
        return avail;
}

bool bn_shm_ring_pending(struct bn_shm_ring *r)
{
        return atomic_load_explicit(&r->ctl->prod, memory_order_acquire) != r->cons;
}

bool bn_shm_ring_arm_data(struct bn_shm_ring *r)
{
        atomic_store_explicit(&r->ctl->cons_wait, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        return bn_shm_ring_pending(r);
}

int bn_shm_ring_next(struct bn_shm_ring *r, uint32_t *avail, struct bn_shm_view *v)
{
        for (;;) {
                uint32_t pos = r->cons & r->mask;
                uint32_t contig = r->size - pos;
                struct bn_shm_rec rec;
                uint32_t total;

                if (*avail == 0)
                        return 0;
                if (*avail < sizeof(rec))
                        return -EPROTO;
                memcpy(&rec, r->data + pos, sizeof(rec)); /* copy, then validate */
                if (rec.kind == BN_SHM_REC_PAD) {
                        /* A pad fills exactly the tail of the ring. */
                        if (rec.meta_len != 0 || rec.msg_type != 0 ||
                            rec.len != contig - sizeof(rec) || contig > *avail)
                                return -EPROTO;
                        r->cons += contig;
                        *avail -= contig;
                        continue;
                }
                if (rec.kind != BN_SHM_REC_FRAME || rec.meta_len > BN_SHM_META_MAX ||
                    rec.len > BN_SHM_FRAME_MAX)
                        return -EPROTO;
                total = rec_total(rec.meta_len, rec.len);
                if (total > contig || total > *avail)
                        return -EPROTO;
                v->meta = r->data + pos + sizeof(rec);
                v->meta_len = rec.meta_len;
                v->msg_type = rec.msg_type;
                v->data = v->meta + rec.meta_len;
                v->len = rec.len;
                v->total = total;
                *avail -= total;
                return 1;
        }
}

bool bn_shm_ring_release(struct bn_shm_ring *r)
{
        atomic_store_explicit(&r->ctl->cons, r->cons, memory_order_release);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&r->ctl->prod_wait, memory_order_relaxed) == 0)
                return false;
        return atomic_exchange_explicit(&r->ctl->prod_wait, 0, memory_order_acq_rel) != 0;
}
