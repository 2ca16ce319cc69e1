/* displ.c: the display device class "vdispl": the Spike of Xen's PV
 * display protocol (xen/io/displif.h; Linux's drm_xen_front is the
 * front-end) and its registration. Per connector <i> the front-end
 * publishes <i>/req-ring-ref + req-event-channel (a request ring) and
 * <i>/evt-ring-ref + evt-event-channel (an event page, written by us), and
 * the toolstack <i>/resolution. Requests are answered by displ_req.c; a
 * shown frame goes to the wire's region (bn_displ_msg.h), only the bands
 * of rows that changed since they were last sent, then a frame message,
 * and its flip event follows that; the shown frame is also looked at every DISPL_REFRESH_MS for
 * what the guest drew without a flip. The Corm is in corm.c. */
#include "displ_int.h"

#include "displ_corm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

extern const struct bn_devclass bn_display_class;

static int parse_resolution(const char *v, uint32_t *w, uint32_t *h)
{
        char *end;
        unsigned long a = strtoul(v, &end, 10);
        if (end == v || *end != 'x')
                return -EINVAL;
        const char *p = end + 1;
        unsigned long b = strtoul(p, &end, 10);
        if (end == p || *end || !a || !b || a > BN_DISPL_DIM_MAX || b > BN_DISPL_DIM_MAX)
                return -EINVAL;
        *w = (uint32_t)a;
        *h = (uint32_t)b;
        return 0;
}

static int displ_probe(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct displ_spike *s = ep->priv;
        s->dev = dev;
        s->ep = ep;
        s->tile = malloc(BN_WIRE_DATA_MAX);
        if (!s->tile)
                return -ENOMEM;
        return bn_xb_write(dev, XENDISPL_FIELD_BE_VERSIONS, "%s", XENDISPL_PROTOCOL_VERSION);
}

/* On ep->loop: put one event on the connector's event page. */
static void put_event(struct displ_spike *s, struct displ_conn *c, uint64_t fb)
{
        struct xendispl_event_page *pg = c->evt.addr;
        uint32_t cons = __atomic_load_n(&pg->in_cons, __ATOMIC_ACQUIRE);
        if (c->evt_prod - cons >= XENDISPL_IN_RING_LEN) {
                s->evt_drops++; /* the guest reads no events: it loses them, not us */
                return;
        }
        struct xendispl_evt e = {.id = c->evt_id++, .type = XENDISPL_EVT_PG_FLIP};
        e.op.pg_flip.fb_cookie = fb;
        memcpy(&XENDISPL_IN_RING_REF(pg, c->evt_prod), &e, sizeof(e));
        c->evt_prod++;
        __atomic_store_n(&pg->in_prod, c->evt_prod, __ATOMIC_RELEASE);
        bn_evtchn_notify(s->evtchn, c->evt_port);
}

/* A hash of rows rows of row_bytes at src, stride apart (guest memory,
 * read once; only used to skip tiles that did not change). */
static uint64_t tile_hash(const uint8_t *src, uint32_t rows, uint32_t row_bytes, uint32_t stride)
{
        uint64_t h = 0xcbf29ce484222325ull, w;
        for (uint32_t r = 0; r < rows; r++) {
                const uint8_t *p = src + (size_t)r * stride;
                for (uint32_t i = 0; i + 8 <= row_bytes; i += 8) {
                        memcpy(&w, p + i, 8);
                        h = (h ^ w) * 0x100000001b3ull;
                }
        }
        return h | 1; /* 0: never sent */
}

/* On ep->loop: send what is left of the connector's frame: into its
 * region the bands of rows not as they were last sent, then the frame
 * message naming the rows that changed (whenever something did, or a flip
 * waits for it); stop at a full wire (port_writable resumes). */
static void pump(struct displ_spike *s, struct displ_conn *c)
{
        while (c->sending) {
                struct displ_fb *fb = displ_fb_find(s, c->send_fb);
                struct bn_wire_port *port = s->ep->nports ? s->ep->ports[0] : NULL;
                if (!fb || !port) {
                        c->sending = false;
                        break;
                }
                const struct displ_dbuf *d = &s->dbufs[fb->dbuf];
                uint32_t row_bytes = fb->width * BN_DISPL_PIXEL_SIZE;
                uint64_t size = (uint64_t)row_bytes * fb->height;
                if (c->send_row == fb->height) { /* every band is in the region */
                        struct bn_displ_frame f = {.conn = c->idx,
                                                   .region = c->idx + 1,
                                                   .width = fb->width,
                                                   .height = fb->height,
                                                   .seq = c->seq,
                                                   .row = c->dmg ? c->dmg_lo : 0,
                                                   .rows = c->dmg ? c->dmg_hi - c->dmg_lo : 0};
                        struct bn_wire_msg m = {.type = BN_MSG_DISPL_FRAME, .hdr_len = sizeof(f)};
                        memcpy(m.hdr, &f, sizeof(f));
                        if ((c->dmg || c->evt_pending) && bn_endpoint_send(s->ep, &m, 1) != 1)
                                return; /* full: port_writable calls us again */
                        c->dmg = false;
                        c->sending = false;
                        break;
                }
                uint32_t per_tile = port->caps.max_msg / row_bytes; /* >= 1: wire_needs */
                uint32_t rows = per_tile;
                if (rows > fb->height - c->send_row)
                        rows = fb->height - c->send_row;
                if (c->hash_fb != fb->cookie || c->hash_w != fb->width || c->hash_h != fb->height) {
                        memset(c->tile_hash, 0, sizeof(c->tile_hash));
                        c->dmg = false; /* every band goes again */
                        c->hash_fb = fb->cookie;
                        c->hash_w = fb->width;
                        c->hash_h = fb->height;
                }
                /* dbuf_create checked data_ofs + stride * height <= size */
                const uint8_t *src =
                    (const uint8_t *)d->buf.addr + d->data_ofs + (size_t)c->send_row * d->stride;
                uint32_t ti = c->send_row / per_tile;
                uint64_t h = tile_hash(src, rows, row_bytes, d->stride);
                if (h == c->tile_hash[ti]) {
                        c->send_row += rows; /* unchanged */
                        continue;
                }
                for (uint32_t r = 0; r < rows; r++)
                        memcpy(s->tile + (size_t)r * row_bytes, src + (size_t)r * d->stride,
                               row_bytes);
                int rc =
                    bn_wire_region_write(port, c->idx + 1, size, (uint64_t)c->send_row * row_bytes,
                                         s->tile, rows * row_bytes);
                if (rc == 0)
                        return; /* full: port_writable calls us again */
                if (rc < 0) {
                        c->sending = false; /* the port is failing: it says so */
                        break;
                }
                c->tile_hash[ti] = h;
                if (!c->dmg || c->send_row < c->dmg_lo)
                        c->dmg_lo = c->send_row;
                if (!c->dmg || c->send_row + rows > c->dmg_hi)
                        c->dmg_hi = c->send_row + rows;
                c->dmg = true;
                c->send_row += rows;
        }
        if (c->evt_pending && !c->sending) {
                c->evt_pending = false;
                put_event(s, c, c->send_fb);
        }
}

void displ_flip(struct displ_spike *s, struct displ_conn *c, uint64_t fb, bool event)
{
        if (c->evt_pending) /* a frame superseded before it was out */
                put_event(s, c, c->send_fb);
        c->evt_pending = event;
        c->send_fb = fb;
        c->send_row = 0;
        c->seq++;
        c->sending = true;
        pump(s, c);
}

/* Every DISPL_REFRESH_MS: a guest may draw into the shown frame without
 * flipping (Linux's fbdev emulation on drm_xen_front does): send what
 * changed. */
static void refresh(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        (void)loop;
        (void)t;
        struct displ_spike *s = arg;
        for (unsigned i = 0; !s->broken && i < s->nconn; i++)
                if (s->conn[i].shown && !s->conn[i].sending && s->ep->nports)
                        displ_flip(s, &s->conn[i], s->conn[i].shown, false);
}

/* On ep->loop: answer every request on one connector's ring; false when
 * the device is being disconnected. */
static bool serve_conn(struct displ_spike *s, struct displ_conn *c)
{
        int rc;
        BN_RING_SERVE(&c->back, struct xendispl_req, struct xendispl_resp,
                      if (!displ_handle(s, c, &req, &rsp)) rc = -ECANCELED, /* reported */
                      bn_evtchn_notify(s->evtchn, c->req_port), rc);
        if (rc == -EPROTO)
                bn_xb_fail(s->dev, EPROTO,
                           "connector %u: ring producer %u is impossible (consumer %u)", c->idx,
                           c->back.sring->req_prod, c->back.req_cons);
        return rc == 0;
}

static void serve(struct displ_spike *s)
{
        for (unsigned i = 0; i < s->nconn && !s->broken; i++)
                if (!serve_conn(s, &s->conn[i]))
                        s->broken = true; /* until the next connect */
}

static void evtchn_ready(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        (void)loop;
        (void)fd;
        (void)events;
        struct displ_spike *s = arg;
        bn_evtchn_drain(s->evtchn);
        serve(s);
}

static void start_io(void *arg)
{
        struct displ_spike *s = arg;
        s->broken = false;
        int rc = bn_loop_add_fd(s->ep->loop, bn_evtchn_fd(s->evtchn), EPOLLIN, evtchn_ready, s);
        if (rc) {
                bn_xb_fail(s->dev, rc, "cannot poll the event channels");
                return;
        }
        s->polling = true;
        if (bn_loop_timer_add(s->ep->loop, DISPL_REFRESH_MS, DISPL_REFRESH_MS, refresh, s,
                              &s->refresh))
                s->refresh = NULL; /* then flips alone update the screen */
        serve(s);                  /* requests queued before we were ready */
}

static void stop_io(void *arg)
{
        struct displ_spike *s = arg;
        if (s->polling)
                bn_loop_del_fd(s->ep->loop, bn_evtchn_fd(s->evtchn));
        s->polling = false;
        if (s->refresh)
                bn_loop_timer_cancel(s->ep->loop, s->refresh);
        s->refresh = NULL;
        displ_free_all(s);
        for (unsigned i = 0; i < s->nconn; i++)
                s->conn[i].sending = s->conn[i].evt_pending = false;
}

static void unmap_conns(struct displ_spike *s)
{
        for (unsigned i = 0; i < s->nconn; i++) {
                struct displ_conn *c = &s->conn[i];
                if (c->req_bound)
                        bn_xb_unbind_evtchn(s->dev, c->req_port);
                if (c->evt_bound)
                        bn_xb_unbind_evtchn(s->dev, c->evt_port);
                c->req_bound = c->evt_bound = false;
                bn_xb_unmap_ring(s->dev, &c->req);
                bn_xb_unmap_ring(s->dev, &c->evt);
        }
}

/* Map and bind connector i (main thread, before the loop starts). */
static int map_conn(struct displ_spike *s, unsigned i)
{
        struct displ_conn *c = &s->conn[i];
        char sub[8];
        snprintf(sub, sizeof(sub), "%u", i);
        int rc = bn_xb_map_ring_at(s->dev, sub, XENDISPL_FIELD_REQ_RING_REF, &c->req);
        if (!rc)
                rc = bn_xb_map_ring_at(s->dev, sub, XENDISPL_FIELD_EVT_RING_REF, &c->evt);
        if (!rc &&
            !(rc = bn_xb_bind_evtchn_at(s->dev, sub, XENDISPL_FIELD_REQ_CHANNEL, &c->req_port)))
                c->req_bound = true;
        if (!rc &&
            !(rc = bn_xb_bind_evtchn_at(s->dev, sub, XENDISPL_FIELD_EVT_CHANNEL, &c->evt_port)))
                c->evt_bound = true;
        if (rc)
                return rc;
        struct xen_displif_sring *sr = c->req.addr;
        BACK_RING_ATTACH(&c->back, sr, bn_xb_ring_resume_index(sr), BN_PAGE_SIZE);
        c->evt_prod = __atomic_load_n(&((struct xendispl_event_page *)c->evt.addr)->in_prod,
                                      __ATOMIC_ACQUIRE);
        return 0;
}

static int displ_connect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        struct displ_spike *s = ep->priv;
        char key[16], v[32];
        int rc = 0;
        s->evtchn = bn_xb_dev_evtchn(dev);
        s->gnt = bn_xb_dev_gnt(dev);
        memset(s->conn, 0, sizeof(s->conn));
        s->nconn = 0;
        /* connectors 0.. as the toolstack declared them, each with its
         * resolution */
        for (unsigned i = 0; i < BN_DISPL_CONN_MAX; i++) {
                snprintf(key, sizeof(key), "%u/%s", i, XENDISPL_FIELD_RESOLUTION);
                rc = bn_xb_read_fe(dev, key, v, sizeof(v));
                if (rc == -ENOENT)
                        break;
                struct displ_conn *c = &s->conn[i];
                if (rc || parse_resolution(v, &c->res_w, &c->res_h)) {
                        bn_xb_fatal(dev, EINVAL,
                                    "connector %u: resolution '%.32s' is not WxH "
                                    "(1..%u)",
                                    i, rc ? "" : v, BN_DISPL_DIM_MAX);
                        return -EINVAL;
                }
                c->idx = i;
                s->nconn = i + 1;
        }
        rc = 0;
        if (!s->nconn) {
                bn_xb_fatal(dev, ENOENT, "no connector: 0/%s is missing",
                            XENDISPL_FIELD_RESOLUTION);
                return -ENOENT;
        }
        for (unsigned i = 0; i < s->nconn && !rc; i++)
                rc = map_conn(s, i);
        if (!rc)
                rc = displ_journal_open(s); /* after a restart: the buffers again */
        if (!rc)
                rc = bn_loop_call_wait(ep->loop, start_io, s);
        if (!rc && !s->polling)
                rc = -EIO;
        if (rc) {
                displ_free_all(s); /* the loop never served them */
                displ_journal_close(s);
                unmap_conns(s);
                return rc;
        }
        bn_info(ep->name, "display spike: %u connector(s), connector 0 %ux%u", s->nconn,
                s->conn[0].res_w, s->conn[0].res_h);
        return 0;
}

static void displ_disconnect(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        (void)dev;
        struct displ_spike *s = ep->priv;
        bn_loop_call_wait(ep->loop, stop_io, s);
        displ_journal_close(s); /* kept on a restart, removed with the device */
        unmap_conns(s);
        bn_info(ep->name, "display spike stopped after %llu request(s), %llu flip(s)",
                (unsigned long long)s->requests, (unsigned long long)s->flips);
}

static void free_on_loop(void *arg)
{
        struct displ_spike *s = arg;
        free(s->tile);
        s->tile = NULL;
}

static void displ_remove(struct bn_xb_dev *dev, struct bn_endpoint *ep)
{
        (void)dev;
        struct displ_spike *s = ep->priv;
        bn_loop_call_wait(ep->loop, free_on_loop, s);
        s->dev = NULL;
}

/* A new wire end (a Corm that has seen nothing yet): the next pass sends
 * every tile. */
static int displ_port_attach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        (void)port;
        struct displ_spike *s = ep->priv;
        /* only while the loop runs the I/O: before it, connect (main
         * thread) is filling s->conn, and starts from nothing sent */
        if (ep->kind == BN_EP_SPIKE && s->polling)
                for (unsigned i = 0; i < s->nconn; i++)
                        s->conn[i].hash_fb = 0;
        return 0;
}

/* A link that comes (back) up may lead to a peer that holds nothing of
 * ours (a new connection, a restarted bananad): the next pass sends every
 * band again. */
static void displ_port_link(struct bn_endpoint *ep, struct bn_wire_port *port,
                            const struct bn_wire_link *link)
{
        if (link->up)
                displ_port_attach(ep, port);
}

/* A wire that refused a band has room again: send the rest. */
static void displ_port_writable(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        (void)port;
        if (ep->kind != BN_EP_SPIKE)
                return;
        struct displ_spike *s = ep->priv;
        for (unsigned i = 0; s->polling && i < s->nconn; i++)
                pump(s, &s->conn[i]);
}

static void displ_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port,
                          struct bn_wire_msg *msgs, unsigned n)
{
        if (ep->kind == BN_EP_CORM)
                bn_displ_corm_rx(ep, port, msgs, n);
        /* a Spike takes nothing from its wire */
}

const struct bn_devclass bn_display_class = {
    .name = "vdispl",
    .backend_types = {XENDISPL_DRIVER_NAME, NULL},
    .max_ring_page_order = 0,
    .max_queues = 1,
    .spike_priv_size = sizeof(struct displ_spike),
    .corm_priv_size = sizeof(struct displ_corm),
    .probe = displ_probe,
    .connect = displ_connect,
    .disconnect = displ_disconnect,
    .remove = displ_remove,
    .corm_open = bn_displ_corm_open,
    .corm_check = bn_displ_corm_check,
    .corm_close = bn_displ_corm_close,
    .port_attach = displ_port_attach,
    .port_rx = displ_port_rx,
    .port_writable = displ_port_writable,
    .port_link = displ_port_link,
    .snapshot = bn_displ_corm_snapshot,
    /* frames go as regions: the rows written must all arrive, in order,
     * before the frame message (shm; between hosts: stream, wires/stream) */
    .wire_needs = {.ordered = true,
                   .reliable = true,
                   .regions = true,
                   .min_msg = BN_DISPL_DIM_MAX * BN_DISPL_PIXEL_SIZE},
    .wire_version = 2,
};
