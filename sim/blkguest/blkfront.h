/* blkfront.h: the blkfront of sim-blkguest (blkfront.c): xenbus handshake,
 * rings (one per queue, 2^order pages), data pages granted per slot
 * (persistently, or granted and revoked around each request), indirect
 * descriptors, and the hostile requests of --evil. */
#ifndef BN_BLKGUEST_BLKFRONT_H
#define BN_BLKGUEST_BLKFRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "blk_load.h"
#include "bn_guest.h"

#include "bn_xen_ring.h" /* before any xen/io/ header */
#include <xen/io/blkif.h>

#define BF_MAX_QUEUES 4u
#define BF_MAX_SLOTS  256u
#define BF_MAX_SEGS   256u

struct bn_guest;

struct bf_opts {
        const char *name, *sim_dir, *evil;
        const char *evil_hs; /* --evil-handshake MODE, or NULL */
        bool leave;          /* --leave: with evil_hs, go away at once, not waiting */
        const char *vdev;    /* back-end key "dev" (as libxl writes it), or NULL */
        uint32_t devid;
        unsigned ring_order, queues, indirect;
        unsigned drain_ms; /* a migration's stop-and-copy: in-flight requests may finish */
        bool persistent, expect_errors, readonly_mode, final_flush;
        uint64_t discard_first;
        uint32_t discard_n;
        double timeout, idle;
        uint64_t max_blocks, wait_sectors;
        struct bn_blk_load_cfg cfg;
};

struct bf_slot {
        bool busy;
        unsigned q;
        uint32_t pfn;     /* first of nseg data pages */
        uint32_t ind_pfn; /* indirect page */
        int ind_gref;
        int grefs[BF_MAX_SEGS];
        uint32_t nseg_used;
        struct bn_blk_load_req *lr;
};

struct bf_queue {
        blkif_front_ring_t front;
        uint32_t ring_pfn;
        int refs[16];
        int port;
};

struct bf {
        const struct bf_opts *o;
        struct bn_guest *g;
        struct bn_guest_fe fe; /* paths, toolstack entry */
        unsigned nq, npages, max_indirect;
        uint64_t sectors;
        unsigned info;
        struct bf_queue q[BF_MAX_QUEUES];
        struct bf_slot slot[BF_MAX_SLOTS];
        unsigned nslots, nfree, next_q;
        uint32_t seg_pages; /* data pages per slot */
        /* one synchronous request outside the load (bf_sync) */
        struct bn_blk_load_req *sync_lr;
        int sync_status;
        bool sync_done;
};

uint32_t bf_mem_pages(const struct bf_opts *o);
/* The handshake. With o->evil_hs, the handshake is broken that way and 0
 * means the back-end refused it (Closing/Closed, never Connected); with
 * o->leave too, 0 once it is written (the domain then goes away while the
 * back-end handles it). */
int bf_connect(struct bf *f);
/* The --evil-handshake modes, space separated (for usage). */
const char *bf_evil_handshake_modes(void);
int bf_wait_sectors(struct bf *f, uint64_t want, double deadline);
bool bf_has_free_slot(struct bf *f);
int bf_submit(struct bf *f, struct bn_blk_load_req *lr);
void bf_push(struct bf *f);
/* Take responses; returns how many. */
unsigned bf_poll_responses(struct bf *f, struct bn_blk_load *load);
bool bf_closed(struct bf *f);
/* Issue one FLUSH (nblk 0) or DISCARD of blocks [blk, blk+nblk) with every
 * slot free, and wait for its answer. Returns its status (0 or -errno). */
int bf_sync(struct bf *f, enum bn_blk_load_op op, uint64_t blk, uint32_t nblk, double deadline);
int bf_evil(struct bf *f, const char *mode, double deadline);
void bf_close(struct bf *f);
/* Move to the xensim in dir when the toolstack asks (bf_mig.c,
 * docs/migration.md): extra are the back-end keys to declare the vbd with.
 * 0 when moved or staying (aborted, failed), -errno when the vbd is lost. */
int bf_migrate(struct bf *f, const char *dir, const char *const *extra, struct bn_blk_load *load);

#endif
