/* test_wire.c: wire ports through the framework (bn_wire_port_open/close,
 * bn_wire_send, delivery to the device class's port_rx on the endpoint's
 * loop, counters) between two sink Corms of the test class joined by a real
 * in-process shm wire; and ports opened and closed from the main thread
 * while the endpoint's loop keeps sending on it (the port list belongs to
 * the loop: issue 10), with bn_endpoint_has_ports / holds_port; and the
 * TX retry queue (bn_txq) over that wire: what a full ring refuses waits,
 * in order, and goes out when offered again; a queue without a port keeps
 * its messages until cleared. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_txq.h"
#include "bn_wire.h"
#include "fw_test.h"
#include "shm_wire.h"

extern const struct bn_devclass bn_test_class;

struct send_job {
        struct bn_wire_port *port;
        unsigned n, sent;
};

static void send_some(void *arg)
{
        struct send_job *j = arg;
        struct bn_wire_msg m[16];
        while (j->sent < j->n) {
                unsigned k = j->n - j->sent < 16 ? j->n - j->sent : 16;
                for (unsigned i = 0; i < k; i++) {
                        memset(&m[i], 0, sizeof(m[i]));
                        m[i].type = 1;
                        m[i].hdr_len = 8;
                        uint64_t v = j->sent + i;
                        memcpy(m[i].hdr, &v, 8);
                }
                int rc = bn_wire_send(j->port, m, k);
                if (rc <= 0)
                        break; /* peer not there yet or full: retry later */
                j->sent += (unsigned)rc;
        }
}

/* A timer on the endpoint's loop that sends one message each millisecond
 * through bn_endpoint_send, whatever port the endpoint has at the time. */
struct pump {
        struct bn_endpoint *ep;
        struct bn_timer *t;
        unsigned tries, sent;
};

static void pump_tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct pump *p = arg;
        struct bn_wire_msg m = {.type = 1, .hdr_len = 8};
        (void)loop;
        (void)t;
        memcpy(m.hdr, &p->tries, sizeof(p->tries));
        p->tries++;
        if (bn_endpoint_send(p->ep, &m, 1) == 1)
                p->sent++;
}

static void pump_start(void *arg)
{
        struct pump *p = arg;
        bn_loop_timer_add(p->ep->loop, 1, 1, pump_tick, p, &p->t);
}

static void pump_stop(void *arg)
{
        struct pump *p = arg;
        bn_loop_timer_cancel(p->ep->loop, p->t);
        p->t = NULL;
}

/* bn_txq on port's loop: TXQ_N messages of 4 KiB in one send, more than
 * the shm ring holds; done must hear each once, status 0, in order. */
#define TXQ_N 2000
struct txq_job {
        struct bn_wire_port *port;
        struct bn_txq q;
        unsigned done, bad, queued_first;
        int last_rc;
};

static void txq_done(void *arg, void *cookie, int status)
{
        struct txq_job *j = arg;
        if (status != 0 || (uintptr_t)cookie != j->done + 1)
                j->bad++;
        j->done++;
}

static uint8_t txq_data[4096];

static void txq_send_all(void *arg)
{
        struct txq_job *j = arg;
        static struct bn_wire_msg m[TXQ_N];
        static void *cookies[TXQ_N];
        for (unsigned i = 0; i < TXQ_N; i++) {
                m[i] = (struct bn_wire_msg){.type = 1, .len = sizeof(txq_data), .data = txq_data};
                cookies[i] = (void *)(uintptr_t)(i + 1);
        }
        j->last_rc = bn_txq_send(&j->q, j->port, m, cookies, TXQ_N);
        j->queued_first = bn_txq_len(&j->q);
}

static void txq_flush(void *arg)
{
        struct txq_job *j = arg;
        j->last_rc = bn_txq_flush(&j->q, j->port);
}

/* Holds the receiving endpoint's loop until released, so the ring cannot
 * drain while the sender fills it (on two cores the receiver can otherwise
 * keep up with all TXQ_N and nothing is refused). */
static atomic_int hold_state; /* 0 idle, 1 holding, 2 released */

static void hold_loop(void *arg)
{
        (void)arg;
        atomic_store(&hold_state, 1);
        for (int i = 0; i < 10000 && atomic_load(&hold_state) != 2; i++)
                usleep(1000);
}

static void txq_check(struct bn_endpoint *a, struct bn_endpoint *b, struct bn_wire_port *pa)
{
        struct txq_job j = {.port = pa};
        uint64_t in0 = atomic_load(&b->counters.msgs_in);

        bn_txq_init(&j.q, txq_done, &j);
        atomic_store(&hold_state, 0);
        CHECK(bn_loop_call(b->loop, hold_loop, NULL) == 0);
        for (int i = 0; i < 5000 && atomic_load(&hold_state) != 1; i++)
                usleep(1000);
        CHECK(bn_loop_call_wait(a->loop, txq_send_all, &j) == 0);
        atomic_store(&hold_state, 2);
        fprintf(stderr, "txq: %u of %u refused by the ring at first\n", j.queued_first, TXQ_N);
        CHECK(j.last_rc == 0 && j.queued_first > 0 && j.queued_first < TXQ_N);
        for (int i = 0; i < 5000 && j.last_rc != 1; i++) {
                usleep(1000);
                CHECK(bn_loop_call_wait(a->loop, txq_flush, &j) == 0);
        }
        CHECK(j.last_rc == 1 && bn_txq_empty(&j.q));
        CHECK(j.done == TXQ_N && j.bad == 0);
        for (int i = 0; i < 5000 && atomic_load(&b->counters.msgs_in) < in0 + TXQ_N; i++)
                usleep(1000);
        CHECK(atomic_load(&b->counters.msgs_in) == in0 + TXQ_N);

        /* no port: everything waits, nothing is reported until cleared */
        struct bn_wire_msg one = {.type = 1};
        void *ck = (void *)(uintptr_t)(TXQ_N + 1);
        CHECK(bn_txq_send(&j.q, NULL, &one, &ck, 1) == -ENOTCONN);
        CHECK(bn_txq_flush(&j.q, NULL) == -ENOTCONN && bn_txq_len(&j.q) == 1 && j.done == TXQ_N);
        CHECK(bn_txq_clear(&j.q, -ENOTCONN) == 1 && bn_txq_empty(&j.q));
        CHECK(j.done == TXQ_N + 1 && j.bad == 1); /* the clear reports -ENOTCONN */
        bn_txq_fini(&j.q);
}

/* 200 open/close cycles of a wire at a while a's loop sends on it. */
static void churn(struct bn_wire_registry *wr, struct bn_endpoint *a, struct bn_endpoint *b)
{
        struct pump p = {.ep = a};
        char err[256];

        CHECK(bn_loop_call_wait(a->loop, pump_start, &p) == 0 && p.t);
        for (int i = 0; i < 200; i++) {
                struct bn_wire_port *pa, *pb;
                CHECK(bn_wire_port_open(wr, "shm", "w2", 0, a, NULL, &pa, err, sizeof(err)) == 0);
                CHECK(bn_wire_port_open(wr, "shm", "w2", 1, b, NULL, &pb, err, sizeof(err)) == 0);
                CHECK(bn_endpoint_has_ports(a) && bn_endpoint_holds_port(a, pa));
                CHECK(!bn_endpoint_holds_port(a, pb) && bn_endpoint_holds_port(b, pb));
                if (i % 3 == 0)
                        usleep(2000); /* let some sends through */
                bn_wire_port_close(pa);
                bn_wire_port_close(pb);
                CHECK(!bn_endpoint_has_ports(a));
        }
        CHECK(bn_loop_call_wait(a->loop, pump_stop, &p) == 0);
        fprintf(stderr, "churn: %u sends tried, %u accepted, across 200 open/close cycles\n",
                p.tries, p.sent);
        CHECK(p.tries > 0);
        CHECK(atomic_load(&a->counters.drops) >= p.tries - p.sent);
}

int main(void)
{
        bn_log_init("test_wire", 0);
        char err[256];
        struct bn_workers *w;
        CHECK(bn_workers_start(&w, 2, "tw") == 0);
        struct bn_wire_registry wr;
        bn_wire_registry_init(&wr);
        CHECK(bn_wire_registry_add(&wr, &bn_wire_shm_class) == 0);
        CHECK(bn_wire_registry_add(&wr, &bn_wire_shm_class) == -EEXIST);
        struct bn_ep_registry r;
        bn_ep_registry_init(&r);
        struct bn_endpoint *a, *b;
        CHECK(bn_corm_create(&r, &bn_test_class, "hostA/sinkA", bn_workers_loop(w, 0), NULL, &a,
                             err, sizeof(err)) == 0);
        CHECK(bn_corm_create(&r, &bn_test_class, "hostA/sinkB", bn_workers_loop(w, 1), NULL, &b,
                             err, sizeof(err)) == 0);

        struct bn_wire_port *pa, *pb, *px;
        CHECK(bn_wire_port_open(&wr, "nope", "w1", 0, a, NULL, &px, err, sizeof(err)) == -ENOENT);
        CHECK(strstr(err, "unknown wire type 'nope'"));
        CHECK(bn_wire_port_open(&wr, "shm", "w1", 0, a, NULL, &pa, err, sizeof(err)) == 0);
        CHECK(bn_wire_port_open(&wr, "shm", "w1", 1, b, NULL, &pb, err, sizeof(err)) == 0);
        CHECK(bn_endpoint_has_ports(a) && bn_endpoint_holds_port(b, pb));
        CHECK(bn_endpoint_get_state(a, NULL, 0) == BN_EP_CONNECTED);

        struct send_job job = {.port = pa, .n = 1000};
        for (int i = 0; i < 1000 && atomic_load(&b->counters.msgs_in) < 1000; i++) {
                CHECK(bn_loop_call_wait(a->loop, send_some, &job) == 0);
                usleep(10000);
        }
        CHECK(job.sent == 1000);
        CHECK(atomic_load(&a->counters.msgs_out) == 1000);
        CHECK(atomic_load(&b->counters.msgs_in) == 1000);

        txq_check(a, b, pa);

        bn_wire_port_close(pa);
        CHECK(!bn_endpoint_has_ports(a) && !bn_endpoint_holds_port(a, pa));
        CHECK(bn_endpoint_get_state(a, NULL, 0) == BN_EP_READY);
        churn(&wr, a, b);
        CHECK(bn_endpoint_get_state(a, NULL, 0) == BN_EP_READY);
        bn_corm_destroy(&r, a); /* no ports */
        bn_corm_destroy(&r, b); /* closes pb */
        CHECK(r.count == 0);
        bn_ep_registry_fini(&r);
        bn_wire_registry_fini(&wr);
        bn_workers_stop(w);
        FW_DONE();
}
