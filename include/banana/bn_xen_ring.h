/* bn_xen_ring.h: the one way banana includes Xen's shared-ring macros
 * (xen/io/ring.h); include it before any xen/io/<protocol>.h. Also
 * BN_RING_SERVE, the serving loop that classes answering each request at
 * once share.
 *
 * ring.h's macros use xen_mb / xen_rmb / xen_wmb, which xenctrl.h defines on
 * a real Dom0; for old interface versions (the default when nothing sets
 * __XEN_INTERFACE_VERSION__) ring.h maps them to mb() / rmb() / wmb(), which
 * do not exist here. __XEN_TOOLS__ selects the latest interface, and since the
 * macros expand where they are used, defining the barriers after the include
 * is enough: full / acquire / release fences of C11 atomics, as the ring
 * lives in memory shared with another domain.
 */
#ifndef BN_XEN_RING_H
#define BN_XEN_RING_H

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <errno.h>
#include <string.h>
#include <xen/io/ring.h>

#undef xen_mb
#undef xen_rmb
#undef xen_wmb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

/* BN_RING_SERVE(b, req_t, rsp_t, HANDLE, NOTIFY, rc): the serving loop of a
 * back ring whose requests are each answered at once, in order (the test
 * class's echo ring, displif's request rings). b is a back ring
 * (DEFINE_RING_TYPES, BACK_RING_ATTACH). For each request it takes, the
 * request is copied once off the shared page into `req_t req` (the guest
 * may change the page under us), req_cons advances, and the statement
 * HANDLE runs with `req` and a zeroed `rsp_t rsp` in scope: it fills rsp,
 * or sets rc to a -errno to stop (the device is failing; nothing more is
 * answered). Answers are pushed, NOTIFY (an expression, e.g.
 * bn_evtchn_notify(e, port)) runs when the front-end asked for an event,
 * and the ring is checked again before returning, closing the race with a
 * request that arrives as we finish. rc: 0, HANDLE's -errno, or -EPROTO
 * when the producer index is impossible (more requests than the ring has
 * room for: a hostile front-end). */
#define BN_RING_SERVE(b, req_t, rsp_t, HANDLE, NOTIFY, rc)                                         \
        do {                                                                                       \
                int bn_more_, bn_notify_;                                                          \
                (rc) = 0;                                                                          \
                do {                                                                               \
                        RING_IDX bn_rc_ = (b)->req_cons;                                           \
                        RING_IDX bn_rp_ = (b)->sring->req_prod;                                    \
                        xen_rmb();                                                                 \
                        if (RING_REQUEST_PROD_OVERFLOW(b, bn_rp_)) {                               \
                                (rc) = -EPROTO;                                                    \
                                break;                                                             \
                        }                                                                          \
                        while ((rc) == 0 && bn_rc_ != bn_rp_ &&                                    \
                               !RING_REQUEST_CONS_OVERFLOW(b, bn_rc_)) {                           \
                                req_t req;                                                         \
                                rsp_t rsp;                                                         \
                                memcpy(&req, RING_GET_REQUEST(b, bn_rc_), sizeof(req));            \
                                memset(&rsp, 0, sizeof(rsp));                                      \
                                (b)->req_cons = ++bn_rc_;                                          \
                                HANDLE;                                                            \
                                if ((rc) == 0) {                                                   \
                                        memcpy(RING_GET_RESPONSE(b, (b)->rsp_prod_pvt), &rsp,      \
                                               sizeof(rsp));                                       \
                                        (b)->rsp_prod_pvt++;                                       \
                                }                                                                  \
                        }                                                                          \
                        if ((rc) != 0)                                                             \
                                break;                                                             \
                        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(b, bn_notify_);                       \
                        if (bn_notify_)                                                            \
                                NOTIFY;                                                            \
                        RING_FINAL_CHECK_FOR_REQUESTS(b, bn_more_);                                \
                } while (bn_more_);                                                                \
        } while (0)

/* BN_RING_JOURNAL_RESUME(ring, copies, nslots, upto): take back, after a
 * restart, a back ring answered in order whose answers were journaled
 * (bn_xb_journal_open in bn_xenbus.h) before they went to the ring: the
 * ring was attached at the shared rsp_prod (bn_xb_ring_resume_index), the
 * journal says answers up to upto were written, and copies[k % nslots]
 * holds answer k. Publishes the answers [rsp_prod, upto) from the copies
 * (the ring's slots may hold them half written, or still the requests) and
 * goes on from upto. An expression: how many were published, or -1 when
 * upto does not fit the ring (more than nslots, or past req_prod: a
 * journal of another connection; the ring is left as attached). */
#define BN_RING_JOURNAL_RESUME(ring, copies, nslots, upto)                                         \
        __extension__({                                                                            \
                RING_IDX p_ = (ring).rsp_prod_pvt, u_ = (upto);                                    \
                RING_IDX q_ = __atomic_load_n(&(ring).sring->req_prod, __ATOMIC_ACQUIRE);          \
                int n_ = -1;                                                                       \
                if (u_ - p_ <= (nslots) && u_ - p_ <= q_ - p_) {                                   \
                        for (RING_IDX k_ = p_; k_ != u_; k_++)                                     \
                                memcpy(RING_GET_RESPONSE(&(ring), k_), &(copies)[k_ % (nslots)],   \
                                       sizeof((copies)[0]));                                       \
                        (ring).rsp_prod_pvt = (ring).req_cons = u_;                                \
                        RING_PUSH_RESPONSES(&(ring));                                              \
                        n_ = (int)(u_ - p_);                                                       \
                }                                                                                  \
                n_;                                                                                \
        })

#endif
