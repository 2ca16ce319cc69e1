/* bf_mig.c: live migration of sim-blkguest (docs/migration.md): the vbd is
 * declared on the destination's xensim (pre-copy), the front-end stops
 * taking requests and drains what is in flight for a while (stop-and-copy),
 * and on "go" it connects there the way Linux's blkfront does after a
 * resume: new rings and grants, and every request that was not answered
 * on the source is submitted again. On "abort" it goes on at the source.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "blkfront.h"
#include "bn_guest.h"

static double mono(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bf_migrate(struct bf *f, const char *dir, const char *const *extra, struct bn_blk_load *load)
{
        static char dirs[2][256]; /* fe.sim_dir points here: one for each side */
        static unsigned flip;
        char *dest = dirs[flip++ & 1];
        struct bn_blk_load_req *again[BF_MAX_SLOTS];
        struct bn_guest *old = f->g;
        struct bf nf = {0};
        unsigned n = 0;
        double end;
        int rc, go;

        snprintf(dest, sizeof(dirs[0]), "%s", dir);
        nf.o = f->o;
        if ((rc = bn_guest_create(&nf.g, dest, f->o->name, bf_mem_pages(f->o))) < 0)
                goto fail;
        bn_guest_fe_init(&nf.fe, nf.g, dest, "blkguest", "vbd", f->o->devid, 0);
        if ((rc = bn_guest_fe_declare(&nf.fe, NULL, extra)) < 0 ||
            (rc = bn_guest_xb_wait_state(nf.g, nf.fe.be_path, XenbusStateInitWait, 10000)) < 0)
                goto fail;
        bn_guest_mig_state(old, "precopied");
        /* stop-and-copy: no new request; let those in flight finish */
        end = mono() + f->o->drain_ms / 1000.0;
        while (f->nfree < f->nslots && mono() < end) {
                struct pollfd p = {bn_guest_evtchn_fd(old), POLLIN, 0};
                int port;
                if (bf_poll_responses(f, load))
                        continue;
                poll(&p, 1, 1);
                while ((port = bn_guest_evtchn_pending(old)) >= 0)
                        bn_guest_evtchn_unmask(old, (uint32_t)port);
        }
        bn_guest_mig_state(old, "suspended");
        go = bn_guest_mig_wait_go(old, 20000);
        if (go != 1) {
                printf("blkguest: migration to %s %s, staying\n", dest,
                       go == 0 ? "aborted" : "not confirmed");
                rc = 0;
                goto fail;
        }
        for (unsigned i = 0; i < f->nslots; i++)
                if (f->slot[i].busy && f->slot[i].lr)
                        again[n++] = f->slot[i].lr;
        if ((rc = bf_connect(&nf)) < 0) {
                fprintf(stderr, "blkguest: cannot connect on %s after the move: %s\n", dest,
                        strerror(-rc));
                return rc; /* the source was told to let go: nothing to go back to */
        }
        /* leave the source: its domain (and the Spike serving it) goes */
        bn_guest_xb_set_state(old, f->fe.fe_path, XenbusStateClosed);
        bn_guest_fe_undeclare(&f->fe, NULL);
        bn_guest_destroy(old);
        *f = nf;
        for (unsigned i = 0; i < n; i++)
                if ((rc = bf_submit(f, again[i])) < 0)
                        bn_blk_load_complete(load, again[i], rc);
        bf_push(f);
        printf("blkguest: migrated to %s as domain %u, %u request(s) submitted again\n", dest,
               bn_guest_domid(f->g), n);
        fflush(stdout);
        return 0;
fail:
        if (rc < 0) {
                fprintf(stderr, "blkguest: migration to %s failed: %s\n", dest, strerror(-rc));
                bn_guest_mig_state(old, "failed");
        }
        if (nf.g) {
                bn_guest_fe_undeclare(&nf.fe, NULL);
                bn_guest_destroy(nf.g);
        }
        fflush(stdout);
        return 0;
}
