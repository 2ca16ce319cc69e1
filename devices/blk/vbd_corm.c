/* vbd_corm.c: the Corm side of the "vbd" device class. One Corm endpoint
 * serves one disk through a bn_blk_corm provider (io_uring on a file or
 * block device, or libnbd on an NBD export) to every vbd Spike wired to it.
 *
 * Parameters (corm_open):
 *   path=FILE[,direct=0|1][,readonly=0|1]   io_uring on FILE
 *   uri=nbd+unix:///...|nbd://...           the NBD Corm (readonly refused)
 *
 * Each BN_MSG_BLK_REQ message arriving on a port becomes one bn_blk_io; its
 * completion is answered with BN_MSG_BLK_RSP on the same port (queued when
 * the port refuses it, sent again on port_writable). A port that leaves
 * orphans its requests: they complete on the disk and their answers are
 * dropped; until the last orphan is done, requests from any port are held
 * back (not submitted), so that a request the Spike sends again on a new
 * wire can never be overtaken by its orphaned twin (a late orphaned write
 * landing after a newer write of the same block). Orphans  * dropped. Disk growth is noticed by a
 * periodic size check and announced with BN_MSG_BLK_INFO to every port. Everything runs on
 * ep->loop. */
#include "vbd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bn_blk_msg.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

#define CORM_SIZE_CHECK_MS 300
#define CIO_SPARE_MAX      64 /* answered requests kept for reuse (no malloc per request) */

struct cport;

struct cio {
        struct bn_blk_io io;
        struct iovec iov;
        struct vbd_corm *c;
        struct cport *port; /* NULL once the port left */
        uint64_t tag;
        struct cio *next, *prev; /* in flight (c->ios) or waiting to be answered (port->rsp) */
        unsigned char *data;     /* page aligned (O_DIRECT), NULL without data */
        size_t cap;              /* bytes at data */
        bool orphan;             /* its port left while it was on the disk */
};

/* A request context with room for dlen bytes of data: a spare one when
 * there is one (its buffer grown if need be), else a new one. NULL: no
 * memory. */
static struct cio *cio_get(struct vbd_corm *c, size_t dlen)
{
        struct cio *x = c->spare;
        unsigned char *data = NULL;
        size_t cap = 0;

        if (x) {
                c->spare = x->next;
                c->nspare--;
                data = x->data;
                cap = x->cap;
        } else if (!(x = malloc(sizeof(*x)))) {
                return NULL;
        }
        if (dlen > cap) {
                free(data);
                cap = (dlen + 4095) & ~(size_t)4095;
                data = aligned_alloc(4096, cap);
                if (!data) {
                        free(x);
                        return NULL;
                }
        }
        memset(x, 0, sizeof(*x));
        x->c = c;
        x->data = data;
        x->cap = cap;
        return x;
}

/* Done with x: kept as a spare (up to CIO_SPARE_MAX), else freed. */
static void cio_free(struct cio *x)
{
        struct vbd_corm *c = x->c;

        if (c && c->nspare < CIO_SPARE_MAX) {
                x->next = c->spare;
                c->spare = x;
                c->nspare++;
                return;
        }
        free(x->data);
        free(x);
}

static void cio_spares_free(struct vbd_corm *c)
{
        while (c->spare) {
                struct cio *x = c->spare;
                c->spare = x->next;
                free(x->data);
                free(x);
        }
        c->nspare = 0;
}

struct cport {
        struct bn_wire_port *port;
        struct bn_txq txq; /* answers the port refused; cookie: their cio */
        struct cport *next;
        bool drain_owed; /* the Spike sent DRAIN: answer DRAINED once nothing is in flight */
};

static void list_add(struct cio **head, struct cio *x)
{
        x->prev = NULL;
        x->next = *head;
        if (*head)
                (*head)->prev = x;
        *head = x;
}

static void list_del(struct cio **head, struct cio *x)
{
        if (x->prev)
                x->prev->next = x->next;
        else
                *head = x->next;
        if (x->next)
                x->next->prev = x->prev;
        x->next = x->prev = NULL;
}

static struct cport *find_port(struct vbd_corm *c, struct bn_wire_port *port)
{
        for (struct cport *p = c->ports; p; p = p->next)
                if (p->port == port)
                        return p;
        return NULL;
}

/* A DRAIN is answered once every request of the port has completed and
 * its answer went out (DRAINED must follow them on the wire). */
static void drain_check(struct vbd_corm *c, struct cport *p)
{
        if (!p->drain_owed || !bn_txq_empty(&p->txq))
                return;
        for (struct cio *x = c->ios; x; x = x->next)
                if (x->port == p)
                        return;
        for (struct cio *x = c->held_head; x; x = x->next)
                if (x->port == p)
                        return;
        if (bn_wire_send_ctl(p->port, BN_MSG_CTL_DRAINED) != 0)
                p->drain_owed = false; /* sent, or the wire cannot: not owed any more */
}

static void corm_info(struct vbd_corm *c, struct bn_blk_msg_info *i)
{
        memset(i, 0, sizeof(*i));
        i->size = c->size & ~(uint64_t)511;
        i->flags = BN_BLK_INFO_F_DISCARD | BN_BLK_INFO_F_FLUSH;
        if (c->readonly)
                i->flags = BN_BLK_INFO_F_READONLY;
        i->sector_size = 512;
}

static void send_info(struct vbd_corm *c, struct bn_wire_port *port)
{
        struct bn_blk_msg_info i;
        struct bn_wire_msg m;

        corm_info(c, &i);
        bn_blk_msg_info_encode(&m, &i);
        if (bn_wire_send(port, &m, 1) != 1)
                c->info_owed = true; /* sent again on port_writable */
}

/* An answer went to the wire (or was dropped with its port): its context
 * and buffer can be used again. */
static void rsp_done(void *arg, void *cookie, int status)
{
        (void)arg;
        (void)status;
        cio_free(cookie);
}

/* Answer x on its port, after the answers the port refused before. */
static void send_rsp(struct cport *p, struct cio *x)
{
        struct bn_blk_msg_rsp r = {.tag = x->tag, .status = x->io.result};
        struct bn_wire_msg m;
        void *cookie = x;

        if (!r.status && x->io.op == BN_BLK_IO_READ)
                r.len = (uint32_t)x->io.len;
        if (bn_blk_msg_rsp_encode(&m, &r, x->data) < 0) {
                r.status = -EIO;
                r.len = 0;
                bn_blk_msg_rsp_encode(&m, &r, NULL);
        }
        if (bn_txq_send(&p->txq, p->port, &m, &cookie, 1) == -ENOMEM) {
                bn_warn(x->c->ep->name, "answer to tag %" PRIu64 " lost: no memory to queue it",
                        x->tag);
                cio_free(x);
        }
}

static void io_done(struct bn_blk_io *io)
{
        struct cio *x = (struct cio *)io;
        struct vbd_corm *c = x->c;
        struct cport *p = x->port;

        list_del(&c->ios, x);
        c->completed++;
        if (x->orphan) {
                c->orphans--;
                bn_debug(c->ep->name, "orphan done (%d), %u left", x->io.result, c->orphans);
        }
        if (!p) {
                cio_free(x);
                return;
        }
        send_rsp(p, x);
        drain_check(c, p);
}

static void corm_rearm(struct vbd_corm *c);

static void corm_timer(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct vbd_corm *c = arg;
        (void)loop;
        (void)t;
        c->timer = NULL;
        bn_blk_corm_process(c->disk, 0);
        corm_rearm(c);
}

static void corm_fd_ready(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct vbd_corm *c = arg;
        short rev = 0;
        (void)loop;
        (void)fd;
        if (events & EPOLLIN)
                rev |= POLLIN;
        if (events & EPOLLOUT)
                rev |= POLLOUT;
        if (events & (EPOLLERR | EPOLLHUP))
                rev |= POLLERR | POLLHUP;
        bn_blk_corm_process(c->disk, rev);
        corm_rearm(c);
}

/* Follow what the provider wants to wait for (its fd may change). */
static void corm_rearm(struct vbd_corm *c)
{
        int fd, tmo;
        short ev;
        uint32_t eev = 0;

        /* requests held back while orphans were on the disk */
        while (!c->orphans && c->held_head) {
                struct cio *x = c->held_head;
                int rc;

                c->held_head = x->next;
                if (!c->held_head)
                        c->held_tail = NULL;
                list_add(&c->ios, x);
                rc = bn_blk_corm_submit(c->disk, &x->io);
                if (rc < 0) {
                        x->io.result = rc;
                        x->io.niov = 0;
                        io_done(&x->io);
                }
        }

        if (c->nbd && !bn_blk_is_mirror(c->disk) &&
            bn_blk_nbd_reconnects(c->disk) != c->reconnects) {
                c->reconnects = bn_blk_nbd_reconnects(c->disk);
                bn_warn(c->ep->name,
                        "NBD server reconnected (%" PRIu64
                        " reconnect(s) so far), %u request(s) in flight replayed",
                        c->reconnects, bn_blk_corm_inflight(c->disk));
        }
        bn_blk_corm_kick(c->disk);
        bn_blk_corm_poll(c->disk, &fd, &ev, &tmo);
        if (ev & POLLIN)
                eev |= EPOLLIN;
        if (ev & POLLOUT)
                eev |= EPOLLOUT;
        if (fd != c->fd) {
                if (c->fd >= 0)
                        bn_loop_del_fd(c->ep->loop, c->fd);
                c->fd = -1;
                if (fd >= 0 && bn_loop_add_fd(c->ep->loop, fd, eev, corm_fd_ready, c) == 0) {
                        c->fd = fd;
                        c->fd_events = eev;
                }
        } else if (fd >= 0 && eev != c->fd_events) {
                bn_loop_mod_fd(c->ep->loop, fd, eev);
                c->fd_events = eev;
        }
        if (c->timer) {
                bn_loop_timer_cancel(c->ep->loop, c->timer);
                c->timer = NULL;
        }
        if (tmo >= 0)
                bn_loop_timer_add(c->ep->loop, (uint64_t)tmo, 0, corm_timer, c, &c->timer);
}

void vbd_corm_rearm(struct vbd_corm *c)
{
        corm_rearm(c);
}

/* Poll the disk's completions before the loop sleeps (bn_loop_poller). */
static bool corm_poll(void *arg)
{
        struct vbd_corm *c = arg;

        if (!c->disk || !bn_blk_corm_ready(c->disk))
                return false;
        bn_blk_corm_process(c->disk, POLLIN);
        corm_rearm(c);
        return true;
}

/* What port_rx submitted in this loop iteration goes to the disk at once. */
static void rearm_work(void *arg)
{
        corm_rearm(arg);
}

static void size_check(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct vbd_corm *c = arg;
        uint64_t sz;
        (void)loop;
        (void)t;
        if (bn_blk_corm_size(c->disk, &sz) < 0 || sz == c->size)
                return;
        bn_info(c->ep->name, "disk size changed from %" PRIu64 " to %" PRIu64 " bytes", c->size,
                sz);
        c->size = sz;
        for (struct cport *p = c->ports; p; p = p->next)
                send_info(c, p->port);
}

/* The Corm's params: exactly one of path and uri, direct, readonly. */
static int corm_params(const struct bn_params *params, const char **path, const char **uri,
                       bool *direct, bool *ro, char *err, size_t errlen)
{
        static const char *const known[] = {"path", "direct", "readonly", "uri", NULL};
        int rc = bn_params_check_known(params, known, err, errlen);

        if (!rc)
                rc = bn_params_get_str(params, "path", false, NULL, path, err, errlen);
        if (!rc)
                rc = bn_params_get_str(params, "uri", false, NULL, uri, err, errlen);
        if (!rc)
                rc = bn_params_get_bool(params, "direct", false, false, direct, err, errlen);
        if (!rc)
                rc = bn_params_get_bool(params, "readonly", false, false, ro, err, errlen);
        if (rc)
                return rc;
        if (!*path == !*uri) {
                snprintf(err, errlen, "give exactly one of 'path' (a file) or 'uri' (NBD)");
                return -EINVAL;
        }
        return 0;
}

int vbd_corm_check(const struct bn_params *params, char *err, size_t errlen)
{
        const char *path = NULL, *uri = NULL;
        bool direct, ro;

        return corm_params(params, &path, &uri, &direct, &ro, err, errlen);
}

int vbd_corm_open(struct bn_endpoint *ep, const struct bn_params *params, char *err, size_t errlen)
{
        struct vbd_corm *c = ep->priv;
        const char *path = NULL, *uri = NULL;
        bool direct = false, ro = false;
        int rc;

        c->ep = ep;
        c->fd = -1;
        rc = corm_params(params, &path, &uri, &direct, &ro, err, errlen);
        if (rc)
                return rc;
        c->readonly = ro;
        if (path) {
                struct bn_blk_uring_opts o = {
                    .readonly = ro, .direct = direct ? 1 : -1, .depth = 256};
                rc = bn_blk_uring_open(&c->disk, path, &o);
                if (rc) {
                        snprintf(err, errlen, "cannot open '%s' with io_uring: %s", path,
                                 strerror(-rc));
                        return rc;
                }
        } else {
                if (ro) {
                        snprintf(err, errlen, "readonly is not supported with 'uri'");
                        return -EINVAL;
                }
                c->nbd = true;
                rc = bn_blk_nbd_open(&c->disk, uri, NULL);
                if (rc) {
                        snprintf(err, errlen, "cannot open NBD '%s': %s", uri, strerror(-rc));
                        return rc;
                }
        }
        bn_blk_corm_size(c->disk, &c->size);
        rc = bn_loop_timer_add(ep->loop, CORM_SIZE_CHECK_MS, CORM_SIZE_CHECK_MS, size_check, c,
                               &c->size_timer);
        if (rc) {
                snprintf(err, errlen, "cannot add a timer");
                bn_blk_corm_destroy(c->disk);
                c->disk = NULL;
                return rc;
        }
        bn_loop_work_init(&c->rearm_work, rearm_work, c);
        c->poller = (struct bn_loop_poller){.poll = corm_poll, .arg = c};
        bn_loop_poller_add(ep->loop, &c->poller);
        corm_rearm(c);
        bn_info(ep->name, "disk %s (%s) of %" PRIu64 " bytes%s", path ? path : uri,
                path ? "io_uring" : "nbd", c->size, ro ? ", read-only" : "");
        return 0;
}

void vbd_corm_close(struct bn_endpoint *ep)
{
        struct vbd_corm *c = ep->priv;

        if (!c->disk)
                return;
        bn_loop_poller_del(ep->loop, &c->poller);
        bn_loop_defer_cancel(ep->loop, &c->rearm_work);
        if (c->size_timer)
                bn_loop_timer_cancel(ep->loop, c->size_timer);
        c->size_timer = NULL;
        if (c->timer)
                bn_loop_timer_cancel(ep->loop, c->timer);
        c->timer = NULL;
        if (c->fd >= 0)
                bn_loop_del_fd(ep->loop, c->fd);
        c->fd = -1;
        while (c->held_head) {
                struct cio *x = c->held_head;
                c->held_head = x->next;
                cio_free(x);
        }
        c->held_tail = NULL;
        /* Completes (done callbacks) every outstanding io; ports are gone. */
        for (struct cio *x = c->ios; x; x = x->next)
                x->port = NULL;
        bn_blk_corm_destroy(c->disk);
        c->disk = NULL;
        cio_spares_free(c);
        bn_info(ep->name, "disk corm closed after %" PRIu64 " request(s)", c->completed);
}

int vbd_corm_port_attach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct vbd_corm *c = ep->priv;
        struct cport *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->port = port;
        bn_txq_init(&p->txq, rsp_done, NULL);
        p->next = c->ports;
        c->ports = p;
        send_info(c, port);
        return 0;
}

void vbd_corm_port_detach(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct vbd_corm *c = ep->priv;
        struct cport **pp, *p = NULL;

        for (pp = &c->ports; *pp; pp = &(*pp)->next)
                if ((*pp)->port == port) {
                        p = *pp;
                        *pp = p->next;
                        break;
                }
        if (!p)
                return;
        for (struct cio *x = c->ios; x; x = x->next)
                if (x->port == p) {
                        x->port = NULL;
                        x->orphan = true;
                        c->orphans++;
                }
        for (struct cio **xp = &c->held_head; *xp;) {
                struct cio *x = *xp;
                if (x->port == p) {
                        *xp = x->next;
                        cio_free(x);
                } else {
                        c->held_tail = x;
                        xp = &x->next;
                }
        }
        if (!c->held_head)
                c->held_tail = NULL;
        bn_debug(ep->name, "detach: disk inflight %u, fd %d events %#x, timer %p",
                 bn_blk_corm_inflight(c->disk), c->fd, c->fd_events, (void *)c->timer);
        if (c->orphans)
                bn_info(ep->name,
                        "wire %s left with %u request(s) on the disk: holding new ones "
                        "until they are done",
                        port->wire, c->orphans);
        bn_txq_fini(&p->txq);
        free(p);
}

void vbd_corm_port_writable(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        struct vbd_corm *c = ep->priv;
        struct cport *p = find_port(c, port);

        if (!p)
                return;
        if (c->info_owed) {
                c->info_owed = false;
                send_info(c, port);
        }
        bn_txq_flush(&p->txq, port); /* what is still refused waits for the next call */
        drain_check(c, p);
}

void vbd_corm_port_ctl(struct bn_endpoint *ep, struct bn_wire_port *port, uint16_t type)
{
        struct vbd_corm *c = ep->priv;
        struct cport *p = find_port(c, port);

        if (!p || type != BN_MSG_CTL_DRAIN)
                return;
        p->drain_owed = true;
        drain_check(c, p);
}

static void answer_now(struct vbd_corm *c, struct cport *p, uint64_t tag, int status)
{
        struct cio *x = cio_get(c, 0);

        if (!x)
                return;
        x->port = p;
        x->tag = tag;
        x->io.op = BN_BLK_IO_FLUSH;
        x->io.result = status;
        list_add(&c->ios, x);
        io_done(&x->io);
}

void vbd_corm_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port, struct bn_wire_msg *msgs,
                      unsigned n)
{
        struct vbd_corm *c = ep->priv;
        struct cport *p = find_port(c, port);
        bool submitted = false;

        if (!p || !c->disk)
                return;
        for (unsigned i = 0; i < n; i++) {
                struct bn_wire_msg *m = &msgs[i];
                struct bn_blk_msg_req r;
                const char *why = NULL;
                struct cio *x;
                size_t dlen;
                int rc;

                if (m->type == BN_MSG_BLK_HELLO) {
                        send_info(c, port);
                        continue;
                }
                if (bn_blk_msg_req_decode(m, &r, &why) < 0) {
                        atomic_fetch_add(&ep->counters.drops, 1);
                        bn_warn(ep->name, "bad block message on wire %s: %s", port->wire,
                                why ? why : "?");
                        continue;
                }
                if (r.op != BN_BLK_IO_FLUSH && (r.offset > c->size || r.len > c->size - r.offset)) {
                        answer_now(c, p, r.tag, -ENOSPC);
                        continue;
                }
                dlen = (r.op == BN_BLK_IO_READ || r.op == BN_BLK_IO_WRITE) ? r.len : 0;
                x = cio_get(c, dlen);
                if (!x) {
                        answer_now(c, p, r.tag, -ENOMEM);
                        continue;
                }
                x->port = p;
                x->tag = r.tag;
                x->io.op = (enum bn_blk_io_op)r.op;
                x->io.offset = r.offset;
                x->io.len = r.len;
                x->io.done = io_done;
                if (dlen) {
                        if (r.op == BN_BLK_IO_WRITE)
                                memcpy(x->data, m->data, dlen);
                        x->iov.iov_base = x->data;
                        x->iov.iov_len = dlen;
                        x->io.iov = &x->iov;
                        x->io.niov = 1;
                }
                if (c->orphans || c->held_head) {
                        x->next = NULL;
                        if (c->held_tail)
                                c->held_tail->next = x;
                        else
                                c->held_head = x;
                        c->held_tail = x;
                        submitted = true;
                        continue;
                }
                list_add(&c->ios, x);
                rc = bn_blk_corm_submit(c->disk, &x->io);
                if (rc < 0) {
                        x->io.result = rc;
                        x->io.niov = 0;
                        io_done(&x->io);
                        continue;
                }
                submitted = true;
        }
        if (submitted) /* once for every batch of this loop iteration */
                bn_loop_defer(ep->loop, &c->rearm_work);
}
