/* blk_load.c: load generator and verifier (see blk_load.h). */
#include "blk_load.h"

#include "blk_pattern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAT_BUCKETS 200000 /* 1 µs each, up to 200 ms; beyond: the last */
#define BLK_UNKNOWN 0u

struct bn_blk_load {
        struct bn_blk_load_cfg cfg;
        struct bn_blk_load_req *slots;
        uint32_t *free_slots, nfree;
        unsigned char *bufs;
        uint32_t *gen;       /* per block: last acknowledged generation, 0 = unknown */
        unsigned char *busy; /* per block */
        uint32_t next_gen;
        uint64_t seq; /* next sequential block / FILL-CHECK cursor */
        uint64_t rng;
        uint64_t t_start, t_end, t_last;
        uint64_t issued, ops, reads, writes, flushes, discards, bytes;
        uint64_t mismatches, errors, verified;
        uint32_t outstanding;
        int stopped;
        uint32_t *lat;
        uint64_t lat_n, lat_max_us;
};

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct bn_blk_load *l)
{
        l->rng ^= l->rng << 13;
        l->rng ^= l->rng >> 7;
        l->rng ^= l->rng << 17;
        return l->rng;
}

int bn_blk_load_new(struct bn_blk_load **out, const struct bn_blk_load_cfg *cfg)
{
        struct bn_blk_load *l;

        if (!cfg->bs || cfg->bs % 512 || !cfg->qd || !cfg->nblocks || cfg->qd > 4096)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->cfg = *cfg;
        if (l->cfg.fill_gen == 0)
                l->cfg.fill_gen = 1;
        l->slots = calloc(cfg->qd, sizeof(*l->slots));
        l->free_slots = calloc(cfg->qd, sizeof(uint32_t));
        l->gen = calloc(cfg->nblocks, sizeof(uint32_t));
        l->busy = calloc(cfg->nblocks, 1);
        l->lat = calloc(LAT_BUCKETS, sizeof(uint32_t));
        if (posix_memalign((void **)&l->bufs, 4096, (size_t)cfg->bs * cfg->qd))
                l->bufs = NULL;
        if (!l->slots || !l->free_slots || !l->gen || !l->busy || !l->lat || !l->bufs) {
                bn_blk_load_free(l);
                return -ENOMEM;
        }
        for (uint32_t i = 0; i < cfg->qd; i++) {
                l->slots[i].slot = i;
                l->slots[i].buf = l->bufs + (size_t)i * cfg->bs;
                l->free_slots[l->nfree++] = cfg->qd - 1 - i;
        }
        /* generations of MIXED writes start well above any FILL gen */
        l->next_gen = (uint32_t)((cfg->seed & 0xffff) << 12) + 1000;
        l->rng = cfg->seed * 0x9e3779b97f4a7c15ull + 88172645463325252ull;
        l->t_start = l->t_last = now_ns();
        l->t_end = l->t_start + (uint64_t)(cfg->seconds * 1e9);
        *out = l;
        return 0;
}

void bn_blk_load_free(struct bn_blk_load *l)
{
        if (!l)
                return;
        free(l->slots);
        free(l->free_slots);
        free(l->gen);
        free(l->busy);
        free(l->lat);
        free(l->bufs);
        free(l);
}

static int pick_block(struct bn_blk_load *l, uint64_t *blk)
{
        for (int tries = 0; tries < 64; tries++) {
                uint64_t b = l->cfg.random ? rnd(l) % l->cfg.nblocks : l->seq++ % l->cfg.nblocks;
                if (!l->busy[b]) {
                        *blk = b;
                        return 0;
                }
        }
        return -EBUSY;
}

struct bn_blk_load_req *bn_blk_load_next(struct bn_blk_load *l)
{
        struct bn_blk_load_req *r;
        uint64_t blk = 0;
        enum bn_blk_load_op op;

        if (l->stopped || !l->nfree)
                return NULL;
        if (l->cfg.mode != BN_BLK_LOAD_MIXED) {
                if (l->seq >= l->cfg.nblocks) {
                        l->stopped = 1;
                        return NULL;
                }
                blk = l->seq++;
                op = l->cfg.mode == BN_BLK_LOAD_FILL ? BN_BLK_LOAD_WRITE : BN_BLK_LOAD_READ;
        } else {
                if ((l->issued & 63) == 0 && now_ns() >= l->t_end) {
                        l->stopped = 1;
                        return NULL;
                }
                if (l->cfg.flush_every && l->issued % l->cfg.flush_every == l->cfg.flush_every - 1)
                        op = BN_BLK_LOAD_FLUSH;
                else if (l->cfg.discard_every &&
                         l->issued % l->cfg.discard_every == l->cfg.discard_every - 2)
                        op = BN_BLK_LOAD_DISCARD;
                else
                        op = rnd(l) % 100 < l->cfg.write_pct ? BN_BLK_LOAD_WRITE : BN_BLK_LOAD_READ;
                if (op != BN_BLK_LOAD_FLUSH && pick_block(l, &blk) < 0)
                        return NULL; /* every candidate busy: wait for completions */
        }
        r = &l->slots[l->free_slots[--l->nfree]];
        r->op = op;
        r->blk = blk;
        r->nblk = op == BN_BLK_LOAD_FLUSH ? 0 : 1;
        if (op != BN_BLK_LOAD_FLUSH)
                l->busy[blk] = 1;
        if (op == BN_BLK_LOAD_WRITE) {
                r->gen = l->cfg.mode == BN_BLK_LOAD_FILL ? l->cfg.fill_gen : l->next_gen++;
                if (l->cfg.verify || l->cfg.mode == BN_BLK_LOAD_FILL)
                        bn_blk_pattern_fill(r->buf, l->cfg.bs, blk, r->gen);
                /* until acknowledged, the block may hold either version */
                l->gen[blk] = BLK_UNKNOWN;
        } else if (op == BN_BLK_LOAD_READ) {
                r->gen = l->cfg.mode == BN_BLK_LOAD_CHECK ? l->cfg.fill_gen : l->gen[blk];
                memset(r->buf, 0xa5, l->cfg.bs);
        } else if (op == BN_BLK_LOAD_DISCARD) {
                l->gen[blk] = BLK_UNKNOWN;
        }
        r->t0_ns = now_ns();
        l->issued++;
        l->outstanding++;
        return r;
}

void bn_blk_load_complete(struct bn_blk_load *l, struct bn_blk_load_req *r, int status)
{
        uint64_t t = now_ns(), us = (t - r->t0_ns) / 1000;

        l->lat[us < LAT_BUCKETS ? us : LAT_BUCKETS - 1]++;
        l->lat_n++;
        if (us > l->lat_max_us)
                l->lat_max_us = us;
        if (l->cfg.slow_log && us > 2000) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                fprintf(l->cfg.slow_log, "%.3f %.3f\n",
                        (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6, (double)us / 1e3);
        }
        l->t_last = t;
        l->ops++;
        l->outstanding--;
        if (status < 0) {
                l->errors++;
                if (r->op == BN_BLK_LOAD_WRITE)
                        l->gen[r->blk] = BLK_UNKNOWN;
        } else if (r->op == BN_BLK_LOAD_WRITE) {
                l->writes++;
                l->bytes += l->cfg.bs;
                l->gen[r->blk] = r->gen;
        } else if (r->op == BN_BLK_LOAD_READ) {
                l->reads++;
                l->bytes += l->cfg.bs;
                if ((l->cfg.verify || l->cfg.mode == BN_BLK_LOAD_CHECK) && r->gen != BLK_UNKNOWN) {
                        uint32_t found = 0;
                        enum bn_blk_pattern_res res =
                            bn_blk_pattern_check(r->buf, l->cfg.bs, r->blk, r->gen, &found);
                        l->verified++;
                        if (res != BN_BLK_PAT_OK) {
                                if (l->mismatches < 10)
                                        fprintf(stderr,
                                                "verify: block %llu: expected generation %u, found "
                                                "%s (gen %u)\n",
                                                (unsigned long long)r->blk, r->gen,
                                                res == BN_BLK_PAT_ZERO        ? "zeroes"
                                                : res == BN_BLK_PAT_OTHER_GEN ? "another generation"
                                                                              : "corrupt data",
                                                found);
                                l->mismatches++;
                        }
                }
        } else if (r->op == BN_BLK_LOAD_FLUSH) {
                l->flushes++;
        } else {
                l->discards++;
        }
        if (r->nblk)
                l->busy[r->blk] = 0;
        l->free_slots[l->nfree++] = r->slot;
}

void bn_blk_load_finish(struct bn_blk_load *l)
{
        l->stopped = 1;
}

int bn_blk_load_done(struct bn_blk_load *l)
{
        if (!l->stopped && l->cfg.mode == BN_BLK_LOAD_MIXED && now_ns() >= l->t_end)
                l->stopped = 1;
        return l->stopped && l->outstanding == 0;
}

uint32_t bn_blk_load_outstanding(struct bn_blk_load *l)
{
        return l->outstanding;
}

static double pct_us(struct bn_blk_load *l, double p)
{
        uint64_t want = (uint64_t)(p * (double)l->lat_n), acc = 0;
        for (uint32_t i = 0; i < LAT_BUCKETS; i++) {
                acc += l->lat[i];
                if (acc > want)
                        return i;
        }
        return LAT_BUCKETS;
}

double bn_blk_load_iops(struct bn_blk_load *l)
{
        double s = (double)(l->t_last - l->t_start) / 1e9;
        return s > 0 ? (double)(l->reads + l->writes) / s : 0;
}

double bn_blk_load_p99_us(struct bn_blk_load *l)
{
        return pct_us(l, 0.99);
}

void bn_blk_load_report(struct bn_blk_load *l, FILE *f, const char *label)
{
        double s = (double)(l->t_last - l->t_start) / 1e9;
        fprintf(f,
                "%s: ops=%llu reads=%llu writes=%llu flushes=%llu discards=%llu time=%.2fs "
                "iops=%.0f bw=%.1fMB/s p50=%.0fus p99=%.0fus max=%lluus verified=%llu "
                "mismatches=%llu errors=%llu\n",
                label ? label : "blk", (unsigned long long)l->ops, (unsigned long long)l->reads,
                (unsigned long long)l->writes, (unsigned long long)l->flushes,
                (unsigned long long)l->discards, s, bn_blk_load_iops(l),
                s > 0 ? (double)l->bytes / s / 1e6 : 0, pct_us(l, 0.5), pct_us(l, 0.99),
                (unsigned long long)l->lat_max_us, (unsigned long long)l->verified,
                (unsigned long long)l->mismatches, (unsigned long long)l->errors);
}

uint64_t bn_blk_load_mismatches(struct bn_blk_load *l)
{
        return l->mismatches;
}
uint64_t bn_blk_load_errors(struct bn_blk_load *l)
{
        return l->errors;
}
uint64_t bn_blk_load_ops(struct bn_blk_load *l)
{
        return l->ops;
}
uint64_t bn_blk_load_verified(struct bn_blk_load *l)
{
        return l->verified;
}
