/* nbd_server.c: the NBD server's connections on a bn_loop: one per client
 * (input buffer, parser, output queue, ios in flight with the back-end),
 * options and requests answered (nbd_server.h). The listening socket and
 * the server's life cycle: nbd_server_listen.c. */
#include "nbd_server.h"
#include "nbd_sock.h"
#include "nbd_tls.h"
#include "bn_log.h"
#include "bn_loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd_server_int.h"

static void conn_after(struct conn *c);
void nbd_srv_after_deferred(void *arg);

static void conn_free_if_idle(struct conn *c)
{
        struct outbuf *o;

        if (!c->dead || c->inflight)
                return;
        bn_loop_defer_cancel(c->loop, &c->after_work);
        while ((o = c->out_head)) {
                c->out_head = o->next;
                free(o);
        }
        free(c->in);
        free(c);
}

/* Close the socket, unlink from the server; freed when no io is left. */
void nbd_srv_conn_kill(struct conn *c, const char *why)
{
        struct bn_nbd_server *srv = c->srv;
        struct conn **pp;

        if (c->dead)
                return;
        if (why)
                bn_info(c->name, "connection closed: %s", why);
        if (srv) {
                if (c->hs_timer)
                        bn_loop_timer_cancel(srv->loop, c->hs_timer);
                c->hs_timer = NULL;
                srv->nconns--;
                bn_loop_del_fd(srv->loop, c->fd);
                for (pp = &srv->conns; *pp; pp = &(*pp)->next)
                        if (*pp == c) {
                                *pp = c->next;
                                break;
                        }
                c->srv = NULL;
        }
        bn_nbd_tls_free(c->ssl);
        c->ssl = NULL;
        close(c->fd);
        c->fd = -1;
        c->dead = true;
        conn_free_if_idle(c);
}

static void conn_update_events(struct conn *c)
{
        uint32_t ev = 0;

        if (c->dead || !c->srv)
                return;
        if (c->tls_hs)
                ev = EPOLLIN | c->tls_want;
        else if (!c->closing && c->inflight < CONN_MAX_INFLIGHT && c->out_bytes < CONN_MAX_OUT)
                ev |= EPOLLIN;
        if (c->out_head || (c->tls_want & EPOLLOUT))
                ev |= EPOLLOUT;
        if (ev != c->events) {
                c->events = ev;
                bn_loop_mod_fd(c->srv->loop, c->fd, ev);
        }
}

/* Plaintext: up to FLUSH_IOV queued buffers in one sendmsg, those written
 * freed; 0, -EAGAIN (the socket is full) or -errno. */
#define FLUSH_IOV 64
static int conn_flush_plain(struct conn *c)
{
        struct iovec iov[FLUSH_IOV];
        struct msghdr mh = {.msg_iov = iov};
        struct outbuf *o;
        ssize_t n;

        for (o = c->out_head; o && mh.msg_iovlen < FLUSH_IOV; o = o->next) {
                iov[mh.msg_iovlen].iov_base = o->data + o->off;
                iov[mh.msg_iovlen++].iov_len = o->len - o->off;
        }
        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
        c->out_bytes -= (size_t)n;
        while ((o = c->out_head) && (size_t)n >= o->len - o->off) {
                n -= (ssize_t)(o->len - o->off);
                c->out_head = o->next;
                free(o);
        }
        if (!c->out_head)
                c->out_tail = NULL;
        else
                c->out_head->off += (size_t)n;
        return 0;
}

/* Write what is queued; 0, or -errno when the peer is gone. */
static int conn_flush(struct conn *c)
{
        struct outbuf *o;
        ssize_t n;
        int r;

        c->tls_want = 0;
        while (!c->ssl && c->out_head && !c->tls_hs)
                if ((r = conn_flush_plain(c)) < 0)
                        return r == -EAGAIN ? 0 : r;
        while ((o = c->out_head) && !c->tls_hs) {
                if (c->ssl) {
                        n = bn_nbd_tls_write(c->ssl, o->data + o->off, o->len - o->off,
                                             &c->tls_want);
                        if (n == -EAGAIN)
                                return 0;
                        if (n < 0)
                                return (int)n;
                } else {
                        n = send(c->fd, o->data + o->off, o->len - o->off, MSG_NOSIGNAL);
                }
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        return -errno;
                }
                o->off += (size_t)n;
                c->out_bytes -= (size_t)n;
                if (o->off < o->len)
                        return 0;
                c->out_head = o->next;
                if (!c->out_head)
                        c->out_tail = NULL;
                free(o);
        }
        return 0;
}

static struct outbuf *outbuf_new(size_t len)
{
        struct outbuf *o = malloc(sizeof(*o) + len);

        if (o) {
                o->next = NULL;
                o->len = len;
                o->off = 0;
        }
        return o;
}

static void conn_queue(struct conn *c, struct outbuf *o)
{
        if (c->out_tail)
                c->out_tail->next = o;
        else
                c->out_head = o;
        c->out_tail = o;
        c->out_bytes += o->len - o->off;
}

/* Queue a copy of len bytes; -ENOMEM. */
int nbd_srv_conn_send(struct conn *c, const void *p, size_t len)
{
        struct outbuf *o = outbuf_new(len);

        if (!o)
                return -ENOMEM;
        memcpy(o->data, p, len);
        conn_queue(c, o);
        return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

/* An option reply with an optional message. */
static int opt_reply(struct conn *c, uint32_t opt, uint32_t type, const char *msg)
{
        uint8_t hdr[BN_NBD_OPTREP_LEN + 128];
        size_t ml = msg ? strlen(msg) : 0;

        if (ml > 128)
                ml = 128;
        bn_nbd_put_optrep(hdr, opt, type, (uint32_t)ml);
        if (ml)
                memcpy(hdr + BN_NBD_OPTREP_LEN, msg, ml);
        return nbd_srv_conn_send(c, hdr, BN_NBD_OPTREP_LEN + ml);
}

/* The export's facts from the back-end: size and what it can do. */
static int conn_export(struct conn *c, struct bn_nbd_export *e)
{
        const struct bn_nbd_backend_ops *ops = c->srv->ops;
        bool ro = false;
        int r;

        memset(e, 0, sizeof(*e));
        r = ops->get_size(c->srv->be, &e->size, &ro);
        if (r < 0)
                return r;
        e->tflags = BN_NBD_FLAG_HAS_FLAGS;
        if (ro || !ops->write)
                e->tflags |= BN_NBD_FLAG_READ_ONLY;
        if (ops->flush)
                e->tflags |= BN_NBD_FLAG_SEND_FLUSH | BN_NBD_FLAG_SEND_FUA;
        if (ops->trim && !(e->tflags & BN_NBD_FLAG_READ_ONLY))
                e->tflags |= BN_NBD_FLAG_SEND_TRIM;
        if (ops->zero && !(e->tflags & BN_NBD_FLAG_READ_ONLY))
                e->tflags |= BN_NBD_FLAG_SEND_WRITE_ZEROES;
        e->min_block = 1;
        e->pref_block = 4096;
        e->max_block = BN_NBD_MAX_PAYLOAD;
        return 0;
}

static bool name_ok(const struct conn *c, const char *name)
{
        return name[0] == 0 || strcmp(name, c->srv->export_name) == 0;
}

/* The handshake is over: requests are served from now on. */
static void conn_transmit(struct conn *c, const struct bn_nbd_export *e)
{
        c->st.exp = *e;
        c->st.phase = BN_NBD_SRV_TRANSMIT;
        if (c->hs_timer)
                bn_loop_timer_cancel(c->srv->loop, c->hs_timer);
        c->hs_timer = NULL;
}

/* Answer one option. -errno disconnects. */
static int conn_option(struct conn *c, const struct bn_nbd_srv_ev *ev)
{
        struct bn_nbd_name name;
        struct bn_nbd_export e;
        uint8_t buf[134];
        size_t n;
        uint32_t nl;
        int r;

        if (c->srv->tls_require && !c->ssl && ev->opt != BN_NBD_OPT_STARTTLS &&
            ev->opt != BN_NBD_OPT_ABORT) {
                if (ev->opt == BN_NBD_OPT_EXPORT_NAME)
                        return -EACCES; /* no error reply exists: close */
                return opt_reply(c, ev->opt, BN_NBD_REP_ERR_TLS_REQD, "TLS is required");
        }
        switch (ev->opt) {
        case BN_NBD_OPT_EXPORT_NAME:
                /* No error reply exists for EXPORT_NAME: a bad one closes. */
                if (bn_nbd_opt_parse_name(ev, &name, NULL, 0, NULL) < 0 || !name_ok(c, name.s))
                        return -ENOENT;
                r = conn_export(c, &e);
                if (r < 0)
                        return r;
                conn_transmit(c, &e);
                n = bn_nbd_put_export_name_reply(buf, &e,
                                                 c->st.client_flags & BN_NBD_FLAG_C_NO_ZEROES);
                return nbd_srv_conn_send(c, buf, n);
        case BN_NBD_OPT_INFO:
        case BN_NBD_OPT_GO:
                if (bn_nbd_opt_parse_name(ev, &name, NULL, 0, NULL) < 0)
                        return opt_reply(c, ev->opt, BN_NBD_REP_ERR_INVALID,
                                         "malformed INFO/GO request");
                if (!name_ok(c, name.s))
                        return opt_reply(c, ev->opt, BN_NBD_REP_ERR_UNKNOWN, "no such export");
                r = conn_export(c, &e);
                if (r < 0)
                        return opt_reply(c, ev->opt, BN_NBD_REP_ERR_UNKNOWN, "export unavailable");
                n = bn_nbd_put_info_export(buf, ev->opt, &e);
                r = nbd_srv_conn_send(c, buf, n);
                if (r == 0) {
                        n = bn_nbd_put_info_block(buf, ev->opt, &e);
                        r = nbd_srv_conn_send(c, buf, n);
                }
                if (r == 0)
                        r = opt_reply(c, ev->opt, BN_NBD_REP_ACK, NULL);
                if (r == 0 && ev->opt == BN_NBD_OPT_GO)
                        conn_transmit(c, &e);
                return r;
        case BN_NBD_OPT_LIST:
                if (ev->opt_len)
                        return opt_reply(c, ev->opt, BN_NBD_REP_ERR_INVALID, "LIST takes no data");
                nl = (uint32_t)strlen(c->srv->export_name);
                bn_nbd_put_optrep(buf, ev->opt, BN_NBD_REP_SERVER, 4 + nl);
                put_be32(buf + BN_NBD_OPTREP_LEN, nl);
                r = nbd_srv_conn_send(c, buf, BN_NBD_OPTREP_LEN + 4);
                if (r == 0)
                        r = nbd_srv_conn_send(c, c->srv->export_name, nl);
                if (r == 0)
                        r = opt_reply(c, ev->opt, BN_NBD_REP_ACK, NULL);
                return r;
        case BN_NBD_OPT_ABORT:
                c->st.phase = BN_NBD_SRV_DONE;
                c->closing = true;
                return opt_reply(c, ev->opt, BN_NBD_REP_ACK, NULL);
        case BN_NBD_OPT_STRUCTURED_REPLY:
                if (ev->opt_len)
                        return opt_reply(c, ev->opt, BN_NBD_REP_ERR_INVALID,
                                         "STRUCTURED_REPLY takes no data");
                c->st.structured = true;
                return opt_reply(c, ev->opt, BN_NBD_REP_ACK, NULL);
        case BN_NBD_OPT_STARTTLS:
                if (!c->srv->tls_ctx)
                        return opt_reply(c, ev->opt, BN_NBD_REP_ERR_UNSUP, "TLS is not configured");
                if (c->ssl || ev->opt_len)
                        return opt_reply(c, ev->opt, BN_NBD_REP_ERR_INVALID,
                                         c->ssl ? "TLS is on already" : "STARTTLS takes no data");
                c->tls_start = true; /* nothing more is parsed until TLS is up */
                return opt_reply(c, ev->opt, BN_NBD_REP_ACK, NULL);
        default:
                return opt_reply(c, ev->opt, BN_NBD_REP_ERR_UNSUP, "option not supported");
        }
}

/* An answer without data: simple, or for a READ under structured replies an
 * ERROR chunk. */
static int conn_answer(struct conn *c, uint16_t type, uint64_t handle, uint32_t err)
{
        uint8_t buf[BN_NBD_CHUNK_LEN + 6];

        if (err && c->srv)
                c->srv->stats.errors++;
        if (type == BN_NBD_CMD_READ && c->st.structured && err) {
                bn_nbd_put_chunk(buf, BN_NBD_REPLY_FLAG_DONE, BN_NBD_REPLY_ERROR, handle, 6);
                put_be32(buf + BN_NBD_CHUNK_LEN, err);
                buf[24] = buf[25] = 0;
                return nbd_srv_conn_send(c, buf, sizeof(buf));
        }
        bn_nbd_put_simple(buf, err, handle);
        return nbd_srv_conn_send(c, buf, BN_NBD_SIMPLE_LEN);
}

/* After input or a completion: send, close when done or broken, watch
 * what is needed next. c may be freed. */
static void conn_after(struct conn *c)
{
        if (!c->broken && conn_flush(c) < 0)
                c->broken = true;
        if (c->broken) {
                nbd_srv_conn_kill(c, "peer went away or out of memory");
                return;
        }
        if (c->closing && !c->inflight && !c->out_head) {
                nbd_srv_conn_kill(c, NULL);
                return;
        }
        if (c->tls_start && !c->out_head) {
                /* the ACK is out; a client waits for it before its hello */
                c->tls_start = false;
                if (c->in_len) {
                        nbd_srv_conn_kill(c, "bytes after STARTTLS before its answer");
                        return;
                }
                c->ssl = bn_nbd_tls_accept(c->srv->tls_ctx, c->fd);
                if (!c->ssl) {
                        nbd_srv_conn_kill(c, "out of memory");
                        return;
                }
                c->tls_hs = true;
                c->tls_want = 0;
        }
        conn_update_events(c);
}

void nbd_srv_after_deferred(void *arg)
{
        struct conn *c = arg;

        if (!c->dead)
                conn_after(c);
}

void bn_nbd_io_done(struct bn_nbd_io *io, int err)
{
        struct srv_io *s = (struct srv_io *)io;
        struct conn *c = s->c;
        struct outbuf *o = s->out;

        c->inflight--;
        if (c->dead) {
                free(o);
        } else if (io->type == BN_NBD_CMD_READ && err == 0) {
                /* o: [chunk header][offset][data]; a simple header sits just
                 * before the data instead */
                if (c->st.structured) {
                        bn_nbd_put_chunk(o->data, BN_NBD_REPLY_FLAG_DONE, BN_NBD_REPLY_OFFSET_DATA,
                                         s->handle, 8 + io->length);
                        put_be32(o->data + BN_NBD_CHUNK_LEN, (uint32_t)(io->offset >> 32));
                        put_be32(o->data + BN_NBD_CHUNK_LEN + 4, (uint32_t)io->offset);
                } else {
                        o->off = BN_NBD_CHUNK_LEN + 8 - BN_NBD_SIMPLE_LEN;
                        bn_nbd_put_simple(o->data + o->off, 0, s->handle);
                }
                conn_queue(c, o);
        } else {
                free(o);
                if (conn_answer(c, io->type, s->handle, bn_nbd_err_from_errno(err)) < 0)
                        c->broken = true;
        }
        free(s);
        if (c->dead)
                conn_free_if_idle(c);
        else if (!c->in_cb) /* once the loop's callbacks ran: one send for all */
                bn_loop_defer(c->loop, &c->after_work);
}

/* Hand a valid request to the back-end, or answer it. -errno disconnects. */
static int conn_request(struct conn *c, const struct bn_nbd_srv_ev *ev)
{
        const struct bn_nbd_backend_ops *ops = c->srv->ops;
        int (*op)(void *, struct bn_nbd_io *) = NULL;
        struct srv_io *s;
        size_t extra = 0;
        int r;

        c->srv->stats.requests++;
        if (ev->type < 7)
                c->srv->stats.by_cmd[ev->type]++;
        if (ev->type == BN_NBD_CMD_DISC) {
                unsigned others = 0;

                c->closing = true;
                for (struct conn *o = c->srv->conns; o; o = o->next)
                        others += o != c && !o->closing && !o->dead;
                if (ops->disc)
                        ops->disc(c->srv->be, others);
                return 0;
        }
        if (ev->err)
                return conn_answer(c, ev->type, ev->handle, ev->err);
        switch (ev->type) {
        case BN_NBD_CMD_READ:
                op = ops->read;
                break;
        case BN_NBD_CMD_WRITE:
                op = ops->write;
                extra = ev->length;
                break;
        case BN_NBD_CMD_FLUSH:
                op = ops->flush;
                break;
        case BN_NBD_CMD_TRIM:
                op = ops->trim;
                break;
        case BN_NBD_CMD_WRITE_ZEROES:
                op = ops->zero;
                break;
        }
        if (!op)
                return conn_answer(c, ev->type, ev->handle, BN_NBD_EINVAL);
        s = calloc(1, sizeof(*s) + extra);
        if (!s)
                return -ENOMEM;
        s->c = c;
        s->handle = ev->handle;
        s->io.type = ev->type;
        s->io.flags = ev->flags;
        s->io.offset = ev->offset;
        s->io.length = ev->length;
        if (ev->type == BN_NBD_CMD_READ) {
                s->out = outbuf_new(BN_NBD_CHUNK_LEN + 8 + (size_t)ev->length);
                if (!s->out) {
                        free(s);
                        return -ENOMEM;
                }
                s->io.buf = s->out->data + BN_NBD_CHUNK_LEN + 8;
        } else if (ev->type == BN_NBD_CMD_WRITE) {
                memcpy(s->wbuf, ev->data, ev->length);
                s->io.buf = s->wbuf;
        }
        c->inflight++;
        r = op(c->srv->be, &s->io);
        if (r < 0) /* not started: answered here */
                bn_nbd_io_done(&s->io, r);
        return 0;
}

/* Parse and act on what is in c->in; -errno disconnects. */
static int conn_consume(struct conn *c)
{
        struct bn_nbd_srv_ev ev;
        size_t off = 0, need = 0;
        ssize_t n;
        int r = 0;

        while (!c->broken && !c->closing && !c->tls_start && off < c->in_len) {
                n = bn_nbd_srv_parse(&c->st, c->in + off, c->in_len - off, &ev, &need);
                if (n < 0) {
                        r = (int)n;
                        break;
                }
                if (n == 0)
                        break;
                off += (size_t)n;
                need = 0;
                if (ev.kind == BN_NBD_SRV_EV_OPTION)
                        r = conn_option(c, &ev);
                else if (ev.kind == BN_NBD_SRV_EV_REQUEST)
                        r = conn_request(c, &ev);
                if (r < 0)
                        break;
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if (r == 0 && need > c->in_cap) {
                uint8_t *p = realloc(c->in, need);

                if (!p)
                        return -ENOMEM;
                c->in = p;
                c->in_cap = need;
        }
        return r;
}

/* Read into c->in: bytes, 0 when the peer closed, -EAGAIN, -errno. */
static ssize_t conn_recv(struct conn *c)
{
        ssize_t n;

        if (c->in_cap == c->in_len)
                return -EAGAIN; /* cannot happen: conn_consume keeps room */
        if (c->ssl)
                return bn_nbd_tls_read(c->ssl, c->in + c->in_len, c->in_cap - c->in_len,
                                       &c->tls_want);
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0)
                return errno == EINTR ? -EAGAIN : -errno;
        return n;
}

void nbd_srv_conn_cb(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct conn *c = arg;
        ssize_t n;
        int r;

        (void)loop;
        (void)fd;
        if (events & EPOLLERR) {
                nbd_srv_conn_kill(c, "socket error");
                return;
        }
        if (c->tls_hs) {
                r = bn_nbd_tls_handshake(c->ssl, &c->tls_want, c->name);
                if (r < 0) {
                        nbd_srv_conn_kill(c, "TLS handshake failed");
                        return;
                }
                if (r == 0) {
                        conn_update_events(c);
                        return;
                }
                c->tls_hs = false;
                c->tls_want = 0;
                bn_debug(c->name, "TLS is up");
                events |= EPOLLIN; /* the session may hold bytes already */
        }
        if ((events & EPOLLOUT) && conn_flush(c) < 0) {
                nbd_srv_conn_kill(c, "peer went away");
                return;
        }
        for (int round = 0; round < 64 && (events & (EPOLLIN | EPOLLHUP)) && !c->closing &&
                            !c->tls_start && !c->broken;
             round++) {
                n = conn_recv(c);
                if (n == 0 || (n < 0 && n != -EAGAIN)) {
                        nbd_srv_conn_kill(c, n == 0 ? "peer closed" : strerror((int)-n));
                        return;
                }
                if (n > 0) {
                        c->in_len += (size_t)n;
                        c->in_cb = true;
                        r = conn_consume(c);
                        c->in_cb = false;
                        if (r < 0) {
                                bn_warn(c->name, "disconnecting: %s",
                                        r == -EPROTO     ? "protocol error"
                                        : r == -EMSGSIZE ? "message too long"
                                        : r == -ENOENT   ? "unknown export"
                                                         : strerror(-r));
                                c->closing = true;
                                c->st.phase = BN_NBD_SRV_DONE;
                        }
                }
                /* bytes decrypted inside the session wake no epoll */
                if (n < 0 || !c->ssl || bn_nbd_tls_pending(c->ssl) <= 0)
                        break;
        }
        if ((events & EPOLLHUP) && !(events & EPOLLIN)) {
                nbd_srv_conn_kill(c, "peer hung up");
                return;
        }
        conn_after(c);
}
