/* blk_load.h: the load generator and verifier of the simulated block guest,
 * independent of how requests reach the disk (a blkfront ring, or a Corm
 * directly in tests and benchmarks).
 *
 * The transport asks bn_blk_load_next() for the next request while it has
 * room (at most cfg.qd outstanding), carries it out, and reports each
 * completion with bn_blk_load_complete(). Two requests in flight never touch
 * the same block, so every read has exactly one right answer: the last
 * acknowledged write of that block (blk_pattern.h), or anything when the
 * block's content is unknown (never written in this run, discarded, or a
 * write that failed). */
#ifndef BN_BLK_LOAD_H
#define BN_BLK_LOAD_H

#include <stdint.h>
#include <stdio.h>

enum bn_blk_load_mode {
        BN_BLK_LOAD_MIXED = 0, /* random/sequential reads+writes (write_pct) */
        BN_BLK_LOAD_FILL,      /* write every block once with generation fill_gen */
        BN_BLK_LOAD_CHECK,     /* read every block once, expecting fill_gen */
};

enum bn_blk_load_op { BN_BLK_LOAD_READ, BN_BLK_LOAD_WRITE, BN_BLK_LOAD_FLUSH, BN_BLK_LOAD_DISCARD };

struct bn_blk_load_cfg {
        enum bn_blk_load_mode mode;
        uint64_t nblocks; /* disk size in blocks of bs */
        uint32_t bs;      /* bytes, multiple of 512 */
        uint32_t qd;
        uint32_t write_pct;     /* MIXED: 0..100 */
        int random;             /* MIXED: random offsets (else sequential) */
        int verify;             /* write patterns and check reads */
        double seconds;         /* MIXED: run time */
        uint32_t flush_every;   /* MIXED: a flush every N ops (0: never) */
        uint32_t discard_every; /* MIXED: a discard every N ops (0: never) */
        uint32_t fill_gen;      /* FILL/CHECK generation (>= 1) */
        uint64_t seed;
        FILE *slow_log; /* if set: "end_ms wait_ms" (wall clock) of each request
                         * that waited over 2 ms (bench/migrate) */
};

struct bn_blk_load_req {
        enum bn_blk_load_op op;
        uint64_t blk;  /* first block */
        uint32_t nblk; /* blocks (1 for r/w, 0 for flush) */
        void *buf;     /* bs bytes, page aligned (r/w) */
        /* private */
        uint32_t slot;
        uint32_t gen;
        uint64_t t0_ns;
};

struct bn_blk_load;

int bn_blk_load_new(struct bn_blk_load **out, const struct bn_blk_load_cfg *cfg);
void bn_blk_load_free(struct bn_blk_load *l);
/* The next request to issue, or NULL (queue full, or the run is over). */
struct bn_blk_load_req *bn_blk_load_next(struct bn_blk_load *l);
/* Report the outcome of r (status: 0 or -errno). */
void bn_blk_load_complete(struct bn_blk_load *l, struct bn_blk_load_req *r, int status);
/* End the run early: no more requests are handed out; those outstanding
 * still complete (and are verified). */
void bn_blk_load_finish(struct bn_blk_load *l);
/* Over: no more requests will be handed out and none is outstanding. */
int bn_blk_load_done(struct bn_blk_load *l);
uint32_t bn_blk_load_outstanding(struct bn_blk_load *l);
/* Print the report (IOPS, MB/s, p50/p99/max latency, mismatches, errors). */
void bn_blk_load_report(struct bn_blk_load *l, FILE *f, const char *label);
uint64_t bn_blk_load_mismatches(struct bn_blk_load *l);
uint64_t bn_blk_load_errors(struct bn_blk_load *l);
uint64_t bn_blk_load_ops(struct bn_blk_load *l);
uint64_t bn_blk_load_verified(struct bn_blk_load *l); /* reads checked against a known gen */
double bn_blk_load_iops(struct bn_blk_load *l);
double bn_blk_load_p99_us(struct bn_blk_load *l);

#endif
