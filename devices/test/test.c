/* test.c: the "test" device class. Its Spike serves the echo protocol of
 * bn_test_proto.h on one ring page and one event channel (proving grant
 * map, event channels and the xenbus handshake end to end) and sends each
 * echo to its wire; its Corm is a sink that counts what it receives. */
#include "bn_test_proto.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_params.h"
#include "bn_wire.h"
#include "bn_xenbus.h"

struct test_spike {
        struct bn_xb_dev *dev;
        struct bn_endpoint *ep;
        struct bn_xb_ring ring;
        struct bn_test_back_ring back;
        struct bn_evtchn *evtchn;
        uint32_t port;
        bool bound, polling, broken;
        uint64_t served;
};

struct test_corm {
        _Atomic uint64_t received;
};

static int test_probe(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct test_spike *s = ep->priv;
        s->dev = dev;
        s->ep = ep;
        int rc = bn_xb_write(dev, "feature-test", "1");
        if (!rc)
                rc = bn_xb_write(dev, "max-ring-page-order", "0");
        return rc;
}

/* On ep->loop: answer one echo request (and send the echo to the wire). */
static void answer(struct test_spike *s, const struct bn_test_request *req,
                   struct bn_test_response *r)
{
        r->id = req->id;
        if (req->op == BN_TEST_OP_ECHO) {
                r->value = req->value + 1;
                struct bn_wire_msg m = {.type = BN_MSG_TEST_ECHO, .hdr_len = 8};
                memcpy(m.hdr, &req->value, 8);
                if (s->ep->nports)
                        bn_endpoint_send(s->ep, &m, 1);
        } else {
                r->status = -EINVAL;
        }
        s->served++;
}

/* On ep->loop: answer every request on the ring. */
static void serve(struct test_spike *s)
{
        int rc;
        if (s->broken)
                return;
        BN_RING_SERVE(&s->back, struct bn_test_request, struct bn_test_response,
                      answer(s, &req, &rsp), bn_evtchn_notify(s->evtchn, s->port), rc);
        if (rc) {
                s->broken = true;
                bn_xb_fail(s->dev, EPROTO, "ring producer index %u is impossible (consumer %u)",
                           s->back.sring->req_prod, s->back.req_cons);
        }
}

static void evtchn_ready(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        (void)loop;
        (void)fd;
        (void)events;
        struct test_spike *s = arg;
        bn_evtchn_drain(s->evtchn);
        serve(s);
}

static void start_io(void *arg)
{
        struct test_spike *s = arg;
        int rc = bn_loop_add_fd(s->ep->loop, bn_evtchn_fd(s->evtchn), EPOLLIN, evtchn_ready, s);
        if (rc) {
                bn_xb_fail(s->dev, rc, "cannot poll the event channel");
                return;
        }
        s->polling = true;
        serve(s); /* requests queued before we were ready */
}

static void stop_io(void *arg)
{
        struct test_spike *s = arg;
        if (s->polling)
                bn_loop_del_fd(s->ep->loop, bn_evtchn_fd(s->evtchn));
        s->polling = false;
}

static void test_disconnect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct test_spike *s = ep->priv;
        bn_loop_call_wait(ep->loop, stop_io, s);
        if (s->bound)
                bn_xb_unbind_evtchn(dev, s->port);
        s->bound = false;
        bn_xb_unmap_ring(dev, &s->ring);
        bn_info(ep->name, "test spike stopped after %llu echo request(s)",
                (unsigned long long)s->served);
}

static int test_connect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct test_spike *s = ep->priv;
        s->broken = false;
        s->served = 0;
        s->evtchn = bn_xb_dev_evtchn(dev);
        int rc = bn_xb_map_ring(dev, -1, "ring-ref", &s->ring);
        if (rc)
                return rc;
        rc = bn_xb_bind_evtchn(dev, -1, "event-channel", &s->port);
        if (rc)
                goto fail;
        s->bound = true;
        BACK_RING_ATTACH(&s->back, (struct bn_test_sring *)s->ring.addr,
                         bn_xb_ring_resume_index(s->ring.addr), BN_PAGE_SIZE * s->ring.npages);
        rc = bn_loop_call_wait(ep->loop, start_io, s);
        if (rc || !s->polling) {
                rc = rc ? rc : -EIO;
                goto fail;
        }
        bn_info(ep->name, "test spike serving echo requests (ring of %u page(s), event channel %u)",
                s->ring.npages, s->port);
        return 0;
fail:
        if (s->bound)
                bn_xb_unbind_evtchn(dev, s->port);
        s->bound = false;
        bn_xb_unmap_ring(dev, &s->ring);
        return rc;
}

static void test_remove(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        (void)dev;
        struct test_spike *s = ep->priv;
        s->dev = NULL;
}

static int test_corm_check(const struct bn_params *params, char *err, size_t errlen)
{
        static const char *const known[] = {NULL};
        return bn_params_check_known(params, known, err, errlen);
}

static int test_corm_open(struct bn_endpoint *ep, const struct bn_params *params, char *err,
                          size_t errlen)
{
        (void)ep;
        return test_corm_check(params, err, errlen);
}

static void test_corm_close(struct bn_endpoint *ep)
{
        struct test_corm *c = ep->priv;
        bn_info(ep->name, "sink corm received %llu message(s)",
                (unsigned long long)atomic_load(&c->received));
}

static void test_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port,
                         struct bn_wire_msg *msgs, unsigned n)
{
        (void)port;
        (void)msgs;
        if (ep->kind == BN_EP_CORM) {
                struct test_corm *c = ep->priv;
                atomic_fetch_add(&c->received, n);
        }
}

const struct bn_devclass bn_test_class = {
    .name = "test",
    .backend_types = {"test", NULL},
    .max_ring_page_order = 0,
    .max_queues = 1,
    .wire_version = 1,
    .spike_priv_size = sizeof(struct test_spike),
    .corm_priv_size = sizeof(struct test_corm),
    .probe = test_probe,
    .connect = test_connect,
    .disconnect = test_disconnect,
    .remove = test_remove,
    .corm_open = test_corm_open,
    .corm_check = test_corm_check,
    .corm_close = test_corm_close,
    .port_rx = test_port_rx,
};
