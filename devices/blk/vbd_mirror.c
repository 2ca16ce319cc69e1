/* vbd_mirror.c: the disk Corm's side of `bananactl swap-corm` (the class's
 * corm_mirror, bn_devclass.h). START opens the new Corm's device (a path
 * through io_uring, or an nbd:// URI: the new Corm's host serving it) and
 * puts the mirror provider (corm_mirror.c) in front of the Corm's disk, so
 * that the Spikes' writes go to both and a copier copies the rest; STOP
 * takes it away again (what is in flight completes first) and the Corm
 * goes on with its own disk alone. Everything runs on ep->loop. */
#include "vbd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "bn_endpoint.h"
#include "bn_log.h"

#define MIRROR_CONNECT_MS 3000 /* an NBD target must answer by then */

static uint64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The new Corm's device, ready (an NBD target connected). */
static int open_target(struct bn_blk_corm **out, const char *target, char *err, size_t errlen)
{
        struct bn_blk_corm *d = NULL;
        uint64_t t0 = mono_ms();
        int r;

        if (!strncmp(target, "nbd", 3)) {
                if ((r = bn_blk_nbd_open(&d, target, NULL))) {
                        snprintf(err, errlen, "cannot open the new Corm at %s: %s", target,
                                 strerror(-r));
                        return r;
                }
                while (!bn_blk_nbd_connected(d) && mono_ms() - t0 < MIRROR_CONNECT_MS)
                        bn_blk_corm_wait(d, 20);
                if (!bn_blk_nbd_connected(d)) {
                        snprintf(err, errlen, "the new Corm at %s does not answer (%d ms)", target,
                                 MIRROR_CONNECT_MS);
                        bn_blk_corm_destroy(d);
                        return -ETIMEDOUT;
                }
        } else {
                struct bn_blk_uring_opts o = {.direct = -1, .depth = 256};
                if (access(target, W_OK) != 0) {
                        r = -errno;
                        snprintf(err, errlen, "the new Corm's file %s is not writable: %s", target,
                                 strerror(errno));
                        return r;
                }
                if ((r = bn_blk_uring_open(&d, target, &o))) {
                        snprintf(err, errlen, "cannot open the new Corm's file %s: %s", target,
                                 strerror(-r));
                        return r;
                }
        }
        *out = d;
        return 0;
}

static int mirror_start(struct vbd_corm *c, const char *target, const struct bn_corm_mirror_st *st,
                        char *err, size_t errlen)
{
        struct bn_blk_mirror_opts mo = {.rate = st ? st->rate : 0};
        struct bn_blk_corm *d = NULL, *m = NULL;
        uint64_t dsize = 0;
        int r;

        if (bn_blk_is_mirror(c->disk)) {
                snprintf(err, errlen, "%s is already being copied", c->ep->name);
                return -EBUSY;
        }
        if (c->readonly) {
                snprintf(err, errlen, "%s is read-only: there is nothing to mirror", c->ep->name);
                return -EROFS;
        }
        if ((r = open_target(&d, target, err, errlen)))
                return r;
        bn_blk_corm_size(d, &dsize);
        if ((r = bn_blk_mirror_open(&m, c->disk, d, &mo))) {
                if (r == -ENOSPC)
                        snprintf(err, errlen,
                                 "the new Corm %s (%" PRIu64 " bytes) is smaller than %s (%" PRIu64
                                 " bytes)",
                                 target, dsize, c->ep->name, c->size);
                else
                        snprintf(err, errlen, "cannot mirror %s to %s: %s", c->ep->name, target,
                                 strerror(-r));
                bn_blk_corm_destroy(d);
                return r;
        }
        c->disk = m;
        vbd_corm_rearm(c);
        bn_info(c->ep->name, "mirroring writes to %s and copying %" PRIu64 " bytes there", target,
                c->size);
        return 0;
}

static void mirror_stop(struct vbd_corm *c)
{
        struct bn_blk_mirror_stats s;

        if (!bn_blk_is_mirror(c->disk))
                return;
        bn_blk_mirror_stats(c->disk, &s);
        c->disk = bn_blk_mirror_end(c->disk);
        vbd_corm_rearm(c);
        bn_info(c->ep->name,
                "mirror stopped: %" PRIu64 " of %" PRIu64 " bytes copied, %" PRIu64
                " write(s) waited for a chunk%s",
                s.copied, s.total, s.waited, s.error ? ", the new Corm failed" : "");
}

int vbd_corm_mirror(struct bn_endpoint *ep, int verb, const char *target,
                    struct bn_corm_mirror_st *st, char *err, size_t errlen)
{
        struct vbd_corm *c = ep->priv;
        struct bn_blk_mirror_stats s;

        if (!c->disk) {
                snprintf(err, errlen, "%s has no disk open", ep->name);
                return -ENODEV;
        }
        switch (verb) {
        case BN_CORM_MIRROR_START:
                if (!target) {
                        snprintf(err, errlen, "no new Corm given");
                        return -EINVAL;
                }
                return mirror_start(c, target, st, err, errlen);
        case BN_CORM_MIRROR_STATUS:
                memset(st, 0, sizeof(*st));
                if (!bn_blk_is_mirror(c->disk))
                        return 0;
                bn_blk_mirror_stats(c->disk, &s);
                st->active = 1;
                st->copied = s.copied;
                st->total = s.total;
                st->waited = s.waited;
                st->error = s.error;
                return 0;
        case BN_CORM_MIRROR_STOP:
                mirror_stop(c);
                return 0;
        }
        snprintf(err, errlen, "unknown mirror verb %d", verb);
        return -EINVAL;
}
