/* blk_corm_load.c: the block load generator / verifier (sim/blkguest/
 * blk_load.h) driven straight into a disk Corm, without a guest or a ring:
 * used by tests/blk against real files, nbdkit and qemu-nbd, and by
 * bench/blk as the "Corm alone" reference.
 *
 *   blk-corm-load (--uring PATH [--direct] | --nbd URI) [--mode mixed|fill|check]
 *       [--seconds S] [--qd N] [--bs BYTES] [--write-pct P] [--seq] [--no-verify]
 *       [--flush-every N] [--discard-every N] [--gen G] [--blocks N]
 *       [--connect-timeout S] [--min-reconnects N] [--create-mb N (scratch file)]
 *
 * Exit status 0 when the run completed with no mismatch and no error (and
 * at least --min-reconnects NBD reconnections), 1 otherwise. */
#include "devices/blk/bn_blk_corm.h"
#include "sim/blkguest/blk_load.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ctx {
        struct bn_blk_io io;
        struct iovec iov;
        struct bn_blk_load_req *req;
        struct bn_blk_load *load;
        struct ctx *next_free;
};

static void on_done(struct bn_blk_io *io)
{
        struct ctx *x = io->opaque;
        bn_blk_load_complete(x->load, x->req, io->result);
        x->req = NULL;
}

static double mono(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        struct bn_blk_load_cfg cfg = {.mode = BN_BLK_LOAD_MIXED,
                                      .bs = 4096,
                                      .qd = 16,
                                      .write_pct = 50,
                                      .random = 1,
                                      .verify = 1,
                                      .seconds = 3,
                                      .fill_gen = 1,
                                      .seed = 1};
        const char *upath = NULL, *uri = NULL;
        int direct = 0, rc = 1;
        double connect_timeout = 20;
        unsigned long long max_blocks = 0, min_reconnects = 0, create_mb = 0;
        struct bn_blk_corm *c = NULL;
        struct bn_blk_load *load = NULL;
        struct ctx *ctxs = NULL;
        uint64_t size = 0;
        int r;
        static const struct option lo[] = {{"uring", 1, 0, 'u'},
                                           {"nbd", 1, 0, 'n'},
                                           {"direct", 0, 0, 'D'},
                                           {"mode", 1, 0, 'm'},
                                           {"seconds", 1, 0, 's'},
                                           {"qd", 1, 0, 'q'},
                                           {"bs", 1, 0, 'b'},
                                           {"write-pct", 1, 0, 'w'},
                                           {"seq", 0, 0, 'S'},
                                           {"no-verify", 0, 0, 'V'},
                                           {"flush-every", 1, 0, 'f'},
                                           {"discard-every", 1, 0, 'd'},
                                           {"gen", 1, 0, 'g'},
                                           {"blocks", 1, 0, 'B'},
                                           {"connect-timeout", 1, 0, 'c'},
                                           {"min-reconnects", 1, 0, 'R'},
                                           {"seed", 1, 0, 'z'},
                                           {"create-mb", 1, 0, 'C'},
                                           {0, 0, 0, 0}};

        while ((r = getopt_long(argc, argv, "", lo, NULL)) != -1) {
                switch (r) {
                case 'u':
                        upath = optarg;
                        break;
                case 'n':
                        uri = optarg;
                        break;
                case 'D':
                        direct = 1;
                        break;
                case 'm':
                        cfg.mode = !strcmp(optarg, "fill")    ? BN_BLK_LOAD_FILL
                                   : !strcmp(optarg, "check") ? BN_BLK_LOAD_CHECK
                                                              : BN_BLK_LOAD_MIXED;
                        break;
                case 's':
                        cfg.seconds = atof(optarg);
                        break;
                case 'q':
                        cfg.qd = (uint32_t)atoi(optarg);
                        break;
                case 'b':
                        cfg.bs = (uint32_t)atoi(optarg);
                        break;
                case 'w':
                        cfg.write_pct = (uint32_t)atoi(optarg);
                        break;
                case 'S':
                        cfg.random = 0;
                        break;
                case 'V':
                        cfg.verify = 0;
                        break;
                case 'f':
                        cfg.flush_every = (uint32_t)atoi(optarg);
                        break;
                case 'd':
                        cfg.discard_every = (uint32_t)atoi(optarg);
                        break;
                case 'g':
                        cfg.fill_gen = (uint32_t)atoi(optarg);
                        break;
                case 'B':
                        max_blocks = strtoull(optarg, NULL, 0);
                        break;
                case 'c':
                        connect_timeout = atof(optarg);
                        break;
                case 'R':
                        min_reconnects = strtoull(optarg, NULL, 0);
                        break;
                case 'z':
                        cfg.seed = strtoull(optarg, NULL, 0);
                        break;
                case 'C':
                        create_mb = strtoull(optarg, NULL, 0);
                        break;
                default:
                        fprintf(stderr, "blk-corm-load: bad option\n");
                        return 2;
                }
        }
        if (!!upath == !!uri) {
                fprintf(stderr, "blk-corm-load: give exactly one of --uring PATH, --nbd URI\n");
                return 2;
        }
        if (upath && create_mb) {
                /* a scratch disk for this run, removed at the end */
                int fd = open(upath, O_CREAT | O_EXCL | O_RDWR, 0600);
                if (fd < 0 || ftruncate(fd, (off_t)(create_mb << 20)) < 0) {
                        fprintf(stderr, "blk-corm-load: create %s: %s\n", upath, strerror(errno));
                        if (fd >= 0) {
                                close(fd);
                                unlink(upath);
                        }
                        return 1;
                }
                close(fd);
        }
        if (upath) {
                struct bn_blk_uring_opts o = {.direct = direct, .depth = cfg.qd * 2};
                r = bn_blk_uring_open(&c, upath, &o);
        } else {
                r = bn_blk_nbd_open(&c, uri, NULL);
        }
        if (r < 0) {
                fprintf(stderr, "blk-corm-load: open %s: %s\n", upath ? upath : uri, strerror(-r));
                return 1;
        }
        if (uri) {
                double t0 = mono();
                while (!bn_blk_nbd_connected(c) && mono() - t0 < connect_timeout)
                        bn_blk_corm_wait(c, 100);
                if (!bn_blk_nbd_connected(c)) {
                        fprintf(stderr, "blk-corm-load: %s: not connected after %.0fs\n", uri,
                                connect_timeout);
                        goto out;
                }
        }
        if ((r = bn_blk_corm_size(c, &size)) < 0) {
                fprintf(stderr, "blk-corm-load: size: %s\n", strerror(-r));
                goto out;
        }
        cfg.nblocks = size / cfg.bs;
        if (max_blocks && cfg.nblocks > max_blocks)
                cfg.nblocks = max_blocks;
        if ((r = bn_blk_load_new(&load, &cfg)) < 0) {
                fprintf(stderr, "blk-corm-load: load config: %s\n", strerror(-r));
                goto out;
        }
        ctxs = calloc(cfg.qd, sizeof(*ctxs));
        if (!ctxs)
                goto out;
        for (;;) {
                struct bn_blk_load_req *q;
                uint32_t slot;
                while ((q = bn_blk_load_next(load))) {
                        struct ctx *x = &ctxs[q->slot];
                        slot = q->slot;
                        (void)slot;
                        x->load = load;
                        x->req = q;
                        x->iov = (struct iovec){q->buf, cfg.bs};
                        x->io = (struct bn_blk_io){.offset = q->blk * cfg.bs,
                                                   .len = cfg.bs,
                                                   .iov = &x->iov,
                                                   .niov = 1,
                                                   .done = on_done,
                                                   .opaque = x};
                        switch (q->op) {
                        case BN_BLK_LOAD_READ:
                                x->io.op = BN_BLK_IO_READ;
                                break;
                        case BN_BLK_LOAD_WRITE:
                                x->io.op = BN_BLK_IO_WRITE;
                                break;
                        case BN_BLK_LOAD_FLUSH:
                                x->io.op = BN_BLK_IO_FLUSH;
                                x->io.len = 0;
                                x->io.niov = 0;
                                break;
                        case BN_BLK_LOAD_DISCARD:
                                x->io.op = BN_BLK_IO_DISCARD;
                                x->io.niov = 0;
                                break;
                        }
                        if ((r = bn_blk_corm_submit(c, &x->io)) < 0) {
                                fprintf(stderr, "blk-corm-load: submit: %s\n", strerror(-r));
                                bn_blk_load_complete(load, q, r);
                        }
                }
                if (bn_blk_load_done(load))
                        break;
                bn_blk_corm_wait(c, 100);
        }
        bn_blk_load_report(load, stdout, upath ? "uring" : "nbd");
        if (uri)
                printf("nbd: reconnects=%llu\n", (unsigned long long)bn_blk_nbd_reconnects(c));
        rc = bn_blk_load_mismatches(load) || bn_blk_load_errors(load) || !bn_blk_load_ops(load);
        if (uri && bn_blk_nbd_reconnects(c) < min_reconnects) {
                fprintf(stderr, "blk-corm-load: %llu reconnects, wanted at least %llu\n",
                        (unsigned long long)bn_blk_nbd_reconnects(c), min_reconnects);
                rc = 1;
        }
out:
        bn_blk_corm_destroy(c);
        if (upath && create_mb)
                unlink(upath);
        bn_blk_load_free(load);
        free(ctxs);
        return rc;
}
