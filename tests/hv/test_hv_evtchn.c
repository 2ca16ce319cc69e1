/* test_hv_evtchn.c: event channels through the xensim provider and
 * libbn_guest: guest alloc_unbound, Dom0 bind, notify both ways, pending /
 * unmask semantics, the fds poll readable; bad binds fail with -EINVAL;
 * after the guest closes its port (or dies) Dom0's notify fails. Also the
 * provider selection: "xen" fails cleanly here, "auto" picks xensim. */
#include "bn_guest.h"
#include "bn_hv.h"
#include "hv_testutil.h"

#include <poll.h>

static int readable(int fd, int ms)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};

        return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void test_roundtrip(struct bn_hv *hv, struct bn_guest *g)
{
        uint32_t dom = bn_guest_domid(g);
        struct bn_evtchn *e, *e2;
        int gport, dport, gport2, i;

        CHECK_EQ(bn_evtchn_open(hv, &e), 0);
        CHECK_EQ(bn_evtchn_open(hv, &e2), 0);
        gport = bn_guest_evtchn_alloc_unbound(g, 0);
        CHECK(gport > 0);
        /* Nobody bound yet: the guest's notify has no peer. */
        CHECK_EQ(bn_guest_evtchn_notify(g, (uint32_t)gport), -ENOTCONN);
        /* Bad binds. */
        CHECK_EQ(bn_evtchn_bind_interdomain(e, dom, (uint32_t)gport + 50), -EINVAL);
        CHECK_EQ(bn_evtchn_bind_interdomain(e, dom, 0), -EINVAL);
        CHECK(bn_evtchn_bind_interdomain(e, dom + 100, (uint32_t)gport) < 0);
        gport2 = bn_guest_evtchn_alloc_unbound(g, 7); /* reserved for dom7: wrong domain */
        CHECK_EQ(gport2, -ESRCH);                     /* dom7 does not exist */

        dport = bn_evtchn_bind_interdomain(e, dom, (uint32_t)gport);
        CHECK(dport > 0);
        CHECK_EQ(bn_evtchn_bind_interdomain(e2, dom, (uint32_t)gport), -EINVAL); /* bound */
        CHECK_EQ(bn_evtchn_pending(e), -EAGAIN);
        CHECK(!readable(bn_evtchn_fd(e), 0));

        /* Dom0 -> guest. */
        CHECK_EQ(bn_evtchn_notify(e, (uint32_t)dport), 0);
        CHECK(readable(bn_guest_evtchn_fd(g), 5000));
        CHECK_EQ(bn_guest_evtchn_pending(g), gport);
        CHECK_EQ(bn_guest_evtchn_pending(g), -EAGAIN);
        /* Masked until unmask: a second notify is held, then delivered. */
        CHECK_EQ(bn_evtchn_notify(e, (uint32_t)dport), 0);
        CHECK(!readable(bn_guest_evtchn_fd(g), 50));
        CHECK_EQ(bn_guest_evtchn_pending(g), -EAGAIN);
        CHECK_EQ(bn_guest_evtchn_unmask(g, (uint32_t)gport), 0);
        CHECK(readable(bn_guest_evtchn_fd(g), 5000));
        CHECK_EQ(bn_guest_evtchn_pending(g), gport);
        CHECK_EQ(bn_guest_evtchn_unmask(g, (uint32_t)gport), 0);
        CHECK(!readable(bn_guest_evtchn_fd(g), 0));

        /* Guest -> Dom0, several notifies coalesce into one pending. */
        for (i = 0; i < 5; i++)
                CHECK_EQ(bn_guest_evtchn_notify(g, (uint32_t)gport), 0);
        CHECK(readable(bn_evtchn_fd(e), 5000));
        CHECK_EQ(bn_evtchn_pending(e), dport);
        CHECK_EQ(bn_evtchn_pending(e), -EAGAIN);
        CHECK_EQ(bn_evtchn_unmask(e, (uint32_t)dport), 0);
        CHECK(!readable(bn_evtchn_fd(e), 0));
        CHECK_EQ(bn_evtchn_notify(e2, (uint32_t)dport), -EINVAL); /* not e2's port */
        CHECK_EQ(bn_evtchn_unbind(e2, (uint32_t)dport), -EINVAL);

        /* A round trip, many times. */
        for (i = 0; i < 200; i++) {
                CHECK_EQ(bn_evtchn_notify(e, (uint32_t)dport), 0);
                CHECK(readable(bn_guest_evtchn_fd(g), 5000));
                CHECK_EQ(bn_guest_evtchn_pending(g), gport);
                CHECK_EQ(bn_guest_evtchn_unmask(g, (uint32_t)gport), 0);
                CHECK_EQ(bn_guest_evtchn_notify(g, (uint32_t)gport), 0);
                CHECK(readable(bn_evtchn_fd(e), 5000));
                CHECK_EQ(bn_evtchn_pending(e), dport);
                CHECK_EQ(bn_evtchn_unmask(e, (uint32_t)dport), 0);
        }

        /* The guest closes: Dom0's notify now fails; a closed port cannot be
         * bound again. */
        CHECK_EQ(bn_guest_evtchn_close(g, (uint32_t)gport), 0);
        CHECK(bn_evtchn_notify(e, (uint32_t)dport) < 0);
        CHECK_EQ(bn_evtchn_bind_interdomain(e2, dom, (uint32_t)gport), -EINVAL);
        CHECK_EQ(bn_guest_evtchn_notify(g, (uint32_t)gport), -EINVAL);
        CHECK_EQ(bn_evtchn_unbind(e, (uint32_t)dport), 0);
        CHECK_EQ(bn_evtchn_unbind(e, (uint32_t)dport), -EINVAL);

        /* Dom0 unbinds first: the guest's port is unbound again (as in Xen)
         * and can be re-bound, e.g. by a restarted back-end. */
        gport = bn_guest_evtchn_alloc_unbound(g, 0);
        dport = bn_evtchn_bind_interdomain(e, dom, (uint32_t)gport);
        CHECK(gport > 0 && dport > 0);
        CHECK_EQ(bn_guest_evtchn_notify(g, (uint32_t)gport), 0);
        CHECK_EQ(bn_evtchn_unbind(e, (uint32_t)dport), 0);
        CHECK(bn_guest_evtchn_notify(g, (uint32_t)gport) < 0);
        dport = bn_evtchn_bind_interdomain(e2, dom, (uint32_t)gport);
        CHECK(dport > 0);
        CHECK_EQ(bn_guest_evtchn_notify(g, (uint32_t)gport), 0);
        CHECK(readable(bn_evtchn_fd(e2), 5000));
        CHECK_EQ(bn_evtchn_pending(e2), dport);

        /* Dom0-allocated unbound port bound by the guest is not in the guest
         * API; Dom0 can allocate for the guest though. */
        CHECK(bn_evtchn_bind_unbound(e, dom) > 0);
        bn_evtchn_close(e);
        bn_evtchn_close(e2);
}

static void test_guest_death(struct bn_hv *hv, const char *dir)
{
        struct bn_evtchn *e;
        struct bn_guest *g;
        int gport, dport;

        CHECK_EQ(bn_guest_create(&g, dir, "dying", 16), 0);
        CHECK_EQ(bn_evtchn_open(hv, &e), 0);
        gport = bn_guest_evtchn_alloc_unbound(g, 0);
        dport = bn_evtchn_bind_interdomain(e, bn_guest_domid(g), (uint32_t)gport);
        CHECK(gport > 0 && dport > 0);
        CHECK_EQ(bn_evtchn_notify(e, (uint32_t)dport), 0);
        bn_guest_destroy(g);
        /* xensim handles the hang-up asynchronously. */
        for (int i = 0; i < 500 && bn_evtchn_notify(e, (uint32_t)dport) == 0; i++)
                hv_sleep_ms(10);
        CHECK(bn_evtchn_notify(e, (uint32_t)dport) < 0);
        bn_evtchn_close(e);
}

int main(void)
{
        struct bn_guest *g;
        struct hv_sim sim;
        struct bn_hv *hv;

        /* No Xen here: "xen" fails cleanly, "auto" picks xensim. */
        if (access("/dev/xen/gntdev", F_OK) < 0) {
                hv = (struct bn_hv *)1;
                CHECK_EQ(bn_hv_open(&hv, "xen", NULL), -ENOENT);
                CHECK(hv == NULL);
        }
        CHECK_EQ(bn_hv_open(&hv, "kvm", NULL), -EINVAL);
        hv_sim_start(&sim, NULL);
        if (access("/dev/xen/gntdev", F_OK) < 0) {
                CHECK_EQ(bn_hv_open(&hv, "auto", NULL), 0); /* via $XENSIM_DIR */
                CHECK(strcmp(bn_hv_name(hv), "xensim") == 0);
                bn_hv_close(hv);
        }
        CHECK_EQ(bn_hv_open(&hv, "xensim", sim.dir), 0);
        CHECK_EQ(bn_guest_create(&g, sim.dir, "evtchn-guest", 16), 0);
        test_roundtrip(hv, g);
        test_guest_death(hv, sim.dir);
        bn_guest_destroy(g);
        bn_hv_close(hv);
        hv_sim_stop(&sim);
        /* With xensim gone, opening fails cleanly. */
        CHECK(bn_hv_open(&hv, "xensim", sim.dir) < 0);
        printf("event channel tests passed\n");
        return 0;
}
