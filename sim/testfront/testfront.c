/* testfront.c: sim-testfront, a simulated guest with a front-end for the
 * "test" device class (devices/test/bn_test_proto.h). It creates a domain
 * on xensim, declares a "test" device served by Dom0 (as xl would), does
 * the xenbus front-end handshake, sends echo requests and checks the
 * answers, and closes cleanly (Closing -> Closed) when done or on
 * SIGINT/SIGTERM. Options for tests make it die in the middle of the
 * handshake, restart its front-end (reboot) or lie to the back-end. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "bn_guest.h"
#include "bn_hv.h"
#include "bn_test_proto.h"

static volatile sig_atomic_t stop_requested;

struct tf {
        const char *sim_dir, *name, *die_at, *hostile;
        unsigned devid, requests, reconnects, timeout_ms;
        bool stay;
        struct bn_guest *g;
        struct bn_hv *hv;
        struct xs_handle *dom0;
        uint32_t domid;
        struct bn_guest_fe fe; /* paths, toolstack entry */
        uint32_t pfn, ref;
        int port;
        bool granted;
        struct bn_test_front_ring front;
};

static void say(struct tf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct tf *t, const char *fmt, ...)
{
        va_list ap;
        printf("guest %s (domid %u): ", t->name, t->domid);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
}

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static const char *state_word(int st)
{
        static const char *const w[] = {"Unknown",   "Initialising", "InitWait", "Initialised",
                                        "Connected", "Closing",      "Closed"};
        return st >= 0 && st <= 6 ? w[st] : "invalid";
}

static void die_here(struct tf *t, const char *stage)
{
        if (t->die_at && !strcmp(t->die_at, stage)) {
                say(t, "dying abruptly at stage '%s' (as asked)", stage);
                _exit(3);
        }
}

static int wait_be(struct tf *t, enum xenbus_state want)
{
        int rc = bn_guest_xb_wait_state(t->g, t->fe.be_path, want, (int)t->timeout_ms);
        if (rc < 0) {
                int st = bn_guest_xb_get_state(t->g, t->fe.be_path);
                say(t, "waiting for the back-end to be %s failed: %s (it is %s)", state_word(want),
                    strerror(-rc), state_word(st));
                return rc;
        }
        say(t, "back-end is %s", state_word(want));
        return 0;
}

static int fe_write(struct tf *t, const char *key, uint32_t v)
{
        int rc = bn_guest_fe_write(&t->fe, key, "%u", v);

        if (rc)
                say(t, "cannot write %s/%s: %s", t->fe.fe_path, key, strerror(-rc));
        return rc;
}

/* Allocate and grant the ring page, allocate the event channel, publish. */
static int setup_ring(struct tf *t)
{
        int gref;
        int rc = bn_guest_fe_grant_ring(&t->fe, 1, &t->pfn, &gref);
        if (rc < 0) {
                say(t, "granting the ring page failed: %s", strerror(-rc));
                return rc;
        }
        struct bn_test_sring *s = bn_guest_page(t->g, t->pfn);
        SHARED_RING_INIT(s);
        FRONT_RING_INIT(&t->front, s, BN_PAGE_SIZE);
        t->ref = (uint32_t)gref;
        t->granted = true;
        rc = bn_guest_evtchn_alloc_unbound(t->g, 0);
        if (rc < 0) {
                say(t, "allocating an event channel failed: %s", strerror(-rc));
                return rc;
        }
        t->port = rc;
        uint32_t ref = t->ref, port = (uint32_t)t->port;
        if (t->hostile && !strcmp(t->hostile, "ring-ref"))
                ref = 0x7ffff; /* never granted */
        if (t->hostile && !strcmp(t->hostile, "event-channel"))
                port = 4000; /* not ours */
        if ((rc = fe_write(t, "ring-ref", ref)) || (rc = fe_write(t, "event-channel", port)))
                return rc;
        say(t, "ring page granted (ref %u%s), event channel %u%s", ref,
            ref != t->ref ? ", a bad one on purpose" : "", port,
            port != (uint32_t)t->port ? " (a bad one on purpose)" : "");
        return 0;
}

static void teardown_ring(struct tf *t)
{
        if (t->port >= 0)
                bn_guest_evtchn_close(t->g, (uint32_t)t->port);
        t->port = -1;
        if (t->granted) {
                int rc;
                for (int i = 0; i < 500; i++) {
                        rc = bn_guest_revoke(t->g, t->ref);
                        if (rc != -EBUSY)
                                break;
                        usleep(10000);
                }
                if (rc)
                        say(t, "revoking the ring grant: %s", strerror(-rc));
                bn_guest_free_pages(t->g, t->pfn, 1);
                t->granted = false;
        }
}

/* Send t->requests echo requests and check every answer. */
static int echo(struct tf *t)
{
        unsigned sent = 0, answered = 0;
        int efd = bn_guest_evtchn_fd(t->g);
        while (answered < t->requests) {
                while (sent < t->requests && !RING_FULL(&t->front)) {
                        struct bn_test_request *req =
                            RING_GET_REQUEST(&t->front, t->front.req_prod_pvt);
                        req->id = sent;
                        req->op = BN_TEST_OP_ECHO;
                        req->value = 1000ull + sent * 7;
                        t->front.req_prod_pvt++;
                        sent++;
                }
                int notify;
                RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&t->front, notify);
                if (notify)
                        bn_guest_evtchn_notify(t->g, (uint32_t)t->port);
                int more;
                unsigned before = answered;
                do {
                        RING_IDX rp = t->front.sring->rsp_prod;
                        xen_rmb();
                        while (t->front.rsp_cons != rp) {
                                struct bn_test_response r;
                                memcpy(&r, RING_GET_RESPONSE(&t->front, t->front.rsp_cons),
                                       sizeof(r));
                                t->front.rsp_cons++;
                                if (r.id != answered || r.status != 0 ||
                                    r.value != 1000ull + r.id * 7 + 1) {
                                        say(t,
                                            "wrong answer to request %u: id %u status %d "
                                            "value %llu",
                                            answered, r.id, r.status, (unsigned long long)r.value);
                                        return -EPROTO;
                                }
                                answered++;
                        }
                        RING_FINAL_CHECK_FOR_RESPONSES(&t->front, more);
                } while (more);
                if (answered >= t->requests)
                        break;
                if (answered != before)
                        continue; /* room on the ring again: send more first */
                struct pollfd pfd = {.fd = efd, .events = POLLIN};
                int n = poll(&pfd, 1, (int)t->timeout_ms);
                if (n == 0) {
                        say(t, "no answer from the back-end after %u ms (%u of %u answered)",
                            t->timeout_ms, answered, t->requests);
                        return -ETIMEDOUT;
                }
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (stop_requested)
                        return -EINTR;
                int p;
                while ((p = bn_guest_evtchn_pending(t->g)) >= 0)
                        bn_guest_evtchn_unmask(t->g, (uint32_t)p);
        }
        say(t, "%u echo request(s) answered correctly", answered);
        return 0;
}

/* One handshake up to Connected. */
static int connect_fe(struct tf *t)
{
        int rc = wait_be(t, XenbusStateInitWait);
        if (rc)
                return rc;
        char feat[16];
        char path[192];
        snprintf(path, sizeof(path), "%s/feature-test", t->fe.be_path);
        unsigned len;
        char *v = xs_read(bn_guest_xs(t->g), XBT_NULL, path, &len);
        snprintf(feat, sizeof(feat), "%s", v ? v : "(none)");
        free(v);
        say(t, "back-end offers feature-test=%s", feat);
        die_here(t, "initwait");
        rc = setup_ring(t);
        if (rc)
                return rc;
        die_here(t, "ring");
        rc = bn_guest_xb_set_state(t->g, t->fe.fe_path, XenbusStateInitialised);
        if (rc)
                return rc;
        say(t, "front-end is Initialised");
        die_here(t, "initialised");
        rc = wait_be(t, XenbusStateConnected);
        if (rc)
                return rc;
        rc = bn_guest_xb_set_state(t->g, t->fe.fe_path, XenbusStateConnected);
        if (rc)
                return rc;
        say(t, "front-end is Connected");
        die_here(t, "connected");
        return 0;
}

static int close_fe(struct tf *t)
{
        int rc = bn_guest_xb_set_state(t->g, t->fe.fe_path, XenbusStateClosing);
        if (rc)
                return rc;
        say(t, "front-end is Closing");
        if (bn_guest_xb_get_state(t->g, t->fe.be_path) != XenbusStateClosed) {
                rc = wait_be(t, XenbusStateClosing);
                if (rc && rc != -EPIPE)
                        return rc;
        }
        rc = bn_guest_xb_set_state(t->g, t->fe.fe_path, XenbusStateClosed);
        if (rc)
                return rc;
        say(t, "front-end is Closed");
        rc = wait_be(t, XenbusStateClosed);
        teardown_ring(t);
        return rc;
}

/* A hostile front-end: expect the fatal error node and Closing. */
static int expect_fatal(struct tf *t)
{
        char path[256];
        int rc = wait_be(t, XenbusStateClosing);
        if (rc && rc != -EPIPE)
                return rc;
        snprintf(path, sizeof(path), "/local/domain/0/error/backend/test/%u/%u/error", t->domid,
                 t->devid);
        unsigned len;
        char *v = xs_read(t->dom0, XBT_NULL, path, &len);
        if (!v) {
                say(t, "no error node %s: %s", path, strerror(errno));
                return -ENOENT;
        }
        say(t, "back-end reported a fatal error: %s = \"%s\"", path, v);
        int e = atoi(v);
        free(v);
        return e > 0 ? 0 : -EPROTO;
}

static int run(struct tf *t)
{
        bool lost = false;
        int rc;
        rc = bn_guest_create(&t->g, t->sim_dir, t->name, 64);
        if (rc) {
                fprintf(stderr, "sim-testfront: cannot create a domain on xensim: %s\n",
                        strerror(-rc));
                return rc;
        }
        t->domid = bn_guest_domid(t->g);
        say(t, "domain created");
        rc = bn_hv_open(&t->hv, "xensim", t->sim_dir);
        if (rc)
                return rc;
        t->dom0 = bn_hv_xs_open(t->hv);
        if (!t->dom0)
                return errno ? -errno : -EIO;
        bn_guest_fe_init(&t->fe, t->g, t->sim_dir, NULL, "test", t->devid, 0);
        /* --hostile frontend: a lying toolstack entry, the front-end of another
         * domain, written in the same transaction as the device (written after
         * it, bananad could read the true path first) */
        char lie[96];
        const char *extra[3] = {"frontend", lie, NULL};
        snprintf(lie, sizeof(lie), "/local/domain/%u/device/test/%u", t->domid + 1000, t->devid);
        bool lying = t->hostile && !strcmp(t->hostile, "frontend");
        rc = bn_guest_fe_declare(&t->fe, t->dom0, lying ? extra : NULL);
        if (rc) {
                say(t, "declaring the test device failed: %s", strerror(-rc));
                return rc;
        }
        if (lying)
                say(t, "the back-end's frontend path now lies: %s", lie);
        say(t, "test device %u declared (back-end in Dom0)", t->devid);
        die_here(t, "added");
        if (t->hostile && !strcmp(t->hostile, "ring-overflow")) {
                /* connect properly, then claim more requests than the ring holds */
                if ((rc = connect_fe(t)))
                        return rc;
                t->front.sring->req_prod = t->front.req_prod_pvt + 1000;
                xen_wmb();
                bn_guest_evtchn_notify(t->g, (uint32_t)t->port);
                say(t, "claimed 1000 requests on a ring of %u slots",
                    (unsigned)RING_SIZE(&t->front));
                return expect_fatal(t);
        }
        if (t->hostile) {
                if (!strcmp(t->hostile, "frontend"))
                        return expect_fatal(t);
                rc = wait_be(t, XenbusStateInitWait);
                if (rc)
                        return rc;
                if ((rc = setup_ring(t)))
                        return rc;
                bn_guest_xb_set_state(t->g, t->fe.fe_path, XenbusStateInitialised);
                say(t, "front-end is Initialised");
                return expect_fatal(t);
        }
        rc = connect_fe(t);
        if (rc)
                return rc;
        rc = echo(t);
        if (rc == -EINTR)
                return close_fe(t);
        if (rc)
                return rc;
        for (unsigned i = 0; i < t->reconnects && !stop_requested; i++) {
                say(t, "rebooting the front-end (back to Initialising)");
                bn_guest_xb_set_state(t->g, t->fe.fe_path, XenbusStateInitialising);
                rc = wait_be(t, XenbusStateInitWait);
                if (rc)
                        return rc;
                teardown_ring(t);
                rc = connect_fe(t);
                if (rc)
                        return rc;
                rc = echo(t);
                if (rc)
                        return rc;
        }
        if (t->stay) {
                say(t, "staying connected until SIGINT/SIGTERM");
                while (!stop_requested) {
                        int st = bn_guest_xb_get_state(t->g, t->fe.be_path);
                        if (st != XenbusStateConnected) {
                                say(t, "back-end left Connected (now %s)", state_word(st));
                                lost = true;
                                break;
                        }
                        poll(NULL, 0, 200);
                }
                if (stop_requested)
                        say(t, "signalled: closing");
        }
        rc = close_fe(t);
        return rc ? rc : lost ? -ECONNRESET : 0;
}

static void cleanup(struct tf *t)
{
        if (t->g)
                teardown_ring(t);
        if (t->fe.declared && t->dom0)
                bn_guest_fe_undeclare(&t->fe, t->dom0);
        if (t->dom0)
                xs_close(t->dom0);
        if (t->hv)
                bn_hv_close(t->hv);
        if (t->g)
                bn_guest_destroy(t->g);
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: sim-testfront [--xensim-dir DIR] [--name NAME] [--devid N] [--requests N]\n"
                "                     [--stay] [--reconnect N] [--timeout-ms MS]\n"
                "                     [--die-at added|initwait|ring|initialised|connected]\n"
                "                     [--hostile ring-ref|event-channel|frontend|ring-overflow]\n");
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"xensim-dir", required_argument, NULL, 'x'},
            {"name", required_argument, NULL, 'n'},
            {"devid", required_argument, NULL, 'd'},
            {"requests", required_argument, NULL, 'r'},
            {"stay", no_argument, NULL, 's'},
            {"reconnect", required_argument, NULL, 'R'},
            {"timeout-ms", required_argument, NULL, 't'},
            {"die-at", required_argument, NULL, 'D'},
            {"hostile", required_argument, NULL, 'H'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        struct tf t = {.name = "vm1", .requests = 10, .timeout_ms = 10000, .port = -1};
        int c;
        while ((c = getopt_long(argc, argv, "x:n:d:r:sR:t:D:H:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'x':
                        t.sim_dir = optarg;
                        break;
                case 'n':
                        t.name = optarg;
                        break;
                case 'd':
                        t.devid = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        t.requests = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        t.stay = true;
                        break;
                case 'R':
                        t.reconnects = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 't':
                        t.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'D':
                        t.die_at = optarg;
                        break;
                case 'H':
                        if (strcmp(optarg, "ring-ref") && strcmp(optarg, "event-channel") &&
                            strcmp(optarg, "frontend") && strcmp(optarg, "ring-overflow")) {
                                usage(stderr);
                                return 2;
                        }
                        t.hostile = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        int rc = run(&t);
        if (rc == 0)
                say(&t, t.hostile ? "hostile front-end was refused as expected"
                                  : "done: closed cleanly");
        else
                fprintf(stderr, "sim-testfront: %s (domid %u) failed: %s\n", t.name, t.domid,
                        strerror(-rc));
        cleanup(&t);
        return rc ? 1 : 0;
}
