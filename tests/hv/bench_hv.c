/* bench_hv.c: micro-benchmark of the xensim provider (not a test): grant
 * copy throughput in batches, to and from guest pages, against plain
 * memcpy of the same bytes in the same run; and event-channel notify
 * round-trip latency between a Dom0 process and a guest process, blocking
 * in poll() and busy-polling. Starts its own xensim ($XENSIM or argv[1]). */
#include "bn_guest.h"
#include "bn_hv.h"
#include "hv_testutil.h"

#include <poll.h>

#define NPAGES 256
#define BATCH  32

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_copy(struct bn_hv *hv, struct bn_guest *g)
{
        static uint8_t local[NPAGES][4096];
        struct bn_gnt_copy_seg segs[BATCH];
        uint32_t pfn, refs[NPAGES];
        struct bn_gnt *gnt;
        double t0, t, copy_to, copy_from, mc;
        long n;
        int i, dir;

        CHECK_EQ(bn_gnt_open(hv, &gnt), 0);
        CHECK_EQ(bn_guest_alloc_pages(g, NPAGES, &pfn), 0);
        for (i = 0; i < NPAGES; i++)
                refs[i] = (uint32_t)bn_guest_grant(g, pfn + (uint32_t)i, 0, 0);
        memset(local, 1, sizeof(local));
        for (dir = 0; dir < 2; dir++) {
                n = 0;
                t0 = now_s();
                do {
                        for (i = 0; i < BATCH; i++) {
                                struct bn_gnt_copy_seg *s = &segs[i];
                                uint32_t k = (uint32_t)((n + i) % NPAGES);

                                memset(s, 0, sizeof(*s));
                                s->len = 4096;
                                if (dir == 0) {
                                        s->source.virt = local[k];
                                        s->dest.foreign.ref = refs[k];
                                        s->dest.foreign.domid = (uint16_t)bn_guest_domid(g);
                                        s->flags = BN_GNTCOPY_DEST_GREF;
                                } else {
                                        s->dest.virt = local[k];
                                        s->source.foreign.ref = refs[k];
                                        s->source.foreign.domid = (uint16_t)bn_guest_domid(g);
                                        s->flags = BN_GNTCOPY_SOURCE_GREF;
                                }
                        }
                        CHECK_EQ(bn_gnt_copy(gnt, BATCH, segs), 0);
                        for (i = 0; i < BATCH; i++)
                                CHECK_EQ(segs[i].status, 0);
                        n += BATCH;
                        t = now_s() - t0;
                } while (t < 1.0);
                if (dir == 0)
                        copy_to = (double)n * 4096 / t;
                else
                        copy_from = (double)n * 4096 / t;
        }
        n = 0;
        t0 = now_s();
        do {
                for (i = 0; i < BATCH; i++)
                        memcpy(bn_guest_page(g, pfn + (uint32_t)((n + i) % NPAGES)),
                               local[(n + i) % NPAGES], 4096);
                n += BATCH;
                t = now_s() - t0;
        } while (t < 1.0);
        mc = (double)n * 4096 / t;
        printf("grant copy to guest:   %.2f GB/s (%.0f segs/s), %.2fx memcpy\n", copy_to / 1e9,
               copy_to / 4096, copy_to / mc);
        printf("grant copy from guest: %.2f GB/s (%.0f segs/s), %.2fx memcpy\n", copy_from / 1e9,
               copy_from / 4096, copy_from / mc);
        printf("memcpy baseline:       %.2f GB/s\n", mc / 1e9);
        for (i = 0; i < NPAGES; i++)
                bn_guest_revoke(g, refs[i]);
        bn_gnt_close(gnt);
}

/* Wait for the next event on a port: poll (spin=0) or busy-poll. */
static int wait_ev(int fd, int (*pending)(void *), void *h, int spin)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int port;

        for (;;) {
                port = pending(h);
                if (port >= 0)
                        return port;
                if (!spin && poll(&p, 1, 5000) != 1)
                        return -ETIMEDOUT;
        }
}

static int dom0_pending(void *h)
{
        return bn_evtchn_pending(h);
}

static int guest_pending(void *h)
{
        return bn_guest_evtchn_pending(h);
}

static void bench_notify(struct bn_hv *hv, const char *dir)
{
        int pp[2], rounds = 20000, spin, i, port[2];
        struct bn_evtchn *e;
        double t0, t;
        pid_t pid;

        CHECK(pipe(pp) == 0);
        fflush(NULL);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) { /* the guest process: echo every event */
                struct bn_guest *g;
                int gp;

                CHECK_EQ(bn_guest_create(&g, dir, "bench-echo", 4), 0);
                gp = bn_guest_evtchn_alloc_unbound(g, 0);
                port[0] = (int)bn_guest_domid(g);
                port[1] = gp;
                CHECK(write(pp[1], port, sizeof(port)) == sizeof(port));
                for (spin = 0; spin < 2; spin++)
                        for (i = 0; i < rounds; i++) {
                                CHECK(wait_ev(bn_guest_evtchn_fd(g), guest_pending, g, spin) == gp);
                                bn_guest_evtchn_unmask(g, (uint32_t)gp);
                                while (bn_guest_evtchn_notify(g, (uint32_t)gp) == -ENOTCONN)
                                        ;
                        }
                bn_guest_destroy(g);
                _exit(0);
        }
        CHECK(read(pp[0], port, sizeof(port)) == sizeof(port));
        CHECK_EQ(bn_evtchn_open(hv, &e), 0);
        port[1] = bn_evtchn_bind_interdomain(e, (uint32_t)port[0], (uint32_t)port[1]);
        CHECK(port[1] > 0);
        for (spin = 0; spin < 2; spin++) {
                t0 = now_s();
                for (i = 0; i < rounds; i++) {
                        CHECK_EQ(bn_evtchn_notify(e, (uint32_t)port[1]), 0);
                        CHECK(wait_ev(bn_evtchn_fd(e), dom0_pending, e, spin) == port[1]);
                        bn_evtchn_unmask(e, (uint32_t)port[1]);
                }
                t = now_s() - t0;
                printf("notify round trip (%s): %.1f us\n", spin ? "busy-poll" : "poll()",
                       t / rounds * 1e6);
        }
        bn_evtchn_close(e);
        waitpid(pid, NULL, 0);
        close(pp[0]);
        close(pp[1]);
}

int main(int argc, char **argv)
{
        struct bn_guest *g;
        struct hv_sim sim;
        struct bn_hv *hv;

        hv_sim_start(&sim, argc > 1 ? argv[1] : NULL);
        CHECK_EQ(bn_hv_open(&hv, "xensim", sim.dir), 0);
        CHECK_EQ(bn_guest_create(&g, sim.dir, "bench", NPAGES + 16), 0);
        bench_copy(hv, g);
        bn_guest_destroy(g);
        bench_notify(hv, sim.dir);
        bn_hv_close(hv);
        hv_sim_stop(&sim);
        return 0;
}
