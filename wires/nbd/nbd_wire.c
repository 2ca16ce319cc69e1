/* nbd_wire.c: the "nbd" wire type, carrying the disk class's messages
 * (bn_blk_msg.h) between hosts as the NBD protocol, so that each end also
 * talks to tools nobody here wrote (nbdinfo, qemu-img, fio, qemu-nbd).
 *
 * Parameters (per end: end0.K / end1.K in the topology, see bn_wire.h):
 *   listen=ADDR   this end serves: an NBD server listening on ADDR
 *                 ("tcp:HOST:PORT" or "unix:PATH") in front of this end's
 *                 disk Corm. The Corm's end.
 *   peer.listen   (the other end's listen) this end is a client dialing it:
 *                 the vbd Spike's end.
 *   export=NAME   the export's name (default "").
 *   tls-cert=PEM, tls-key=PEM  this end's certificate and key: on the
 *                 server's end TLS is then required of every client
 *                 (STARTTLS); on the client's, presented to the server.
 *   tls-ca=PEM    the CA the peer's certificate must chain to: on the
 *                 client's end it turns TLS on (the server's certificate
 *                 must also name tls-peer, default the host of peer.listen);
 *                 on the server's, clients must present a certificate.
 * Exactly one of listen / peer.listen is given to each end.
 *
 * The Corm's end (server): each NBD request becomes BN_MSG_BLK_REQ messages
 * handed to the Corm (recv): a READ or WRITE longer than BN_WIRE_DATA_MAX
 * is split in pieces, a FUA write is followed by a FLUSH message (answered
 * once everything before it is stable), TRIM is DISCARD; WRITE_ZEROES is
 * not offered. The Corm's BN_MSG_BLK_RSP (send) completes the piece with
 * its tag; the request is answered once all its pieces are. The export's
 * size and read-only flag are the Corm's INFO (sent when its port is
 * attached); a client arriving before it is refused and retries. A
 * connection is also refused while requests of earlier ones are still with
 * the Corm (the fence: a replayed or newer write never races an old copy of
 * a write whose connection died); a second client arriving while the
 * first has requests in flight is refused the same way, and retries.
 *
 * The Spike's end (client, nbd_client.c): each BN_MSG_BLK_REQ becomes one
 * NBD request; its completion becomes a BN_MSG_BLK_RSP; the Spike's
 * BN_MSG_BLK_HELLO is answered here with an INFO made of what the server
 * said of its export. The client reconnects with backoff and replays every
 * unanswered request in its original order, each answered exactly once:
 * while it is disconnected the link is down with the reason, and requests
 * are still accepted (queued for the next connection).
 *
 * Capabilities: ordered and reliable (TCP, with replay), no GSO, no control
 * messages (the peer may be any NBD server or client: no HELLO). A swap's
 * quiesce of the Spike's end (the class's drain) is NBD's own goodbye: the
 * client sends NBD_CMD_DISC once every request is answered and does not
 * reconnect; the server's end, once every client said DISC and nothing is
 * with the Corm, calls bn_wire_port_peer_drained, so that the Corm reads
 * the wire's new port at once (not when the controller closes this one);
 * the drained port then refuses new connections. Everything runs on the port's loop: the server
 * and the client are made there, and received messages wait in a queue
 * signalled by an eventfd (the fd the framework polls).
 */
#include "bn_blk_corm.h"
#include "bn_blk_msg.h"
#include "bn_log.h"
#include "bn_wire.h"
#include "nbd_client.h"
#include "nbd_server.h"
#include "nbd_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NW_SECTOR 512u

/* A received message waiting for recv, and after it for release. */
struct nw_rx {
        struct nw_rx *next;
        struct bn_wire_msg m;
        uint8_t *data; /* owned */
};

/* Server side: one NBD request and its pieces (BN_MSG_BLK_REQ messages). */
struct nw_req {
        struct bn_nbd_io *io;
        unsigned pending; /* pieces not answered */
        int err;
};

struct nw_piece {
        struct nw_piece *next, *prev;
        struct nw_req *req;
        uint64_t tag;
        uint32_t off, len; /* within io->buf (READ) */
        bool read;
};

/* Client side: one BN_MSG_BLK_REQ in the client's queue. */
struct nw_creq {
        struct bn_wire_port *port;
        uint64_t tag;
        uint32_t len;
        uint8_t *buf; /* READ's */
        bool read;
};

struct nw_port {
        int efd;
        bool signalled;
        struct nw_rx *head, **tail; /* waiting for recv */
        /* server */
        struct bn_nbd_server *srv;
        struct nw_piece *pieces; /* sent to the Corm, not answered */
        uint64_t next_tag;
        bool have_info;
        bool disc_seen; /* every client said DISC: the port drains once pieces is empty */
        struct bn_wire_port *port;
        struct bn_blk_msg_info info;
        /* client */
        struct bn_nbd_client *cl;
        bool connected, hello_owed;
        struct bn_nbd_export exp;
        char addr[256];
        struct bn_wire_stats st;
};

/* The parameters of one end; the strings point into the params parsed. */
struct nw_params {
        const char *listen, *dial, *exp, *peer;
        struct bn_nbd_tls_cfg tls;
        bool use_tls;
};

static const char *const nw_known[] = {
    "listen",      "peer.listen",   "export",   "peer.export",   "tls-cert",
    "tls-key",     "tls-ca",        "tls-peer", "peer.tls-cert", "peer.tls-key",
    "peer.tls-ca", "peer.tls-peer", NULL};

static int nw_parse(const struct bn_params *params, struct nw_params *v, char *err, size_t errlen)
{
        int rc;

        memset(v, 0, sizeof(*v));
        if ((rc = bn_params_check_known(params, nw_known, err, errlen)) < 0 ||
            (rc = bn_params_get_str(params, "listen", false, "", &v->listen, err, errlen)) < 0 ||
            (rc = bn_params_get_str(params, "peer.listen", false, "", &v->dial, err, errlen)) < 0 ||
            (rc = bn_params_get_str(params, "export", false, "", &v->exp, err, errlen)) < 0 ||
            (rc = bn_params_get_str(params, "tls-cert", false, NULL, &v->tls.cert, err, errlen)) <
                0 ||
            (rc = bn_params_get_str(params, "tls-key", false, NULL, &v->tls.key, err, errlen)) <
                0 ||
            (rc = bn_params_get_str(params, "tls-ca", false, NULL, &v->tls.ca, err, errlen)) < 0 ||
            (rc = bn_params_get_str(params, "tls-peer", false, NULL, &v->peer, err, errlen)) < 0)
                return rc;
        if (!*v->listen == !*v->dial) {
                snprintf(err, errlen,
                         "nbd: give exactly one end 'listen=tcp:HOST:PORT' (the Corm's end, the "
                         "server); the other dials it");
                return -EINVAL;
        }
        if (!v->tls.cert != !v->tls.key) {
                snprintf(err, errlen, "nbd: 'tls-cert' and 'tls-key' go together");
                return -EINVAL;
        }
        if (*v->listen && v->tls.ca && !v->tls.cert) {
                snprintf(err, errlen,
                         "nbd: the server's end needs 'tls-cert' and 'tls-key' for "
                         "'tls-ca'");
                return -EINVAL;
        }
        if (*v->dial && v->tls.cert && !v->tls.ca) {
                snprintf(err, errlen, "nbd: the client's end needs 'tls-ca' to check the server");
                return -EINVAL;
        }
        v->use_tls = *v->listen ? v->tls.cert != NULL : v->tls.ca != NULL;
        v->tls.require = v->use_tls;
        return 0;
}

static int nw_check(const struct bn_params *params, char *err, size_t errlen)
{
        struct nw_params v;

        return nw_parse(params, &v, err, errlen);
}

/* ---- the receive queue -------------------------------------------------- */

static int queue_rx(struct nw_port *p, const struct bn_wire_msg *m, uint8_t *data)
{
        struct nw_rx *r = calloc(1, sizeof(*r));
        uint64_t one = 1;

        if (!r) {
                free(data);
                p->st.drop_other++;
                return -ENOMEM;
        }
        r->m = *m;
        r->data = data;
        r->m.data = data;
        r->m.wire_priv = (uintptr_t)r;
        *p->tail = r;
        p->tail = &r->next;
        if (!p->signalled && write(p->efd, &one, sizeof(one)) == sizeof(one))
                p->signalled = true;
        return 0;
}

static int nw_recv(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned max)
{
        struct nw_port *p = port->priv;
        unsigned n = 0;
        uint64_t v;

        while (n < max && p->head) {
                struct nw_rx *r = p->head;

                p->head = r->next;
                if (!p->head)
                        p->tail = &p->head;
                msgs[n++] = r->m;
                p->st.msgs_in++;
                p->st.bytes_in += r->m.len;
        }
        if (!p->head && p->signalled) {
                if (read(p->efd, &v, sizeof(v)) < 0)
                        v = 0;
                p->signalled = false;
        }
        return (int)n;
}

static void nw_release(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned n)
{
        (void)port;
        for (unsigned i = 0; i < n; i++) {
                struct nw_rx *r = (struct nw_rx *)msgs[i].wire_priv;

                free(r->data);
                free(r);
        }
}

/* ---- the Corm's end: an NBD server whose back-end is the Corm ------------ */

static int nw_get_size(void *be, uint64_t *size, bool *read_only)
{
        struct nw_port *p = be;

        if (!p->have_info)
                return -EAGAIN; /* the Corm's INFO is not here yet: the client retries */
        /* The fence: a new connection (a client replaying after a lost one)
         * starts only once every request of the earlier ones is complete at
         * the Corm, so that an old write never lands after a newer one. */
        if (p->pieces)
                return -EBUSY;
        /* drained for a swap (the Corm reads the wire's new port): a
         * request on this one could overtake the new port's; once that
         * one is gone (the swap given up) this one serves again */
        if (!bn_wire_port_peer_back(p->port))
                return -ESHUTDOWN;
        p->disc_seen = false;
        *size = p->info.size;
        *read_only = p->info.flags & BN_BLK_INFO_F_READONLY;
        return 0;
}

static int piece(struct nw_port *p, struct nw_req *q, enum bn_blk_io_op op, uint64_t off,
                 uint32_t at, uint64_t len)
{
        struct nw_piece *pc = calloc(1, sizeof(*pc));
        struct bn_blk_msg_req r = {.offset = off, .len = len, .op = (uint8_t)op};
        struct bn_wire_msg m;
        uint8_t *data = NULL;
        int rc;

        if (!pc)
                return -ENOMEM;
        r.tag = pc->tag = ++p->next_tag;
        pc->req = q;
        pc->off = at;
        pc->len = (uint32_t)len;
        pc->read = op == BN_BLK_IO_READ;
        if (op == BN_BLK_IO_WRITE) {
                if (!(data = malloc(len))) {
                        free(pc);
                        return -ENOMEM;
                }
                memcpy(data, q->io->buf + at, len);
        }
        if ((rc = bn_blk_msg_req_encode(&m, &r, data)) < 0 || (rc = queue_rx(p, &m, data)) < 0) {
                if (rc != -ENOMEM)
                        free(data);
                free(pc);
                return rc;
        }
        pc->next = p->pieces;
        if (p->pieces)
                p->pieces->prev = pc;
        p->pieces = pc;
        q->pending++;
        return 0;
}

/* Split io into pieces (READ/WRITE of at most BN_WIRE_DATA_MAX each), a
 * FLUSH after a FUA one. Returns 0 (started) or -errno (nothing started). */
static int start(struct nw_port *p, struct bn_nbd_io *io, enum bn_blk_io_op op)
{
        struct nw_req *q;
        uint64_t done = 0;
        int rc = 0;

        if ((io->offset | io->length) % NW_SECTOR)
                return -EINVAL; /* the disk class speaks sectors */
        if (!(q = calloc(1, sizeof(*q))))
                return -ENOMEM;
        q->io = io;
        q->pending = 1; /* held while starting */
        if (op == BN_BLK_IO_FLUSH || op == BN_BLK_IO_DISCARD)
                rc = piece(p, q, op, io->offset, 0, op == BN_BLK_IO_FLUSH ? 0 : io->length);
        for (; !rc && op != BN_BLK_IO_FLUSH && op != BN_BLK_IO_DISCARD && done < io->length;) {
                uint64_t n = io->length - done;

                if (n > BN_WIRE_DATA_MAX)
                        n = BN_WIRE_DATA_MAX;
                rc = piece(p, q, op, io->offset + done, (uint32_t)done, n);
                done += n;
        }
        if (!rc && (io->flags & BN_NBD_CMD_FLAG_FUA) && op != BN_BLK_IO_FLUSH)
                rc = piece(p, q, BN_BLK_IO_FLUSH, 0, 0, 0);
        if (rc)
                q->err = rc;
        if (--q->pending == 0) { /* nothing was queued */
                free(q);
                return rc ? rc : -EIO;
        }
        return 0; /* a partly queued request completes with q->err */
}

static int nw_be_read(void *be, struct bn_nbd_io *io)
{
        return start(be, io, BN_BLK_IO_READ);
}
static int nw_be_write(void *be, struct bn_nbd_io *io)
{
        return start(be, io, BN_BLK_IO_WRITE);
}
static int nw_be_flush(void *be, struct bn_nbd_io *io)
{
        return start(be, io, BN_BLK_IO_FLUSH);
}
static int nw_be_trim(void *be, struct bn_nbd_io *io)
{
        return start(be, io, BN_BLK_IO_DISCARD);
}

/* Every client said DISC and nothing is with the Corm: the Corm may read
 * the wire's new port (a swap), bn_wire_port_peer_drained. */
static void drain_check(struct nw_port *p)
{
        if (p->disc_seen && !p->pieces && bn_wire_port_peer_drained(p->port))
                bn_info(p->port->wire,
                        "nbd: the client said DISC, every request answered: drained");
}

static void nw_be_disc(void *be, unsigned others)
{
        struct nw_port *p = be;

        if (others)
                return;
        p->disc_seen = true;
        drain_check(p);
}

static const struct bn_nbd_backend_ops nw_be_ops = {
    .name = "nbd wire",
    .get_size = nw_get_size,
    .read = nw_be_read,
    .write = nw_be_write,
    .flush = nw_be_flush,
    .trim = nw_be_trim,
    .disc = nw_be_disc,
};

static void piece_done(struct nw_port *p, struct nw_piece *pc, int err)
{
        struct nw_req *q = pc->req;

        if (pc->prev)
                pc->prev->next = pc->next;
        else
                p->pieces = pc->next;
        if (pc->next)
                pc->next->prev = pc->prev;
        if (err && !q->err)
                q->err = err;
        free(pc);
        if (--q->pending == 0) {
                bn_nbd_io_done(q->io, q->err);
                free(q);
        }
        drain_check(p);
}

/* The Corm's messages: INFO (the export), RSP (a piece's answer). */
static void serve_msg(struct bn_wire_port *port, struct nw_port *p, const struct bn_wire_msg *m)
{
        struct bn_blk_msg_rsp rsp;
        struct bn_blk_msg_info info;
        struct nw_piece *pc;
        const char *why = "";

        if (m->type == BN_MSG_BLK_INFO) {
                if (bn_blk_msg_info_decode(m, &info, &why) < 0)
                        goto bad;
                p->info = info;
                p->have_info = true;
                return;
        }
        if (m->type != BN_MSG_BLK_RSP || bn_blk_msg_rsp_decode(m, &rsp, &why) < 0)
                goto bad;
        for (pc = p->pieces; pc && pc->tag != rsp.tag; pc = pc->next)
                ;
        if (!pc) {
                why = "an answer to no request";
                goto bad;
        }
        if (pc->read && rsp.status == 0) {
                if (rsp.len != pc->len) {
                        why = "a read answer of another length";
                        piece_done(p, pc, -EIO);
                        goto bad;
                }
                memcpy(pc->req->io->buf + pc->off, m->data, pc->len);
        }
        piece_done(p, pc, rsp.status);
        return;
bad:
        p->st.drop_malformed++;
        bn_warn(port->wire, "nbd: the Corm's message 0x%x dropped: %s", m->type, why);
}

/* ---- the Spike's end: an NBD client ------------------------------------- */

static void queue_info(struct nw_port *p)
{
        struct bn_blk_msg_info i = {.size = p->exp.size & ~(uint64_t)(NW_SECTOR - 1),
                                    .sector_size = NW_SECTOR};
        struct bn_wire_msg m;

        if (p->exp.tflags & BN_NBD_FLAG_READ_ONLY)
                i.flags |= BN_BLK_INFO_F_READONLY;
        if (p->exp.tflags & BN_NBD_FLAG_SEND_TRIM)
                i.flags |= BN_BLK_INFO_F_DISCARD;
        if (p->exp.tflags & BN_NBD_FLAG_SEND_FLUSH)
                i.flags |= BN_BLK_INFO_F_FLUSH;
        bn_blk_msg_info_encode(&m, &i);
        queue_rx(p, &m, NULL);
        p->hello_owed = false;
}

static void cl_state(void *arg, const struct bn_nbd_export *exp)
{
        struct bn_wire_port *port = arg;
        struct nw_port *p = port->priv;

        p->connected = exp != NULL;
        if (exp) {
                bool grew = p->exp.size && exp->size != p->exp.size;
                struct bn_nbd_client_stats cs;

                bn_nbd_client_get_stats(p->cl, &cs);
                if (cs.connects > 1)
                        bn_info(port->wire,
                                "nbd: connected to %s again (connection %llu): replaying %u "
                                "unanswered requests in their order",
                                p->addr, (unsigned long long)cs.connects, cs.queued);

                p->exp = *exp;
                if (p->hello_owed || grew)
                        queue_info(p);
        }
        bn_wire_port_link_update(port);
}

static void cl_done(void *arg, void *tag, int err)
{
        struct nw_creq *c = tag;
        struct nw_port *p = c->port->priv;
        struct bn_blk_msg_rsp r = {.tag = c->tag, .status = err};
        struct bn_wire_msg m;
        uint8_t *data = NULL;

        (void)arg;
        if (c->read && err == 0) {
                r.len = c->len;
                data = c->buf;
                c->buf = NULL;
        }
        free(c->buf);
        if (err != -ECANCELED && bn_blk_msg_rsp_encode(&m, &r, data) == 0)
                queue_rx(p, &m, data);
        else
                free(data);
        free(c);
}

static const struct bn_nbd_client_ops nw_cl_ops = {.state = cl_state, .done = cl_done};

static int dial_msg(struct bn_wire_port *port, struct nw_port *p, const struct bn_wire_msg *m)
{
        static const uint16_t cmd[] = {[BN_BLK_IO_READ] = BN_NBD_CMD_READ,
                                       [BN_BLK_IO_WRITE] = BN_NBD_CMD_WRITE,
                                       [BN_BLK_IO_FLUSH] = BN_NBD_CMD_FLUSH,
                                       [BN_BLK_IO_DISCARD] = BN_NBD_CMD_TRIM};
        struct bn_blk_msg_req r;
        struct nw_creq *c;
        const char *why;
        int rc;

        if (m->type == BN_MSG_BLK_HELLO) {
                p->hello_owed = true;
                if (p->connected)
                        queue_info(p);
                return 0;
        }
        if (m->type != BN_MSG_BLK_REQ || bn_blk_msg_req_decode(m, &r, &why) < 0 ||
            r.op > BN_BLK_IO_DISCARD || r.len > UINT32_MAX) {
                p->st.drop_malformed++;
                bn_warn(port->wire, "nbd: the Spike's message 0x%x refused", m->type);
                return -EINVAL;
        }
        if (!(c = calloc(1, sizeof(*c))))
                return -ENOMEM;
        c->port = port;
        c->tag = r.tag;
        c->len = (uint32_t)r.len;
        c->read = r.op == BN_BLK_IO_READ;
        if (c->read && !(c->buf = malloc(r.len ? r.len : 1))) {
                free(c);
                return -ENOMEM;
        }
        rc = bn_nbd_client_submit(p->cl, cmd[r.op], 0, r.offset, (uint32_t)r.len,
                                  c->read ? c->buf : m->data, c);
        if (rc < 0) {
                /* refused (a range beyond the export): answered with the error */
                struct bn_blk_msg_rsp a = {.tag = r.tag, .status = rc};
                struct bn_wire_msg am;

                free(c->buf);
                free(c);
                if (bn_blk_msg_rsp_encode(&am, &a, NULL) == 0)
                        queue_rx(p, &am, NULL);
        }
        return 0;
}

/* ---- ports ------------------------------------------------------------------ */

static void nw_close(struct bn_wire_port *port);

_Static_assert(sizeof(struct nw_port) <= BN_WIRE_NBD_PRIV_SIZE, "BN_WIRE_NBD_PRIV_SIZE too small");

int bn_wire_nbd_open_via(struct bn_wire_port *port, const struct bn_params *params,
                         const struct bn_wire_nbd_via *via, char *err, size_t errlen)
{
        struct nw_port *p = port->priv;
        struct nw_params v;
        unsigned flags = 0;
        int rc;

        p->efd = -1;
        p->tail = &p->head;
        p->port = port;
        if ((rc = nw_parse(params, &v, err, errlen)) < 0)
                return rc;
        if (via) { /* another path to the same peer: the connection goes there */
                if (*v.listen)
                        v.listen = via->listen;
                else
                        v.dial = via->dial;
                if (!v.peer)
                        v.peer = via->tls_peer;
                flags = via->freebind ? BN_NBD_SERVER_FREEBIND : 0;
        }
        if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
                rc = -errno;
                snprintf(err, errlen, "nbd: eventfd: %s", strerror(-rc));
                goto out;
        }
        if (*v.listen) {
                snprintf(p->addr, sizeof(p->addr), "%s", v.listen);
                rc = bn_nbd_server_new(&p->srv, port->loop, v.listen, v.exp, &nw_be_ops, p, flags);
                if (rc < 0)
                        snprintf(err, errlen, "nbd: cannot listen on %s: %s", v.listen,
                                 strerror(-rc));
                else if (v.use_tls && (rc = bn_nbd_server_set_tls(p->srv, &v.tls)) < 0)
                        snprintf(err, errlen, "nbd: TLS: cannot use the certificate %s, key %s%s%s",
                                 v.tls.cert, v.tls.key, v.tls.ca ? " or CA " : "",
                                 v.tls.ca ? v.tls.ca : "");
        } else {
                struct bn_nbd_client_cfg cfg = {.addr = v.dial,
                                                .export_name = v.exp,
                                                .tls = v.use_tls ? &v.tls : NULL,
                                                .tls_peer = v.peer};

                snprintf(p->addr, sizeof(p->addr), "%s", v.dial);
                rc = bn_nbd_client_new(&p->cl, port->loop, &cfg, &nw_cl_ops, port);
                if (rc < 0)
                        snprintf(err, errlen, "nbd: cannot dial %s%s: %s", v.dial,
                                 v.use_tls ? " over TLS" : "", strerror(-rc));
        }
out:
        if (rc < 0)
                nw_close(port);
        return rc;
}

static int nw_open(struct bn_wire_port *port, const struct bn_params *params, char *err,
                   size_t errlen)
{
        return bn_wire_nbd_open_via(port, params, NULL, err, errlen);
}

static void nw_close(struct bn_wire_port *port)
{
        struct nw_port *p = port->priv;
        struct bn_wire_msg m;

        if (p->cl)
                bn_nbd_client_free(p->cl); /* cancels its requests: nothing queued */
        p->cl = NULL;
        while (p->pieces)
                piece_done(p, p->pieces, -EIO);
        if (p->srv)
                bn_nbd_server_free(p->srv);
        p->srv = NULL;
        while (nw_recv(port, &m, 1) == 1)
                nw_release(port, &m, 1);
        if (p->efd >= 0)
                close(p->efd);
        p->efd = -1;
}

static int nw_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n)
{
        struct nw_port *p = port->priv;
        int rc;

        for (unsigned i = 0; i < n; i++) {
                if (p->srv)
                        serve_msg(port, p, &msgs[i]);
                else if ((rc = dial_msg(port, p, &msgs[i])) == -ENOMEM)
                        return i ? (int)i : 0;
                p->st.msgs_out++;
                p->st.bytes_out += msgs[i].len;
        }
        return (int)n;
}

static void nw_drain(struct bn_wire_port *port)
{
        struct nw_port *p = port->priv;

        if (p->cl)
                bn_nbd_client_disconnect(p->cl);
}

static int nw_fd(struct bn_wire_port *port)
{
        return ((struct nw_port *)port->priv)->efd;
}

static bool nw_linked(struct bn_wire_port *port)
{
        struct nw_port *p = port->priv;

        return p->srv || p->connected;
}

static void nw_link_why(struct bn_wire_port *port, char *buf, size_t len)
{
        struct nw_port *p = port->priv;
        struct bn_nbd_client_stats cs = {0};

        if (p->cl)
                bn_nbd_client_get_stats(p->cl, &cs);
        snprintf(buf, len, "nbd: no connection to %s (%llu lost or refused, %u requests queued)",
                 p->addr, (unsigned long long)cs.failures, cs.queued);
}

static void nw_stats(struct bn_wire_port *port, struct bn_wire_stats *st)
{
        *st = ((struct nw_port *)port->priv)->st;
}

const struct bn_wire_class bn_wire_nbd_class = {
    .name = "nbd",
    .priv_size = sizeof(struct nw_port),
    .caps = {.ordered = true,
             .reliable = true,
             .gso = false,
             .control = false,
             .max_msg = BN_WIRE_DATA_MAX,
             .mtu = 0},
    .open = nw_open,
    .check = nw_check,
    .close = nw_close,
    .send = nw_send,
    .recv = nw_recv,
    .release = nw_release,
    .fd = nw_fd,
    .stats = nw_stats,
    .linked = nw_linked,
    .link_why = nw_link_why,
    .drain = nw_drain,
};
