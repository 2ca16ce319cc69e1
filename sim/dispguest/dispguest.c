/* dispguest.c: sim-dispguest, a simulated guest with a Xen PV display
 * front-end (xen/io/displif.h, as Linux's drm_xen_front speaks it) on
 * xensim. It declares a vdispl device with one connector (its resolution
 * as the toolstack writes it), publishes a request ring and an event page,
 * creates a display buffer through a grant-reference directory, attaches
 * a frame buffer, draws a known pattern and flips pages, waiting for each
 * answer and each XENDISPL_EVT_PG_FLIP. --expect writes the last frame as
 * a PPM (what a snapshot must show); --hostile dir|offset sends a bad
 * DBUF_CREATE (prod: a request ring producer 1000 ahead) and expects the
 * back-end to close this device; --timestamps
 * prints "flip K T" (CLOCK_MONOTONIC, us) as flip K is asked for, and
 * --interval-ms paces the flips (bench/display/run); --draw-without-flip
 * then draws one more frame into the shown buffer without flipping, as
 * Linux's fbdev emulation does (--expect is that frame). With --stay,
 * each SIGUSR1 flips --flips more frames on the same buffer and writes
 * --expect again (a bananad restart in between must not be seen).
 * --connectors 2 declares a second connector of the same resolution that
 * shows the same frame buffer (SET_CONFIG on its own ring): a two-head
 * guest. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bn_guest.h"
#include "bn_xen_ring.h"
/* after bn_xen_ring.h */
#include <xen/io/displif.h>

#define DIR_PER_PAGE ((4096u - 4u) / 4u)

struct dg {
        const char *sim_dir, *name, *hostile, *expect;
        unsigned devid, w, h, flips, timeout_ms, interval_ms;
        bool stay, stamps, noflip;
        struct bn_guest *g;
        struct bn_guest_fe fe;
        unsigned nconn; /* connectors, all WxH; frames go to connector 0 */
        struct dg_conn {
                struct xen_displif_front_ring front;
                struct xendispl_event_page *evt;
                uint32_t evt_cons;
                int req_port, evt_port;
        } c[2];
        uint16_t next_id;
        uint32_t buf_pfn, npages, dir_pfn, ndir;
        int dir_ref0;
        double *lat_us;
};

static void say(struct dg *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct dg *d, const char *fmt, ...)
{
        va_list ap;
        printf("dispguest %s: ", d->name);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
}

static double now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static uint32_t pixel(unsigned x, unsigned y, unsigned frame)
{
        return ((x * 7 + frame * 31) & 0xff) << 16 | ((y * 5 + frame) & 0xff) << 8 |
               ((x ^ y) & 0xff);
}

/* Wait until a response with id arrives (status out), or an event when
 * want_evt; -ETIMEDOUT, or -EPIPE when the back-end left Connected. */
static int wait_for(struct dg *d, unsigned k, uint16_t id, int *status, bool *got_rsp,
                    bool *got_evt)
{
        struct dg_conn *c = &d->c[k];
        int efd = bn_guest_evtchn_fd(d->g);
        double end = now_us() + d->timeout_ms * 1000.0;
        for (;;) {
                int more;
                do {
                        RING_IDX rp = c->front.sring->rsp_prod;
                        xen_rmb();
                        while (c->front.rsp_cons != rp) {
                                struct xendispl_resp r;
                                memcpy(&r, RING_GET_RESPONSE(&c->front, c->front.rsp_cons),
                                       sizeof(r));
                                c->front.rsp_cons++;
                                if (r.id == id) {
                                        *status = r.status;
                                        *got_rsp = true;
                                }
                        }
                        RING_FINAL_CHECK_FOR_RESPONSES(&c->front, more);
                } while (more);
                uint32_t prod = __atomic_load_n(&c->evt->in_prod, __ATOMIC_ACQUIRE);
                while (c->evt_cons != prod) {
                        struct xendispl_evt e = XENDISPL_IN_RING_REF(c->evt, c->evt_cons);
                        c->evt_cons++;
                        if (e.type == XENDISPL_EVT_PG_FLIP && got_evt)
                                *got_evt = true;
                }
                __atomic_store_n(&c->evt->in_cons, c->evt_cons, __ATOMIC_RELEASE);
                if (*got_rsp && (!got_evt || *got_evt))
                        return 0;
                int st = bn_guest_xb_get_state(d->g, d->fe.be_path);
                if (st != XenbusStateConnected)
                        return -EPIPE;
                double left = end - now_us();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd pfd = {.fd = efd, .events = POLLIN};
                int ms = left > 50000 ? 50 : (int)(left / 1000) + 1;
                poll(&pfd, 1, ms);
                int p;
                while ((p = bn_guest_evtchn_pending(d->g)) >= 0)
                        bn_guest_evtchn_unmask(d->g, (uint32_t)p);
        }
}

/* Send one request on connector k; wait for its answer (and for a flip,
 * its event). */
static int request_on(struct dg *d, unsigned k, struct xendispl_req *req, bool flip)
{
        struct dg_conn *c = &d->c[k];
        req->id = d->next_id++;
        memcpy(RING_GET_REQUEST(&c->front, c->front.req_prod_pvt), req, sizeof(*req));
        c->front.req_prod_pvt++;
        int notify, status = 0;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&c->front, notify);
        if (notify)
                bn_guest_evtchn_notify(d->g, (uint32_t)c->req_port);
        bool rsp = false, evt = false;
        int rc = wait_for(d, k, req->id, &status, &rsp, flip ? &evt : NULL);
        if (rc)
                return rc;
        return status;
}

static int request(struct dg *d, struct xendispl_req *req, bool flip)
{
        return request_on(d, 0, req, flip);
}

static int publish(struct dg *d)
{
        for (unsigned k = 0; k < d->nconn; k++) {
                struct dg_conn *c = &d->c[k];
                int ref, eref, rc;
                uint32_t pfn, epfn;
                if ((rc = bn_guest_fe_grant_ring(&d->fe, 1, &pfn, &ref)) < 0)
                        return rc;
                struct xen_displif_sring *sr = bn_guest_page(d->g, pfn);
                SHARED_RING_INIT(sr);
                FRONT_RING_INIT(&c->front, sr, 4096);
                if ((rc = bn_guest_fe_grant_ring(&d->fe, 1, &epfn, &eref)) < 0)
                        return rc;
                c->evt = bn_guest_page(d->g, epfn);
                if ((c->req_port = bn_guest_evtchn_alloc_unbound(d->g, d->fe.be_domid)) < 0 ||
                    (c->evt_port = bn_guest_evtchn_alloc_unbound(d->g, d->fe.be_domid)) < 0)
                        return -EIO;
                const char *keys[] = {XENDISPL_FIELD_REQ_RING_REF, XENDISPL_FIELD_REQ_CHANNEL,
                                      XENDISPL_FIELD_EVT_RING_REF, XENDISPL_FIELD_EVT_CHANNEL};
                int vals[] = {ref, c->req_port, eref, c->evt_port};
                for (unsigned i = 0; i < 4; i++) {
                        char key[64];
                        snprintf(key, sizeof(key), "%u/%s", k, keys[i]);
                        if ((rc = bn_guest_fe_write(&d->fe, key, "%d", vals[i])))
                                return rc;
                }
        }
        return bn_guest_fe_write(&d->fe, XENDISPL_FIELD_FE_VERSION, "%s",
                                 XENDISPL_PROTOCOL_VERSION);
}

/* The display buffer's pages and its grant directory, read-only grants. */
static int make_buffer(struct dg *d)
{
        uint64_t bytes = (uint64_t)d->w * d->h * 4;
        d->npages = (uint32_t)((bytes + 4095) / 4096);
        d->ndir = (d->npages + DIR_PER_PAGE - 1) / DIR_PER_PAGE;
        int rc = bn_guest_alloc_pages(d->g, d->npages, &d->buf_pfn);
        if (!rc)
                rc = bn_guest_alloc_pages(d->g, d->ndir, &d->dir_pfn);
        if (rc)
                return rc;
        int dref[64];
        if (d->ndir > 64)
                return -E2BIG;
        for (uint32_t i = 0; i < d->ndir; i++)
                if ((dref[i] = bn_guest_grant(d->g, d->dir_pfn + i, d->fe.be_domid, 1)) < 0)
                        return dref[i];
        for (uint32_t p = 0; p < d->npages; p++) {
                int r = bn_guest_grant(d->g, d->buf_pfn + p, d->fe.be_domid, 1);
                if (r < 0)
                        return r;
                uint32_t *dir = bn_guest_page(d->g, d->dir_pfn + p / DIR_PER_PAGE);
                dir[1 + p % DIR_PER_PAGE] = (uint32_t)r;
        }
        for (uint32_t i = 0; i < d->ndir; i++) {
                uint32_t *dir = bn_guest_page(d->g, d->dir_pfn + i);
                dir[0] = i + 1 < d->ndir ? (uint32_t)dref[i + 1] : 0;
        }
        d->dir_ref0 = dref[0];
        return 0;
}

static void draw(struct dg *d, unsigned frame)
{
        /* the buffer's pages are contiguous guest pages */
        uint32_t *px = bn_guest_page(d->g, d->buf_pfn);
        for (unsigned y = 0; y < d->h; y++)
                for (unsigned x = 0; x < d->w; x++)
                        px[(size_t)y * d->w + x] = pixel(x, y, frame);
}

static int write_expect(struct dg *d, unsigned frame)
{
        FILE *f = fopen(d->expect, "wb");
        if (!f)
                return -errno;
        fprintf(f, "P6\n%u %u\n255\n", d->w, d->h);
        for (unsigned y = 0; y < d->h; y++)
                for (unsigned x = 0; x < d->w; x++) {
                        uint32_t p = pixel(x, y, frame);
                        unsigned char rgb[3] = {(unsigned char)(p >> 16), (unsigned char)(p >> 8),
                                                (unsigned char)p};
                        fwrite(rgb, 1, 3, f);
                }
        return fclose(f) ? -errno : 0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* Draw and flip frames first..first+flips-1, each waiting for its answer
 * and event; report the median. */
static int flip_frames(struct dg *d, unsigned first)
{
        struct xendispl_req r;
        int rc;
        free(d->lat_us);
        d->lat_us = calloc(d->flips ? d->flips : 1, sizeof(double));
        if (!d->lat_us)
                return -ENOMEM;
        for (unsigned k = first; k < first + d->flips; k++) {
                draw(d, k);
                r = (struct xendispl_req){.operation = XENDISPL_OP_PG_FLIP};
                r.op.pg_flip.fb_cookie = 11;
                double t0 = now_us();
                if (d->stamps)
                        printf("flip %u %.0f\n", k, t0);
                if ((rc = request(d, &r, true))) {
                        say(d, "PG_FLIP %u failed: %d", k, rc);
                        return rc < 0 ? rc : -EIO;
                }
                d->lat_us[k - first] = now_us() - t0;
                if (d->interval_ms)
                        usleep(d->interval_ms * 1000u);
        }
        if (d->flips) {
                qsort(d->lat_us, d->flips, sizeof(double), cmp_double);
                say(d, "%u page flip(s) answered with their events; flip to event median %.0f us",
                    d->flips, d->lat_us[d->flips / 2]);
        }
        return 0;
}

static int run(struct dg *d)
{
        int rc =
            bn_guest_fe_init(&d->fe, d->g, d->sim_dir, d->name, XENDISPL_DRIVER_NAME, d->devid, 0);
        if (!rc)
                rc = bn_guest_fe_declare(&d->fe, NULL, NULL);
        for (unsigned k = 0; !rc && k < d->nconn; k++) { /* the toolstack's connectors */
                char key[64];
                snprintf(key, sizeof(key), "%u/%s", k, XENDISPL_FIELD_RESOLUTION);
                rc = bn_guest_fe_write(&d->fe, key, "%ux%u", d->w, d->h);
        }
        if (rc)
                return rc;
        if ((rc = bn_guest_xb_wait_state(d->g, d->fe.be_path, XenbusStateInitWait,
                                         (int)d->timeout_ms)) ||
            (rc = publish(d)) ||
            (rc = bn_guest_xb_set_state(d->g, d->fe.fe_path, XenbusStateInitialised)) ||
            (rc = bn_guest_xb_wait_state(d->g, d->fe.be_path, XenbusStateConnected,
                                         (int)d->timeout_ms)) ||
            (rc = bn_guest_xb_set_state(d->g, d->fe.fe_path, XenbusStateConnected))) {
                say(d, "handshake failed: %s", strerror(-rc));
                return rc;
        }
        say(d, "connected, connector 0 %ux%u", d->w, d->h);
        if ((rc = make_buffer(d)))
                return rc;
        struct xendispl_req r = {.operation = XENDISPL_OP_DBUF_CREATE};
        r.op.dbuf_create.dbuf_cookie = 1;
        r.op.dbuf_create.width = d->w;
        r.op.dbuf_create.height = d->h;
        r.op.dbuf_create.bpp = 32;
        r.op.dbuf_create.buffer_sz = d->w * d->h * 4;
        r.op.dbuf_create.gref_directory = (uint32_t)d->dir_ref0;
        if (d->hostile && !strcmp(d->hostile, "dir"))
                r.op.dbuf_create.gref_directory = 8000; /* never granted */
        if (d->hostile && !strcmp(d->hostile, "offset"))
                r.op.dbuf_create.data_ofs = 4096;        /* the pixels end past the buffer */
        if (d->hostile && !strcmp(d->hostile, "prod")) { /* more requests than the ring holds */
                d->c[0].front.req_prod_pvt += 1000;
                d->next_id = 0;
                r.op.dbuf_create.dbuf_cookie = 0;
        }
        rc = request(d, &r, false);
        if (d->hostile) {
                if (rc == -EPIPE) {
                        say(d,
                            "back-end closed the device after a bad DBUF_CREATE (%s), "
                            "as it should",
                            d->hostile);
                        return 0;
                }
                say(d, "a bad DBUF_CREATE (%s) got status %d, not a disconnect", d->hostile, rc);
                return -EPROTO;
        }
        if (rc) {
                say(d, "DBUF_CREATE failed: %d", rc);
                return rc < 0 ? rc : -EIO;
        }
        r = (struct xendispl_req){.operation = XENDISPL_OP_FB_ATTACH};
        r.op.fb_attach.dbuf_cookie = 1;
        r.op.fb_attach.fb_cookie = 11;
        r.op.fb_attach.width = d->w;
        r.op.fb_attach.height = d->h;
        r.op.fb_attach.pixel_format = 0x34325258; /* XR24 */
        if ((rc = request(d, &r, false))) {
                say(d, "FB_ATTACH failed: %d", rc);
                return rc < 0 ? rc : -EIO;
        }
        draw(d, 0);
        r = (struct xendispl_req){.operation = XENDISPL_OP_SET_CONFIG};
        r.op.set_config.fb_cookie = 11;
        r.op.set_config.width = d->w;
        r.op.set_config.height = d->h;
        r.op.set_config.bpp = 32;
        if ((rc = request(d, &r, false))) {
                say(d, "SET_CONFIG failed: %d", rc);
                return rc < 0 ? rc : -EIO;
        }
        for (unsigned k = 1; k < d->nconn; k++) /* the other heads show it too */
                if ((rc = request_on(d, k, &r, false))) {
                        say(d, "SET_CONFIG on connector %u failed: %d", k, rc);
                        return rc < 0 ? rc : -EIO;
                }
        /* an unknown operation gets an error status, nothing worse */
        r = (struct xendispl_req){.operation = 0x7f};
        if ((rc = request(d, &r, false)) != -EOPNOTSUPP) {
                say(d, "an unknown operation got %d, not -EOPNOTSUPP", rc);
                return -EPROTO;
        }
        if ((rc = flip_frames(d, 1)))
                return rc;
        unsigned shown = d->flips;
        if (d->noflip) { /* as fbdev does: draw into the shown frame, no flip */
                draw(d, ++shown);
                say(d, "frame %u drawn without a flip", shown);
        }
        if (d->expect && (rc = write_expect(d, shown)))
                return rc;
        say(d, "done");
        return 0;
}

int main(int argc, char **argv)
{
        struct dg d = {
            .name = "disp1", .w = 640, .h = 480, .flips = 3, .timeout_ms = 10000, .nconn = 1};
        static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"devid", required_argument, NULL, 'i'},
                                             {"res", required_argument, NULL, 'r'},
                                             {"flips", required_argument, NULL, 'f'},
                                             {"hostile", required_argument, NULL, 'H'},
                                             {"expect", required_argument, NULL, 'e'},
                                             {"stay", no_argument, NULL, 's'},
                                             {"interval-ms", required_argument, NULL, 'I'},
                                             {"timestamps", no_argument, NULL, 't'},
                                             {"draw-without-flip", no_argument, NULL, 'D'},
                                             {"connectors", required_argument, NULL, 'C'},
                                             {NULL, 0, NULL, 0}};
        int o;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (o) {
                case 'd':
                        d.sim_dir = optarg;
                        break;
                case 'n':
                        d.name = optarg;
                        break;
                case 'i':
                        d.devid = (unsigned)atoi(optarg);
                        break;
                case 'r':
                        if (sscanf(optarg, "%ux%u", &d.w, &d.h) != 2 || !d.w || !d.h ||
                            d.w > 4096 || d.h > 4096) {
                                fprintf(stderr, "dispguest: --res WxH, 1..4096\n");
                                return 2;
                        }
                        break;
                case 'f':
                        d.flips = (unsigned)atoi(optarg);
                        break;
                case 'H':
                        d.hostile = optarg;
                        break;
                case 'e':
                        d.expect = optarg;
                        break;
                case 's':
                        d.stay = true;
                        break;
                case 'I':
                        d.interval_ms = (unsigned)atoi(optarg);
                        break;
                case 't':
                        d.stamps = true;
                        break;
                case 'D':
                        d.noflip = true;
                        break;
                case 'C':
                        d.nconn = (unsigned)atoi(optarg);
                        if (d.nconn < 1 || d.nconn > 2) {
                                fprintf(stderr, "dispguest: --connectors 1 or 2\n");
                                return 2;
                        }
                        break;
                default:
                        fprintf(stderr, "usage: sim-dispguest [--dir SIM] [--name N] [--devid I] "
                                        "[--res WxH] [--flips N] [--hostile dir|offset|prod] "
                                        "[--expect PPM] [--stay] [--interval-ms MS] [--timestamps] "
                                        "[--draw-without-flip] [--connectors 1|2]\n");
                        return 2;
                }
        }
        uint32_t pages = (uint32_t)(((uint64_t)d.w * d.h * 4 + 4095) / 4096) + 64;
        int rc = bn_guest_create(&d.g, d.sim_dir, d.name, pages);
        if (rc) {
                fprintf(stderr, "dispguest: cannot create a domain: %s\n", strerror(-rc));
                return 1;
        }
        /* --stay: SIGUSR1 asks for --flips more frames (and --expect again) */
        sigset_t usr1;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, NULL);
        rc = run(&d);
        unsigned next = d.flips + 1 + (d.noflip ? 1 : 0);
        int sig;
        while (!rc && d.stay && sigwait(&usr1, &sig) == 0) {
                if ((rc = flip_frames(&d, next)))
                        break;
                next += d.flips;
                if (d.expect && (rc = write_expect(&d, next - 1)))
                        break;
                say(&d, "done again, frame %u shown", next - 1);
        }
        if (!d.hostile)
                bn_guest_xb_set_state(d.g, d.fe.fe_path, XenbusStateClosing);
        bn_guest_destroy(d.g);
        free(d.lat_us);
        if (rc)
                say(&d, "failed: %s", strerror(rc < 0 ? -rc : rc));
        return rc ? 1 : 0;
}
