/* blkguest.c: sim-blkguest, a simulated DomU with a blkfront over xensim
 * (libbn_guest): the toolstack part (declares backend/vbd/<dom>/<devid>),
 * the blkfront handshake (ring-page-order, multi-queue, indirect segments,
 * persistent grants), and the load generator / verifier of blk_load.h
 * driving the rings. Hostile modes (--evil) send one request that breaks the
 * protocol and expect the back-end to close the vbd.
 *
 * SIGUSR1 ends a load run early and cleanly (what is in flight completes).
 *
 * Output: "blkguest: vbd ... connected, Q queue(s), ring of P page(s),
 * S sectors, info I" then the load report line of bn_blk_load_report.
 * Exit 0 when the run had no mismatch and no error (or, with
 * --expect-errors, when it had errors but no mismatch; with --evil, when the
 * back-end closed the vbd; with --evil-handshake, when it refused the broken
 * handshake). */
#include "blkfront.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "bn_guest.h"
#include "bn_hv.h"

static volatile sig_atomic_t stop_flag, finish_flag;

static void on_signal(int sig)
{
        (void)sig;
        stop_flag = 1;
}

/* SIGUSR1: end the load run now, cleanly (what is in flight completes). */
static void on_usr1(int sig)
{
        (void)sig;
        finish_flag = 1;
}

static double mono(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The back-end keys the toolstack writes for this vbd. */
static void xl_extra(const struct bf_opts *o, const char *extra[7])
{
        unsigned n = 0;

        extra[n++] = "params";
        extra[n++] = "banana";
        if (o->readonly_mode) {
                extra[n++] = "mode";
                extra[n++] = "r";
        }
        if (o->vdev) {
                extra[n++] = "dev";
                extra[n++] = o->vdev;
        }
        extra[n] = NULL;
}

static void usage(void)
{
        fprintf(stderr,
                "usage: sim-blkguest --name NAME [--devid N] [--sim-dir DIR]\n"
                "  [--ring-order N] [--queues N] [--indirect N] [--persistent 0|1]\n"
                "  [--bs BYTES] [--qd N] [--seconds S] [--write-pct P] [--seq] [--verify]\n"
                "  [--flush-every N] [--discard-every N] [--blocks N] [--seed N]\n"
                "  [--mode mixed|fill|check] [--gen G] [--expect-errors]\n"
                "  [--wait-sectors N] [--readonly-mode] [--vdev NAME] [--timeout S]\n"
                "  [--final-flush] [--discard-blocks FIRST:N] [--idle S]\n"
                "  [--migrate-drain-ms N]  (a migration: let requests finish N ms, default\n"
                "                           200; 0: resubmit all on the destination)\n"
                "  [--slow-log FILE]  (each request that waited over 2 ms: wall-clock end\n"
                "                      and wait in ms, one a line; bench/migrate)\n"
                "  [--evil bad-gref|bad-sector|too-many-segs|prod-far-ahead]\n"
                "  [--evil-handshake MODE [--leave]]  MODE: %s\n",
                bf_evil_handshake_modes());
}

static int parse_opts(int argc, char **argv, struct bf_opts *o)
{
        static const struct option lo[] = {{"name", 1, 0, 'n'},
                                           {"devid", 1, 0, 'i'},
                                           {"sim-dir", 1, 0, 'D'},
                                           {"ring-order", 1, 0, 'o'},
                                           {"queues", 1, 0, 'Q'},
                                           {"indirect", 1, 0, 'I'},
                                           {"persistent", 1, 0, 'P'},
                                           {"bs", 1, 0, 'b'},
                                           {"qd", 1, 0, 'q'},
                                           {"seconds", 1, 0, 's'},
                                           {"write-pct", 1, 0, 'w'},
                                           {"seq", 0, 0, 'S'},
                                           {"verify", 0, 0, 'V'},
                                           {"flush-every", 1, 0, 'f'},
                                           {"discard-every", 1, 0, 'd'},
                                           {"blocks", 1, 0, 'B'},
                                           {"seed", 1, 0, 'z'},
                                           {"mode", 1, 0, 'm'},
                                           {"gen", 1, 0, 'g'},
                                           {"expect-errors", 0, 0, 'E'},
                                           {"wait-sectors", 1, 0, 'W'},
                                           {"readonly-mode", 0, 0, 'R'},
                                           {"vdev", 1, 0, 'v'},
                                           {"timeout", 1, 0, 't'},
                                           {"evil", 1, 0, 'e'},
                                           {"evil-handshake", 1, 0, 'H'},
                                           {"leave", 0, 0, 'G'},
                                           {"final-flush", 0, 0, 'F'},
                                           {"idle", 1, 0, 'L'},
                                           {"migrate-drain-ms", 1, 0, 'M'},
                                           {"discard-blocks", 1, 0, 'X'},
                                           {"slow-log", 1, 0, 'y'},
                                           {"help", 0, 0, 'h'},
                                           {0, 0, 0, 0}};
        int r;

        o->queues = 1;
        o->indirect = 256;
        o->persistent = 1;
        o->timeout = 60;
        o->drain_ms = 200;
        o->cfg.bs = 4096;
        o->cfg.qd = 32;
        o->cfg.seconds = 2;
        o->cfg.write_pct = 50;
        o->cfg.random = 1;
        o->cfg.fill_gen = 1;
        o->cfg.seed = 1;
        while ((r = getopt_long(argc, argv, "", lo, NULL)) != -1) {
                switch (r) {
                case 'n':
                        o->name = optarg;
                        break;
                case 'i':
                        o->devid = (uint32_t)strtoul(optarg, NULL, 0);
                        break;
                case 'D':
                        o->sim_dir = optarg;
                        break;
                case 'o':
                        o->ring_order = (unsigned)atoi(optarg);
                        break;
                case 'Q':
                        o->queues = (unsigned)atoi(optarg);
                        break;
                case 'I':
                        o->indirect = (unsigned)atoi(optarg);
                        break;
                case 'P':
                        o->persistent = atoi(optarg) != 0;
                        break;
                case 'b':
                        o->cfg.bs = (uint32_t)strtoul(optarg, NULL, 0);
                        break;
                case 'q':
                        o->cfg.qd = (uint32_t)atoi(optarg);
                        break;
                case 's':
                        o->cfg.seconds = atof(optarg);
                        break;
                case 'w':
                        o->cfg.write_pct = (uint32_t)atoi(optarg);
                        break;
                case 'S':
                        o->cfg.random = 0;
                        break;
                case 'V':
                        o->cfg.verify = 1;
                        break;
                case 'f':
                        o->cfg.flush_every = (uint32_t)atoi(optarg);
                        break;
                case 'd':
                        o->cfg.discard_every = (uint32_t)atoi(optarg);
                        break;
                case 'B':
                        o->max_blocks = strtoull(optarg, NULL, 0);
                        break;
                case 'z':
                        o->cfg.seed = strtoull(optarg, NULL, 0);
                        break;
                case 'm':
                        if (!strcmp(optarg, "fill"))
                                o->cfg.mode = BN_BLK_LOAD_FILL;
                        else if (!strcmp(optarg, "check"))
                                o->cfg.mode = BN_BLK_LOAD_CHECK;
                        else if (!strcmp(optarg, "mixed"))
                                o->cfg.mode = BN_BLK_LOAD_MIXED;
                        else
                                return -EINVAL;
                        break;
                case 'g':
                        o->cfg.fill_gen = (uint32_t)atoi(optarg);
                        break;
                case 'E':
                        o->expect_errors = true;
                        break;
                case 'W':
                        o->wait_sectors = strtoull(optarg, NULL, 0);
                        break;
                case 'v':
                        o->vdev = optarg;
                        break;
                case 'R':
                        o->readonly_mode = true;
                        break;
                case 't':
                        o->timeout = atof(optarg);
                        break;
                case 'H':
                        o->evil_hs = optarg;
                        break;
                case 'G':
                        o->leave = true;
                        break;
                case 'e':
                        o->evil = optarg;
                        break;
                case 'F':
                        o->final_flush = true;
                        break;
                case 'L':
                        o->idle = atof(optarg);
                        break;
                case 'M':
                        o->drain_ms = (unsigned)atoi(optarg);
                        break;
                case 'y':
                        if (!(o->cfg.slow_log = fopen(optarg, "we"))) {
                                fprintf(stderr, "blkguest: %s: %s\n", optarg, strerror(errno));
                                return -errno;
                        }
                        setvbuf(o->cfg.slow_log, NULL, _IOLBF, 0);
                        break;
                case 'X':
                        if (sscanf(optarg, "%" SCNu64 ":%u", &o->discard_first, &o->discard_n) != 2)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (!o->name || !o->cfg.bs || o->cfg.bs % 512 || o->cfg.bs > 256 * 4096 || !o->cfg.qd ||
            o->cfg.qd > BF_MAX_SLOTS || o->queues < 1 || o->queues > BF_MAX_QUEUES ||
            o->ring_order > 4)
                return -EINVAL;
        if (o->cfg.mode != BN_BLK_LOAD_MIXED)
                o->cfg.verify = 1;
        return 0;
}

/* Drive the load through the rings until it is over. */
static int run_load(struct bf *f, struct bn_blk_load *load, double deadline)
{
        int evfd = bn_guest_evtchn_fd(f->g);
        double mig_check = 0;

        for (;;) {
                struct bn_blk_load_req *lr;
                int port;

                if (mono() - mig_check > 0.02) { /* asked to migrate? */
                        const char *extra[7];
                        char dir[256];
                        mig_check = mono();
                        xl_extra(f->o, extra);
                        if (bn_guest_mig_asked(f->g, dir, sizeof(dir)) == 1) {
                                if (bf_migrate(f, dir, extra, load) < 0)
                                        return -EPIPE;
                                evfd = bn_guest_evtchn_fd(f->g);
                        }
                }

                if (finish_flag)
                        bn_blk_load_finish(load);

                while (bf_has_free_slot(f) && (lr = bn_blk_load_next(load))) {
                        int rc = bf_submit(f, lr);
                        if (rc < 0) {
                                bn_blk_load_complete(load, lr, rc);
                                continue;
                        }
                }
                bf_push(f);
                if (bn_blk_load_done(load))
                        return 0;
                if (stop_flag || mono() > deadline) {
                        fprintf(stderr, "blkguest: %s with %u request(s) outstanding\n",
                                stop_flag ? "stopped" : "timed out", bn_blk_load_outstanding(load));
                        return -ETIMEDOUT;
                }
                if (bf_closed(f)) {
                        fprintf(stderr, "blkguest: the back-end closed the vbd\n");
                        return -EPIPE;
                }
                if (!bf_poll_responses(f, load)) {
                        struct pollfd p = {evfd, POLLIN, 0};
                        poll(&p, 1, 50);
                        while ((port = bn_guest_evtchn_pending(f->g)) >= 0)
                                bn_guest_evtchn_unmask(f->g, (uint32_t)port);
                }
        }
}

int main(int argc, char **argv)
{
        struct bf_opts o = {0};
        struct bf f = {0};
        struct bn_blk_load *load = NULL;
        const char *extra[7];
        double deadline;
        int ret = 1, rc;

        if (parse_opts(argc, argv, &o) < 0) {
                usage();
                return 2;
        }
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGUSR1, on_usr1);
        signal(SIGPIPE, SIG_IGN);
        rc = bn_guest_create(&f.g, o.sim_dir, o.name, bf_mem_pages(&o));
        if (rc < 0) {
                fprintf(stderr, "blkguest: cannot create domain '%s': %s\n", o.name, strerror(-rc));
                return 1;
        }
        f.o = &o;
        bn_guest_fe_init(&f.fe, f.g, o.sim_dir, "blkguest", "vbd", o.devid, 0);
        xl_extra(&o, extra);
        deadline = mono() + o.timeout;
        if (bn_guest_fe_declare(&f.fe, NULL, extra) < 0)
                goto out;
        if (o.evil_hs) {
                ret = bf_connect(&f) == 0 ? 0 : 1;
                goto out;
        }
        if (bf_connect(&f) < 0)
                goto out;
        if (o.wait_sectors) {
                if (bf_wait_sectors(&f, o.wait_sectors, deadline) < 0) {
                        fprintf(stderr, "blkguest: the disk never reached %" PRIu64 " sectors\n",
                                o.wait_sectors);
                        goto out;
                }
                printf("blkguest: disk grew to %" PRIu64 " sectors\n", f.sectors);
                fflush(stdout);
        }
        if (o.evil) {
                ret = bf_evil(&f, o.evil, deadline) == 0 ? 0 : 1;
                goto out;
        }
        o.cfg.nblocks = f.sectors * 512 / o.cfg.bs;
        if (o.max_blocks && o.cfg.nblocks > o.max_blocks)
                o.cfg.nblocks = o.max_blocks;
        if (o.cfg.nblocks < o.cfg.qd * 2u) {
                fprintf(stderr, "blkguest: disk of %" PRIu64 " sectors too small for the load\n",
                        f.sectors);
                goto out;
        }
        rc = bn_blk_load_new(&load, &o.cfg);
        if (rc < 0) {
                fprintf(stderr, "blkguest: bad load parameters: %s\n", strerror(-rc));
                goto out;
        }
        deadline = mono() + o.cfg.seconds + o.timeout;
        rc = run_load(&f, load, deadline);
        bn_blk_load_report(load, stdout, "blkguest");
        fflush(stdout);
        if (rc == 0 && o.idle > 0) {
                /* stay connected, doing nothing (persistent grants go idle) */
                double end = mono() + o.idle;
                while (!stop_flag && mono() < end && !bf_closed(&f))
                        usleep(50000);
        }
        if (rc == 0 && o.final_flush) {
                rc = bf_sync(&f, BN_BLK_LOAD_FLUSH, 0, 0, deadline);
                printf("blkguest: final flush %s\n", rc ? strerror(-rc) : "acknowledged");
        }
        if (rc == 0 && o.discard_n) {
                rc = bf_sync(&f, BN_BLK_LOAD_DISCARD, o.discard_first, o.discard_n, deadline);
                printf("blkguest: discard of %u block(s) at %" PRIu64 " %s\n", o.discard_n,
                       o.discard_first, rc ? strerror(-rc) : "acknowledged");
        }
        fflush(stdout);
        if (rc == 0 && o.idle > 0) {
                /* stay connected, doing nothing (persistent grants go idle) */
                double end = mono() + o.idle;
                while (!stop_flag && mono() < end && !bf_closed(&f))
                        usleep(50000);
        }
        if (rc == 0 && !bn_blk_load_mismatches(load) && bn_blk_load_ops(load) &&
            (o.expect_errors ? bn_blk_load_errors(load) > 0 : !bn_blk_load_errors(load)))
                ret = 0;
out:
        bn_blk_load_free(load);
        if (o.cfg.slow_log)
                fclose(o.cfg.slow_log);
        if (f.g) {
                bf_close(&f);
                bn_guest_fe_undeclare(&f.fe, NULL);
                bn_guest_destroy(f.g);
        }
        return ret;
}
