/* vbd_int.h: internals of the "vbd" device class shared by its files:
 * vbd.c (xenbus side of the Spike: probe, connect, feature keys, disk size),
 * vbd_io.c (the Spike's I/O: rings, grant copy, wire messages, responses),
 * vbd_corm.c (the disk Corm side). Not a public interface. */
#ifndef BN_BLK_VBD_INT_H
#define BN_BLK_VBD_INT_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bn_blk_corm.h"
#include "bn_devclass.h"
#include "bn_params.h"
#include "bn_txq.h"
#include "bn_xenbus.h"
#include "vbd_parse.h"

#include "bn_xen_ring.h" /* before any xen/io/ header */
#include <xen/io/blkif.h>

#define VBD_MAX_QUEUES     4u
#define VBD_MAX_RING_ORDER 4u
#define VBD_MAX_INDIRECT   256u
/* Bytes of data carried by one wire message (bn_wire.h's limit). */
#define VBD_CHUNK (128u * 1024u)
/* A request's chunks: 256 segments = 1 MiB = 8 data chunks, + 1 flush. */
#define VBD_CHUNKS_MAX 9u

/* Persistent grants (vbd_pgrant.c). */
#define VBD_PG_MAX        2048u
#define VBD_PG_BUCKETS    1024u
#define VBD_PG_IDLE_MS    5000u
#define VBD_PG_RECLAIM_MS 1000u

struct vbd_pg {
        uint32_t gref;
        uint8_t *addr;
        uint64_t last_ms;
        int next; /* chain in a bucket, or the free list */
};

struct vbd_pgtab {
        int bucket[VBD_PG_BUCKETS];
        struct vbd_pg e[VBD_PG_MAX];
        int free_head;
        unsigned n;
        uint64_t maps, hits, reclaimed;
};

/* Ring journal (bn_xenbus.h, vbd_journal.c): per queue, the consumer
 * index, the private producer index and a copy of every request taken and
 * not yet answered, so that a bananad that restarts after a crash answers
 * each outstanding request exactly once. Entries are indexed like
 * vbd_queue.reqs. Written with release stores in this order: an entry
 * (PENDING) before req_cons moves past it; an answer's slot in the ring
 * before rsp_pvt moves past it, and rsp_pvt before its entry is FREE. */
#define VBD_J_SLOTS 512u /* the largest ring (16 pages) */
enum { VBD_J_FREE = 0, VBD_J_PENDING = 1 };
struct vbd_jent {
        uint32_t state;
        uint32_t req_idx; /* ring index it was taken from */
        uint64_t id;
        uint8_t slot[BN_BLK_SLOT_SIZE];
};
struct vbd_jq {
        uint32_t req_cons, rsp_pvt, nslots, valid;
        struct vbd_jent e[VBD_J_SLOTS];
};
struct vbd_journal {
        struct vbd_jq q[VBD_MAX_QUEUES];
};

struct bn_endpoint;
struct bn_wire_port;
struct bn_wire_msg;
struct bn_timer;
struct bn_evtchn;
struct bn_gnt;
struct xs_handle;
struct vbd;

/* One guest request in flight between the ring and the wire. */
#define VBD_SLOT_SEGS 11 /* BLKIF_MAX_SEGMENTS_PER_REQUEST: a direct request's */

struct vbd_req {
        struct vbd_queue *q;
        uint32_t idx;
        bool used;
        uint64_t id;
        uint8_t ring_op;
        enum bn_blk_op op;
        bool secure;
        uint64_t sector, nr_sectors;
        uint32_t nr_segs;
        struct bn_blk_seg *segs; /* nr_segs: seg_slot, or malloc'd when more (indirect) */
        uint8_t *buf;            /* WRITE payload copied from the guest (buf_slot) */
        uint64_t bytes;          /* READ/WRITE: nr_sectors * 512 */
        uint32_t ndata;          /* data chunks */
        uint32_t nchunks;        /* ndata (+1 for a flush) or 1 (discard / flush alone) */
        uint32_t unsent;         /* bit per chunk the wire has not accepted */
        uint32_t pending;        /* bit per chunk sent, unanswered */
        int16_t status;          /* BLKIF_RSP_* so far */
        /* Last (req_release clears what comes before): kept with the slot
         * from one request to the next, no malloc per request (a larger
         * request grows them). */
        struct bn_blk_seg seg_slot[VBD_SLOT_SEGS];
        uint8_t *buf_slot;
        size_t buf_cap;
};

struct vbd_queue {
        struct vbd *v;
        unsigned idx;
        struct bn_xb_ring ring;
        bool mapped, bound;
        uint32_t port;
        blkif_back_ring_t back;
        struct vbd_req *reqs; /* ring size entries */
        uint32_t *free_stack;
        uint32_t nreqs, nfree;
        bool dirty;       /* responses produced, not yet pushed */
        struct vbd_jq *j; /* journal of this queue, NULL: none */
        /* requests taken by an earlier bananad and never answered, served
         * again before the ring (vbd_journal_recover) */
        struct vbd_jent *replay;
        uint32_t nreplay, replay_next;
};

struct vbd {
        struct bn_xb_dev *dev;
        struct bn_endpoint *ep;
        struct xs_handle *xs; /* own connection, for size updates: opened by probe
                               * before any port, used and closed on ep->loop */
        char be_path[256];
        /* what the toolstack / front-end said */
        bool mode_ro; /* back-end "mode" = "r" */
        /* the disk, from the Corm's INFO (ep->loop writes, main thread reads) */
        _Atomic bool info_known;
        _Atomic uint64_t size;
        _Atomic bool corm_ro;
        /* connection state: connect (main thread) sets up nq, q[], gnt,
         * evtchn while polling is false; vbd_io_start (on ep->loop) takes
         * them over and sets polling, broken, gen; from then on ep->loop
         * only, until vbd_io_stop clears polling. Port callbacks may run
         * at any time and look at them only while polling. */
        bool connected, polling, broken;
        unsigned nq;
        struct vbd_queue q[VBD_MAX_QUEUES];
        struct bn_gnt *gnt;
        struct bn_evtchn *evtchn;
        uint32_t fe_domid;
        struct bn_wire_port *port; /* attached wire end (ep->loop) */
        bool hello_owed;
        uint32_t gen; /* bumped on each connect: stale answers are ignored */
        /* chunks the wire refused, in order; cookie: their vbd_req. Every
         * unsent chunk of a request is in it, in ascending order. */
        struct bn_txq txq;
        struct bn_blk_geom geom;
        struct bn_blk_req scratch; /* parse scratch (big: 512 segments) */
        uint8_t *indirect_pages;   /* BN_BLK_INDIRECT_PAGES_MAX pages */
        bool persistent;           /* negotiated feature-persistent */
        struct vbd_pgtab *pg;      /* when persistent */
        struct bn_timer *pg_timer; /* idle reclaim */
        uint64_t served, errors;
        struct vbd_journal *journal; /* mapped ring journal, NULL: none */
        bool journal_resumed;        /* it holds the previous bananad's account */
        unsigned nq_want;            /* queues of this connect (journal key) */
        /* adaptive polling of the rings (bn_loop.h): while the loop polls,
         * req_event is held back (hold: no RING_FINAL_CHECK_FOR_REQUESTS,
         * so the front-end does not ring the event channel) */
        struct bn_loop_poller poller;
        bool hold;
};

struct vbd_corm {
        struct bn_endpoint *ep;
        struct bn_blk_corm *disk;
        bool readonly, info_owed, nbd;
        uint64_t size, reconnects;
        int fd;
        uint32_t fd_events;
        struct bn_timer *timer, *size_timer;
        struct cio *ios;
        struct cio *held_head, *held_tail; /* not submitted while orphans > 0 */
        uint32_t orphans;                  /* ios whose port left, still on the disk */
        struct cport *ports;
        uint64_t completed;
        struct bn_loop_poller poller;   /* the disk's completions (bn_blk_corm_ready) */
        struct bn_loop_work rearm_work; /* corm_rearm once per loop iteration */
        struct cio *spare;              /* answered requests kept for reuse, with their buffers */
        unsigned nspare;
};

/* vbd_io.c (on ep->loop unless said) */
void vbd_io_start(void *v); /* bn_loop_call_wait from connect */
void vbd_io_stop(void *v);  /* bn_loop_call_wait from disconnect */
int vbd_io_queue_init(struct vbd_queue *q);
void vbd_io_queue_fini(struct vbd_queue *q);
int vbd_spike_port_attach(struct vbd *v, struct bn_wire_port *port);
void vbd_spike_port_detach(struct vbd *v, struct bn_wire_port *port);
void vbd_spike_port_rx(struct vbd *v, struct bn_wire_msg *msgs, unsigned n);
void vbd_spike_port_writable(struct vbd *v);
/* Requests sent on the wire and not answered yet (quiesce: bn_devclass.port_inflight). */
unsigned vbd_spike_inflight(const struct vbd *v);
/* vbd.c: the disk's size or properties changed (ep->loop). */
void vbd_info_changed(struct vbd *v);
/* Fill g from what is known (any thread: reads atomics and probe's mode). */
void vbd_geom_fill(const struct vbd *v, struct bn_blk_geom *g);
/* Fill v->geom, the loop's copy used to parse requests (ep->loop). */
void vbd_geom_update(struct vbd *v);

/* vbd_journal.c (main thread, from connect / disconnect) */
/* Map the device's ring journal (none: v->journal NULL, not an error). */
void vbd_journal_open(struct vbd *v);
/* After BACK_RING_ATTACH of queue q at the shared rsp_prod: when the
 * journal says more (a restart), set the ring's indexes from it and queue
 * the requests to serve again. Then start journaling the queue. */
void vbd_journal_recover(struct vbd *v, struct vbd_queue *q);
void vbd_journal_close(struct vbd *v);

static inline void vbd_j_take(struct vbd_queue *q, uint32_t idx, const void *slot, uint32_t ridx)
{
        struct vbd_jent *e;

        if (!q->j)
                return;
        e = &q->j->e[idx];
        e->req_idx = ridx;
        memcpy(&e->id, (const uint8_t *)slot + 8,
               sizeof(e->id)); /* id: offset 8 in every request */
        memcpy(e->slot, slot, BN_BLK_SLOT_SIZE);
        __atomic_store_n(&e->state, VBD_J_PENDING, __ATOMIC_RELEASE);
}

static inline void vbd_j_req_cons(struct vbd_queue *q, uint32_t req_cons)
{
        if (q->j)
                __atomic_store_n(&q->j->req_cons, req_cons, __ATOMIC_RELEASE);
}

static inline void vbd_j_rsp_pvt(struct vbd_queue *q, uint32_t rsp_pvt)
{
        if (q->j)
                __atomic_store_n(&q->j->rsp_pvt, rsp_pvt, __ATOMIC_RELEASE);
}

static inline void vbd_j_free(struct vbd_queue *q, uint32_t idx)
{
        if (q->j)
                __atomic_store_n(&q->j->e[idx].state, VBD_J_FREE, __ATOMIC_RELEASE);
}

/* vbd_pgrant.c (ep->loop) */
int vbd_pg_init(struct vbd *v);
void vbd_pg_fini(struct vbd *v); /* unmaps everything */
/* The mapping of gref (mapped now if new and there is room), or NULL: use
 * grant copy. */
uint8_t *vbd_pg_get(struct vbd *v, uint32_t gref, uint64_t now_ms);
/* Unmap mappings unused for idle_ms; returns how many. */
unsigned vbd_pg_reclaim(struct vbd *v, uint64_t now_ms, uint64_t idle_ms);

/* vbd_corm.c */
int vbd_corm_open(struct bn_endpoint *ep, const struct bn_params *params, char *err, size_t errlen);
int vbd_corm_check(const struct bn_params *params, char *err, size_t errlen);
/* Follow what the Corm's provider waits for now (vbd_corm.c; ep->loop). */
void vbd_corm_rearm(struct vbd_corm *c);
/* swap-corm's mirror of the Corm's disk (vbd_mirror.c; bn_devclass.h). */
int vbd_corm_mirror(struct bn_endpoint *ep, int verb, const char *target,
                    struct bn_corm_mirror_st *st, char *err, size_t errlen);
void vbd_corm_close(struct bn_endpoint *ep);
int vbd_corm_port_attach(struct bn_endpoint *ep, struct bn_wire_port *port);
void vbd_corm_port_detach(struct bn_endpoint *ep, struct bn_wire_port *port);
void vbd_corm_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port, struct bn_wire_msg *msgs,
                      unsigned n);
void vbd_corm_port_writable(struct bn_endpoint *ep, struct bn_wire_port *port);
/* DRAIN from the Spike: answered with DRAINED once the port's requests are done. */
void vbd_corm_port_ctl(struct bn_endpoint *ep, struct bn_wire_port *port, uint16_t type);

#endif
