/* test_wire_iface.c: the wire interface beyond moving messages (bn_wire.h,
 * issue 13 item 5), through the framework with real shm wires:
 *  - capabilities: a test-only wire type "dgram" (the shm wire declaring
 *    itself unordered and unreliable, with an MTU from a parameter) refuses
 *    a real vbd Corm, naming the type, the class and what is missing, and
 *    nothing changes; the test class (needing nothing) takes it, and its
 *    link carries the port's MTU and capabilities;
 *  - class_init is given the registry's loops (bn_wire_env);
 *  - per-end parameters (bn_wire_end_params);
 *  - the HELLO handshake: two ends of one class agree (link up); a peer of
 *    another version or class takes the link down with a reason naming
 *    both, and nothing of the class crosses;
 *  - DRAIN reaches the peer class's port_ctl;
 *  - bn_wire_port_writable calls port_writable once for a blocked port;
 *  - quiesce and make-before-break (bn_endpoint_swap) on a Spike of a class
 *    that is drained: the new port is standby (no port_attach) until the
 *    old one drained; while quiesced the old port takes nothing; DRAIN goes
 *    out and the peer's framework answers DRAINED (its class has no
 *    port_ctl), but the switch also waits for port_inflight to say 0; then
 *    the new port is attached, first in the list, and takes sends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"
#include "fw_test.h"
#include "shm_wire.h"

extern const struct bn_devclass bn_test_class;
extern const struct bn_devclass bn_vbd_class;

/* ---- the test-only wire type "dgram" ------------------------------------ */

static const struct bn_wire_env *seen_env;

static int dgram_class_init(const struct bn_wire_env *env, void **ctx)
{
        seen_env = env;
        return bn_wire_shm_class.class_init(env, ctx);
}

/* shm refuses unknown keys: take "mtu" out before it sees the params */
static int dgram_open(struct bn_wire_port *port, const struct bn_params *params, char *err,
                      size_t errlen)
{
        struct bn_params p;
        int rc;

        bn_params_init(&p);
        rc = bn_params_copy(&p, params);
        if (!rc) {
                bn_params_unset(&p, "mtu");
                bn_params_unset(&p, "peer.mtu");
        }
        if (!rc)
                rc = bn_wire_shm_class.open(port, &p, err, errlen);
        bn_params_clear(&p);
        return rc;
}

static void dgram_port_caps(struct bn_wire_port *port, struct bn_wire_caps *caps)
{
        uint64_t mtu = 0;

        bn_params_get_uint(&port->params, "mtu", false, 1450, 68, 65535, &mtu, NULL, 0);
        caps->mtu = (uint32_t)mtu;
}

static struct bn_wire_class dgram_class;

static void dgram_make(void)
{
        dgram_class = bn_wire_shm_class;
        dgram_class.name = "dgram";
        dgram_class.caps = (struct bn_wire_caps){.max_msg = 9000}; /* unordered, unreliable */
        dgram_class.class_init = dgram_class_init;
        dgram_class.open = dgram_open;
        dgram_class.check = NULL;
        dgram_class.port_caps = dgram_port_caps;
}

/* ---- test device classes (copies of the test class) --------------------- */

static atomic_uint writable_calls, ctl_drain;

static void count_writable(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        (void)ep;
        (void)port;
        atomic_fetch_add(&writable_calls, 1);
}

static void count_ctl(struct bn_endpoint *ep, struct bn_wire_port *port, uint16_t type)
{
        (void)ep;
        (void)port;
        if (type == BN_MSG_CTL_DRAIN)
                atomic_fetch_add(&ctl_drain, 1);
}

static struct bn_devclass cls_v1, cls_v2, cls_other;

/* ---- helpers ------------------------------------------------------------ */

static bool link_of(struct bn_wire_port *p, struct bn_wire_link *l)
{
        return bn_wire_port_link(p, l) == 0;
}

/* Wait (bounded: 2 s) until the port's link is `up`. */
static bool wait_link(struct bn_wire_port *p, bool up, struct bn_wire_link *l)
{
        for (int i = 0; i < 200; i++) {
                if (link_of(p, l) && l->up == up)
                        return true;
                usleep(10000);
        }
        return false;
}

/* Wait (bounded: 2 s) until the port's link is down for a reason that
 * starts with `why`. */
static bool wait_down(struct bn_wire_port *p, const char *why, struct bn_wire_link *l)
{
        for (int i = 0; i < 200; i++) {
                if (link_of(p, l) && !l->up && strncmp(l->reason, why, strlen(why)) == 0)
                        return true;
                usleep(10000);
        }
        return false;
}

struct send_call {
        struct bn_wire_port *port;
        int rc;
        uint16_t ctl;
};

static void send_on_loop(void *arg)
{
        struct send_call *s = arg;
        struct bn_wire_msg m = {.type = 1, .hdr_len = 8};

        s->rc = s->ctl ? bn_wire_send_ctl(s->port, s->ctl) : bn_wire_send(s->port, &m, 1);
}

static void writable_on_loop(void *arg)
{
        struct bn_wire_port *p = arg;

        p->tx_blocked = true;
        bn_wire_port_writable(p);
        bn_wire_port_writable(p); /* not blocked any more: no second call */
}

static void end_params(void)
{
        struct bn_params all, e;
        char err[256] = "";

        bn_params_init(&all);
        CHECK(bn_params_parse(
                  &all, "ring=1048576,end0.addr=10.0.0.1,end1.addr=10.0.0.2,end1.ring=2097152", err,
                  sizeof(err)) == 0);
        CHECK(bn_wire_end_params(&all, 0, &e, err, sizeof(err)) == 0);
        CHECK(e.n == 4);
        CHECK(strcmp(bn_params_get(&e, "ring"), "1048576") == 0);
        CHECK(strcmp(bn_params_get(&e, "addr"), "10.0.0.1") == 0);
        CHECK(strcmp(bn_params_get(&e, "peer.addr"), "10.0.0.2") == 0);
        CHECK(strcmp(bn_params_get(&e, "peer.ring"), "2097152") == 0);
        bn_params_clear(&e);
        CHECK(bn_wire_end_params(&all, 1, &e, err, sizeof(err)) == 0);
        CHECK(strcmp(bn_params_get(&e, "ring"), "2097152") == 0); /* its own over the common */
        CHECK(strcmp(bn_params_get(&e, "addr"), "10.0.0.2") == 0);
        CHECK(strcmp(bn_params_get(&e, "peer.addr"), "10.0.0.1") == 0);
        CHECK(!bn_params_get(&e, "end1.addr"));
        bn_params_clear(&e);
        CHECK(bn_params_set(&all, "end2.addr", "x") == 0);
        CHECK(bn_wire_end_params(&all, 0, &e, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "'end2.addr'") && strstr(err, "end0 and end1"));
        CHECK(bn_wire_end_params(NULL, 1, &e, err, sizeof(err)) == 0 && e.n == 0);
        bn_params_clear(&e);
        bn_params_clear(&all);
}

/* A vbd Corm cannot take a dgram wire; the test class can, with its MTU. */
static void caps(struct bn_wire_registry *wr, struct bn_ep_registry *r, struct bn_loop *loop,
                 struct bn_endpoint *a, struct bn_endpoint *b)
{
        char err[512] = "", path[] = "/tmp/bn-fw-iface-XXXXXX";
        struct bn_endpoint *disk;
        struct bn_wire_port *p0, *p1, *px = NULL;
        struct bn_params dp, wp;
        struct bn_wire_link l;
        int fd = mkstemp(path);

        CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
        close(fd);
        bn_params_init(&dp);
        CHECK(bn_params_set(&dp, "path", path) == 0);
        CHECK(bn_corm_create(r, &bn_vbd_class, "hostA/disk", loop, &dp, &disk, err, sizeof(err)) ==
              0);
        CHECK(bn_wire_port_open(wr, "dgram", "wd", 0, disk, NULL, &px, err, sizeof(err)) ==
              -EPROTONOSUPPORT);
        fprintf(stderr, "refused: %s\n", err);
        CHECK(strstr(err, "wire type 'dgram' cannot carry device class 'vbd': it is not ordered, "
                          "not reliable (vbd needs ordered and reliable messages)"));
        CHECK(strstr(err, "hostA/disk"));
        CHECK(!px && !bn_endpoint_has_ports(disk));
        CHECK(bn_endpoint_get_state(disk, NULL, 0) == BN_EP_READY); /* nothing changed */
        /* the same type's caps, asked as the controller does before connect */
        CHECK(bn_wire_caps_check(&dgram_class.caps, "dgram", &bn_vbd_class, err, sizeof(err)) ==
              -EPROTONOSUPPORT);
        CHECK(bn_wire_caps_check(&bn_wire_shm_class.caps, "shm", &bn_vbd_class, err, sizeof(err)) ==
              0);
        CHECK(bn_wire_caps_check(&dgram_class.caps, "dgram", &bn_test_class, err, sizeof(err)) ==
              0);
        bn_corm_destroy(r, disk);
        unlink(path);
        bn_params_clear(&dp);

        /* per-end params reach the port: end 1's mtu */
        bn_params_init(&wp);
        CHECK(bn_params_set(&wp, "end1.mtu", "1400") == 0);
        CHECK(bn_wire_port_open(wr, "dgram", "wd", 0, a, &wp, &p0, err, sizeof(err)) == 0);
        CHECK(bn_wire_port_open(wr, "dgram", "wd", 1, b, &wp, &p1, err, sizeof(err)) == 0);
        CHECK(strcmp(bn_params_get(&p0->params, "peer.mtu"), "1400") == 0);
        CHECK(wait_link(p1, true, &l));
        CHECK(l.mtu == 1400 && l.caps.max_msg == 9000 && !l.caps.ordered && !l.caps.control);
        CHECK(wait_link(p0, true, &l) && l.mtu == 1450 && l.reason[0] == '\0');
        bn_wire_port_close(p0);
        bn_wire_port_close(p1);
        bn_params_clear(&wp);
}

/* Ends of one class agree; ends of another version or class do not. */
static void handshake(struct bn_wire_registry *wr, struct bn_ep_registry *r, struct bn_loop *la,
                      struct bn_loop *lb, struct bn_endpoint *a)
{
        static const struct {
                const struct bn_devclass *cls;
                const char *want;
        } peers[] = {
            {&cls_v2,
             "handshake: this end is test v1 (control v1), the peer is test v2 (control v1)"},
            {&cls_other,
             "handshake: this end is test v1 (control v1), the peer is testx v1 (control "
             "v1)"},
        };
        char err[256];
        struct bn_wire_port *pa, *pb;
        struct bn_wire_link l;
        struct bn_endpoint *b;

        /* the same class and version: up, and DRAIN reaches the peer */
        CHECK(bn_corm_create(r, &cls_v1, "hostA/v1", lb, NULL, &b, err, sizeof(err)) == 0);
        CHECK(bn_wire_port_open(wr, "shm", "wh", 0, a, NULL, &pa, err, sizeof(err)) == 0);
        CHECK(bn_wire_port_open(wr, "shm", "wh", 1, b, NULL, &pb, err, sizeof(err)) == 0);
        CHECK(wait_link(pa, true, &l) && wait_link(pb, true, &l));
        CHECK(l.caps.ordered && l.caps.reliable && l.caps.control && l.mtu == 0);
        struct send_call s = {.port = pa, .ctl = BN_MSG_CTL_DRAIN};
        CHECK(bn_loop_call_wait(la, send_on_loop, &s) == 0 && s.rc == 1);
        for (int i = 0; i < 200 && !atomic_load(&ctl_drain); i++)
                usleep(10000);
        CHECK(atomic_load(&ctl_drain) == 1);
        CHECK(atomic_load(&b->counters.msgs_in) == 0); /* control messages are not the class's */
        /* writable again, told explicitly */
        CHECK(bn_loop_call_wait(lb, writable_on_loop, pb) == 0);
        CHECK(atomic_load(&writable_calls) == 1);
        bn_wire_port_close(pa);
        bn_wire_port_close(pb);
        bn_corm_destroy(r, b);

        for (size_t k = 0; k < sizeof(peers) / sizeof(peers[0]); k++) {
                CHECK(bn_corm_create(r, peers[k].cls, "hostA/other", lb, NULL, &b, err,
                                     sizeof(err)) == 0);
                CHECK(bn_wire_port_open(wr, "shm", "wm", 0, a, NULL, &pa, err, sizeof(err)) == 0);
                CHECK(bn_wire_port_open(wr, "shm", "wm", 1, b, NULL, &pb, err, sizeof(err)) == 0);
                CHECK(wait_down(pa, "handshake: ", &l));
                fprintf(stderr, "end 0: %s\n", l.reason);
                CHECK(strcmp(l.reason, peers[k].want) == 0);
                CHECK(wait_down(pb, "handshake: ", &l));
                CHECK(strstr(l.reason, "handshake: this end is ") &&
                      strstr(l.reason, "the peer is test v1"));
                /* what a sends now is dropped, b gets nothing of the class */
                struct send_call s2 = {.port = pa};
                unsigned long long drops = atomic_load(&a->counters.drops);
                CHECK(bn_loop_call_wait(la, send_on_loop, &s2) == 0 && s2.rc == 1);
                CHECK(atomic_load(&a->counters.drops) == drops + 1);
                usleep(20000);
                CHECK(atomic_load(&b->counters.msgs_in) == 0);
                bn_wire_port_close(pa);
                bn_wire_port_close(pb);
                bn_corm_destroy(r, b);
        }
}

/* ---- quiesce and swap ---------------------------------------------------- */

static atomic_uint inflight, attaches, swap_done_calls;
static struct bn_swap_result swap_res;

static unsigned fake_inflight(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        (void)ep;
        (void)port;
        return atomic_load(&inflight);
}

static int count_attach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        (void)port;
        if (ep->kind == BN_EP_SPIKE)
                atomic_fetch_add(&attaches, 1);
        return 0;
}

static void on_swap_done(struct bn_swap_result *res)
{
        swap_res = *res;
        free(res);
        atomic_fetch_add(&swap_done_calls, 1);
}

struct port_q {
        struct bn_endpoint *ep;
        struct bn_wire_port *first;
        int sent;
        bool drain_sent;
};

static void q_on_loop(void *arg)
{
        struct port_q *q = arg;
        struct bn_wire_msg m = {.type = 1, .hdr_len = 8};

        q->first = bn_endpoint_port(q->ep);
        q->sent = bn_endpoint_send(q->ep, &m, 1);
        q->drain_sent = q->first && q->first->drain_sent;
}

static void swap_test(struct bn_wire_registry *wr, struct bn_loop *ls, struct bn_loop *lc)
{
        static struct bn_devclass drained;
        struct bn_endpoint *s, *c;
        struct bn_wire_port *old, *sc_old, *next, *sc_next;
        struct bn_wire_link l;
        struct port_q q;
        char err[256];

        drained = bn_test_class;
        drained.wire_needs.ordered = drained.wire_needs.reliable = true;
        drained.port_inflight = fake_inflight;
        drained.port_attach = count_attach;
        CHECK(bn_endpoint_new(&s, "hostA/s/x", BN_EP_SPIKE, &drained, ls, 64, err, sizeof(err)) ==
              0);
        CHECK(bn_endpoint_new(&c, "hostA/c", BN_EP_CORM, &drained, lc, 64, err, sizeof(err)) == 0);
        CHECK(bn_wire_port_open(wr, "shm", "sw1", 0, s, NULL, &old, err, sizeof(err)) == 0);
        CHECK(bn_wire_port_open(wr, "shm", "sw1", 1, c, NULL, &sc_old, err, sizeof(err)) == 0);
        /* a second plain port on a Spike is refused; a standby one is not */
        CHECK(bn_wire_port_open(wr, "shm", "sw2", 0, s, NULL, &next, err, sizeof(err)) == -EBUSY);
        CHECK(bn_wire_port_open_next(wr, "shm", "sw2", 0, s, NULL, &next, err, sizeof(err)) == 0);
        CHECK(bn_wire_port_open(wr, "shm", "sw2", 1, c, NULL, &sc_next, err, sizeof(err)) == 0);
        CHECK(wait_link(next, true, &l));
        CHECK(atomic_load(&attaches) == 1); /* old's; next is standby */
        q.ep = s;
        CHECK(bn_loop_call_wait(ls, q_on_loop, &q) == 0 && q.first == old && q.sent == 1);

        atomic_store(&inflight, 1); /* a request of the old wire not answered yet */
        CHECK(bn_endpoint_swap(s, old, next, 5000, lc, on_swap_done, s) == 0);
        usleep(100000);
        CHECK(atomic_load(&swap_done_calls) == 0); /* DRAINED came, the answer did not */
        CHECK(bn_loop_call_wait(ls, q_on_loop, &q) == 0 && q.first == old && q.sent == 0 &&
              q.drain_sent); /* quiesced: new requests wait */
        CHECK(atomic_load(&attaches) == 1);
        atomic_store(&inflight, 0);
        for (int i = 0; i < 200 && !atomic_load(&swap_done_calls); i++)
                usleep(10000);
        CHECK(atomic_load(&swap_done_calls) == 1);
        CHECK(!swap_res.aborted && !swap_res.timed_out && swap_res.arg == s &&
              swap_res.old == old && swap_res.next == next && swap_res.wait_us >= 100000);
        CHECK(atomic_load(&attaches) == 2); /* next attached at the switch */
        CHECK(bn_loop_call_wait(ls, q_on_loop, &q) == 0 && q.first == next && q.sent == 1);
        fprintf(stderr, "swap: new requests waited %llu us\n",
                (unsigned long long)swap_res.wait_us);
        bn_wire_port_close(old);
        bn_wire_port_close(sc_old);
        bn_wire_port_close(next);
        bn_wire_port_close(sc_next);
        bn_endpoint_free(s);
        bn_endpoint_free(c);
}

int main(void)
{
        bn_log_init("test_wire_iface", 0);
        char err[256];
        struct bn_workers *w;
        struct bn_wire_registry wr;
        struct bn_ep_registry r;
        struct bn_endpoint *a, *b;

        dgram_make();
        cls_v1 = bn_test_class;
        cls_v1.port_writable = count_writable;
        cls_v1.port_ctl = count_ctl;
        cls_v2 = bn_test_class;
        cls_v2.wire_version = 2;
        cls_other = bn_test_class;
        cls_other.name = "testx";

        CHECK(bn_workers_start(&w, 2, "ti") == 0);
        bn_wire_registry_init(&wr);
        wr.env = (struct bn_wire_env){.workers = w, .host = "hostA"};
        CHECK(bn_wire_registry_add(&wr, &bn_wire_shm_class) == 0);
        CHECK(bn_wire_registry_add(&wr, &dgram_class) == 0);
        CHECK(seen_env == &wr.env && seen_env->workers == w && !strcmp(seen_env->host, "hostA"));
        bn_ep_registry_init(&r);
        CHECK(bn_corm_create(&r, &bn_test_class, "hostA/a", bn_workers_loop(w, 0), NULL, &a, err,
                             sizeof(err)) == 0);
        CHECK(bn_corm_create(&r, &bn_test_class, "hostA/b", bn_workers_loop(w, 1), NULL, &b, err,
                             sizeof(err)) == 0);

        end_params();
        caps(&wr, &r, bn_workers_loop(w, 1), a, b);
        handshake(&wr, &r, bn_workers_loop(w, 0), bn_workers_loop(w, 1), a);
        swap_test(&wr, bn_workers_loop(w, 0), bn_workers_loop(w, 1));

        bn_corm_destroy(&r, a);
        bn_corm_destroy(&r, b);
        CHECK(r.count == 0);
        bn_ep_registry_fini(&r);
        bn_wire_registry_fini(&wr);
        bn_workers_stop(w);
        FW_DONE();
}
