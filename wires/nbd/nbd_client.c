/* nbd_client.c: the NBD client on a bn_loop: non-blocking connect and
 * handshake, the queue of unanswered requests in submission order, replies
 * matched by handle, reconnect with backoff and replay (nbd_client.h). */
#include "nbd_client.h"
#include "nbd_sock.h"
#include "bn_log.h"
#include "bn_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_HIGH (4U << 20) /* stop serialising requests beyond this much unsent */

struct creq {
        struct creq *next, *prev;
        uint64_t handle;
        uint16_t type, flags;
        uint64_t offset;
        uint32_t length;
        uint8_t *buf; /* READ: the caller's; WRITE: our copy */
        void *tag;
        bool sent; /* on the current connection */
        bool ever_sent;
        int err;
};

enum cstate {
        C_DOWN,       /* waiting for the backoff timer */
        C_CONNECTING, /* non-blocking connect in progress */
        C_HANDSHAKE,
        C_READY,
};

struct bn_nbd_client {
        struct bn_loop *loop;
        char addr[128];
        char export_name[BN_NBD_MAX_NAME + 1];
        char ctx[160];
        unsigned backoff_min, backoff_max, backoff;
        const struct bn_nbd_client_ops *ops;
        void *arg;
        enum cstate state;
        int fd;
        uint32_t events;
        struct bn_timer *timer;
        struct bn_nbd_cli_state ps;
        struct bn_nbd_export exp;
        bool have_exp;
        bool in_io;                  /* client_io runs: it flushes (and fails) when done */
        bool freeing;                /* bn_nbd_client_free runs: no more submits */
        bool disc_wanted, disc_sent; /* bn_nbd_client_disconnect: DISC once all is answered */
        struct ssl_ctx_st *tls_ctx;  /* NULL: no TLS */
        char tls_peer[128];
        struct ssl_st *ssl;
        bool tls_start, tls_hs;
        uint32_t tls_want;
        uint8_t *in;
        size_t in_len, in_cap;
        uint8_t *out;
        size_t out_len, out_off, out_cap;
        struct creq *head, *tail, *next_send;
        uint64_t next_handle;
        struct bn_nbd_client_stats st;
        struct bn_loop_work flush_work; /* submits of one loop iteration go out together */
};

static void client_fail(struct bn_nbd_client *cl, const char *why);
static void flush_deferred(void *arg);

static int out_add(struct bn_nbd_client *cl, const void *p, size_t len)
{
        size_t cap;
        uint8_t *n;

        if (cl->out_off && cl->out_off == cl->out_len)
                cl->out_off = cl->out_len = 0;
        if (cl->out_len + len > cl->out_cap) {
                cap = (cl->out_len + len) * 2;
                n = realloc(cl->out, cap);
                if (!n)
                        return -ENOMEM;
                cl->out = n;
                cl->out_cap = cap;
        }
        memcpy(cl->out + cl->out_len, p, len);
        cl->out_len += len;
        return 0;
}

static void set_events(struct bn_nbd_client *cl, uint32_t ev)
{
        if (cl->fd >= 0 && ev != cl->events) {
                cl->events = ev;
                bn_loop_mod_fd(cl->loop, cl->fd, ev);
        }
}

/* Serialise unsent requests (in order) and write what we can. */
static int client_flush(struct bn_nbd_client *cl)
{
        uint8_t h[BN_NBD_REQ_LEN];
        struct creq *r;
        ssize_t n;

        while (cl->state == C_READY && (r = cl->next_send) &&
               cl->out_len - cl->out_off < OUT_HIGH) {
                bn_nbd_put_request(h, r->flags, r->type, r->handle, r->offset, r->length);
                if (out_add(cl, h, sizeof(h)) < 0 ||
                    (r->type == BN_NBD_CMD_WRITE && out_add(cl, r->buf, r->length) < 0))
                        return -ENOMEM;
                if (r->ever_sent)
                        cl->st.replayed++;
                r->sent = r->ever_sent = true;
                cl->st.sent++;
                cl->next_send = r->next;
        }
        if (cl->disc_wanted && !cl->disc_sent && cl->state == C_READY && !cl->head) {
                /* the goodbye follows the last answer: the server then knows
                 * that nothing more comes on this connection */
                bn_nbd_put_request(h, 0, BN_NBD_CMD_DISC, cl->next_handle++, 0, 0);
                if (out_add(cl, h, sizeof(h)) < 0)
                        return -ENOMEM;
                cl->disc_sent = true;
        }
        cl->tls_want = 0;
        while (cl->out_off < cl->out_len && !cl->tls_hs) {
                if (cl->ssl) {
                        n = bn_nbd_tls_write(cl->ssl, cl->out + cl->out_off,
                                             cl->out_len - cl->out_off, &cl->tls_want);
                        if (n == -EAGAIN)
                                break;
                        if (n < 0)
                                return (int)n;
                } else {
                        n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
                                 MSG_NOSIGNAL);
                }
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -errno;
                }
                cl->out_off += (size_t)n;
        }
        set_events(cl, EPOLLIN | cl->tls_want |
                           (cl->out_off < cl->out_len || (cl->state == C_READY && cl->next_send)
                                ? EPOLLOUT
                                : 0));
        return 0;
}

static struct creq *find_sent(struct bn_nbd_client *cl, uint64_t handle)
{
        for (struct creq *r = cl->head; r && r->sent; r = r->next)
                if (r->handle == handle)
                        return r;
        return NULL;
}

/* The parser asks what a reply's read is: only requests sent on this
 * connection have answers. */
static int read_len(void *arg, uint64_t handle, uint32_t *len, uint64_t *offset)
{
        struct creq *r = find_sent(arg, handle);

        if (!r)
                return -ENOENT;
        *len = r->type == BN_NBD_CMD_READ ? r->length : 0;
        *offset = r->offset;
        return 0;
}

static void req_unlink(struct bn_nbd_client *cl, struct creq *r)
{
        if (r->prev)
                r->prev->next = r->next;
        else
                cl->head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else
                cl->tail = r->prev;
        if (cl->next_send == r)
                cl->next_send = r->next;
        cl->st.queued--;
}

static void req_complete(struct bn_nbd_client *cl, struct creq *r, int err)
{
        void *tag = r->tag;

        req_unlink(cl, r);
        if (r->type == BN_NBD_CMD_WRITE)
                free(r->buf);
        free(r);
        cl->st.answered++;
        cl->ops->done(cl->arg, tag, err);
}

static int on_reply(struct bn_nbd_client *cl, const struct bn_nbd_cli_ev *ev)
{
        struct creq *r = find_sent(cl, ev->handle);

        if (!r)
                return -EPROTO; /* read_len let it through: cannot happen */
        if (ev->err && !r->err)
                r->err = bn_nbd_err_to_errno(ev->err);
        if (ev->chunk_type == BN_NBD_REPLY_OFFSET_DATA && ev->len)
                memcpy(r->buf + (ev->offset - r->offset), ev->data, ev->len);
        else if (ev->chunk_type == BN_NBD_REPLY_OFFSET_HOLE)
                memset(r->buf + (ev->offset - r->offset), 0, ev->len);
        if (ev->done)
                req_complete(cl, r, r->err);
        return 0;
}

static int send_go(struct bn_nbd_client *cl)
{
        uint8_t h[16], d[4 + BN_NBD_MAX_NAME + 2];
        uint32_t nl = (uint32_t)strlen(cl->export_name);
        int r;

        d[0] = (uint8_t)(nl >> 24);
        d[1] = (uint8_t)(nl >> 16);
        d[2] = (uint8_t)(nl >> 8);
        d[3] = (uint8_t)nl;
        memcpy(d + 4, cl->export_name, nl);
        d[4 + nl] = d[5 + nl] = 0; /* no info requests: NBD_INFO_EXPORT comes anyway */
        bn_nbd_put_option(h, BN_NBD_OPT_GO, 6 + nl);
        r = out_add(cl, h, sizeof(h));
        return r ? r : out_add(cl, d, 6 + nl);
}

/* One event from the server; -errno drops the connection. */
static int on_event(struct bn_nbd_client *cl, const struct bn_nbd_cli_ev *ev)
{
        uint8_t h[16], f[4] = {0, 0, 0, BN_NBD_FLAG_C_FIXED_NEWSTYLE};
        int r;

        switch (ev->kind) {
        case BN_NBD_CLI_EV_HELLO:
                if (ev->hs_flags & BN_NBD_FLAG_NO_ZEROES) {
                        f[3] |= BN_NBD_FLAG_C_NO_ZEROES;
                        cl->ps.no_zeroes = true;
                }
                bn_nbd_put_option(
                    h, cl->tls_ctx ? BN_NBD_OPT_STARTTLS : BN_NBD_OPT_STRUCTURED_REPLY, 0);
                r = out_add(cl, f, 4);
                return r ? r : out_add(cl, h, sizeof(h));
        case BN_NBD_CLI_EV_OPTREP:
                if (ev->opt == BN_NBD_OPT_STARTTLS) {
                        if (ev->rep_type != BN_NBD_REP_ACK) {
                                bn_warn(cl->ctx, "server refused STARTTLS: %.*s", (int)ev->len,
                                        (const char *)ev->data);
                                return -EACCES;
                        }
                        cl->tls_start = true; /* once the parse loop let go */
                        return 0;
                }
                if (ev->opt == BN_NBD_OPT_STRUCTURED_REPLY)
                        return send_go(cl); /* acknowledged or not */
                if (ev->opt != BN_NBD_OPT_GO)
                        return -EPROTO;
                if (ev->rep_type & BN_NBD_REP_FLAG_ERROR) {
                        bn_warn(cl->ctx, "server refused export '%s': %.*s", cl->export_name,
                                (int)ev->len, (const char *)ev->data);
                        return -ENOENT;
                }
                if (ev->rep_type == BN_NBD_REP_INFO && bn_nbd_cli_info_export(ev, &cl->exp) == 0)
                        cl->have_exp = true;
                if (ev->rep_type != BN_NBD_REP_ACK)
                        return 0;
                if (!cl->have_exp)
                        return -EPROTO;
                cl->state = C_READY;
                cl->backoff = cl->backoff_min;
                cl->st.connects++;
                bn_info(cl->ctx, "connected: export '%s' size %llu flags 0x%x%s", cl->export_name,
                        (unsigned long long)cl->exp.size, cl->exp.tflags,
                        cl->ps.structured ? ", structured replies" : "");
                if (cl->ops->state)
                        cl->ops->state(cl->arg, &cl->exp);
                return 0;
        case BN_NBD_CLI_EV_REPLY:
                return on_reply(cl, ev);
        default:
                return -EPROTO;
        }
}

static void client_io(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct bn_nbd_client *cl = arg;
        struct bn_nbd_cli_ev ev;
        size_t off = 0, need = 0;
        uint8_t h[16];
        ssize_t n;
        int r = 0, err = 0, rounds = 0;
        socklen_t sl = sizeof(err);

        if (cl->state == C_CONNECTING) {
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err) {
                        client_fail(cl, strerror(err ? err : errno));
                        return;
                }
                cl->state = C_HANDSHAKE;
                set_events(cl, EPOLLIN);
                return;
        }
        if (cl->tls_hs) {
                r = bn_nbd_tls_handshake(cl->ssl, &cl->tls_want, cl->ctx);
                if (r < 0) {
                        client_fail(cl, "TLS handshake failed");
                        return;
                }
                if (r == 0) {
                        set_events(cl, EPOLLIN | cl->tls_want);
                        return;
                }
                cl->tls_hs = false;
                bn_nbd_put_option(h, BN_NBD_OPT_STRUCTURED_REPLY, 0);
                r = out_add(cl, h, sizeof(h));
                if (r == 0)
                        r = client_flush(cl);
                if (r < 0)
                        client_fail(cl, strerror(-r));
                return;
        }
        if (events & EPOLLOUT) {
                r = client_flush(cl);
                if (r < 0) {
                        client_fail(cl, strerror(-r));
                        return;
                }
        }
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return;
again:
        if (cl->in_cap - cl->in_len < 65536) {
                uint8_t *p = realloc(cl->in, cl->in_cap + 65536);

                if (!p) {
                        client_fail(cl, "out of memory");
                        return;
                }
                cl->in = p;
                cl->in_cap += 65536;
        }
        if (cl->ssl) {
                n = bn_nbd_tls_read(cl->ssl, cl->in + cl->in_len, cl->in_cap - cl->in_len,
                                    &cl->tls_want);
        } else {
                n = recv(fd, cl->in + cl->in_len, cl->in_cap - cl->in_len, 0);
                if (n < 0)
                        n = errno == EINTR ? -EAGAIN : -errno;
        }
        if (n == 0 || (n < 0 && n != -EAGAIN)) {
                client_fail(cl, n == 0 ? "server closed the connection" : strerror((int)-n));
                return;
        }
        if (n < 0) {
                set_events(cl, cl->events | cl->tls_want);
                return;
        }
        cl->in_len += (size_t)n;
        cl->in_io = true; /* ops->done may submit: that waits for the flush below */
        while (off < cl->in_len && !cl->tls_start) {
                n = bn_nbd_cli_parse(&cl->ps, cl->in + off, cl->in_len - off, &ev, &need);
                if (n <= 0) {
                        r = (int)n;
                        break;
                }
                off += (size_t)n;
                need = 0;
                r = on_event(cl, &ev);
                if (r < 0)
                        break;
        }
        cl->in_io = false;
        if (r < 0) {
                client_fail(cl, r == -EPROTO ? "protocol error" : strerror(-r));
                return;
        }
        memmove(cl->in, cl->in + off, cl->in_len - off);
        cl->in_len -= off;
        if (need > cl->in_cap) {
                uint8_t *p = realloc(cl->in, need);

                if (!p) {
                        client_fail(cl, "out of memory");
                        return;
                }
                cl->in = p;
                cl->in_cap = need;
        }
        if (cl->tls_start) {
                /* STARTTLS acknowledged: nothing may follow before our hello */
                cl->tls_start = false;
                if (cl->in_len) {
                        client_fail(cl, "bytes after the STARTTLS answer");
                        return;
                }
                cl->ssl = bn_nbd_tls_connect(cl->tls_ctx, cl->fd, cl->tls_peer);
                if (!cl->ssl) {
                        client_fail(cl, "cannot start TLS");
                        return;
                }
                cl->tls_hs = true;
                client_io(loop, fd, EPOLLOUT, cl); /* the first step sends our hello */
                return;
        }
        r = client_flush(cl);
        if (r < 0) {
                client_fail(cl, strerror(-r));
                return;
        }
        if (cl->ssl && bn_nbd_tls_pending(cl->ssl) > 0 && ++rounds < 64)
                goto again; /* decrypted bytes wake no epoll */
}

/* Start a non-blocking connect; 0, or -errno. */
static int client_dial(struct bn_nbd_client *cl)
{
        bool in_progress;
        int fd, r;

        fd = bn_nbd_dial(cl->addr, &in_progress);
        if (fd < 0)
                return fd;
        cl->fd = fd;
        cl->state = in_progress ? C_CONNECTING : C_HANDSHAKE;
        cl->events = in_progress ? EPOLLOUT : EPOLLIN;
        r = bn_loop_add_fd(cl->loop, fd, cl->events, client_io, cl);
        if (r < 0) {
                close(fd);
                cl->fd = -1;
                cl->state = C_DOWN;
        }
        return r;
}

static void retry_cb(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct bn_nbd_client *cl = arg;
        int r;

        (void)loop;
        (void)t;
        cl->timer = NULL;
        bn_nbd_cli_init(&cl->ps, read_len, cl);
        cl->have_exp = false;
        r = client_dial(cl);
        if (r < 0)
                client_fail(cl, strerror(-r));
}

/* Drop the connection, mark every unanswered request for replay, and try
 * again after the backoff. */
static void client_fail(struct bn_nbd_client *cl, const char *why)
{
        bool was_ready = cl->state == C_READY, bye = cl->disc_sent && !cl->head;

        bn_nbd_tls_free(cl->ssl);
        cl->ssl = NULL;
        cl->tls_start = cl->tls_hs = false;
        cl->tls_want = 0;
        if (cl->fd >= 0) {
                bn_loop_del_fd(cl->loop, cl->fd);
                close(cl->fd);
                cl->fd = -1;
        }
        for (struct creq *r = cl->head; r; r = r->next) {
                r->sent = false;
                r->err = 0;
        }
        cl->next_send = cl->head;
        cl->in_len = cl->out_len = cl->out_off = 0;
        cl->state = C_DOWN;
        cl->disc_sent = false; /* a connection that dies before its DISC sends it again */
        if (bye) {
                /* after our DISC: the server closed, as it should; no retry
                 * unless something is submitted after all */
                bn_info(cl->ctx, "disconnected (DISC), every request answered");
                if (was_ready && cl->ops->state)
                        cl->ops->state(cl->arg, NULL);
                return;
        }
        cl->st.failures++;
        bn_warn(cl->ctx, "%s; %u requests to replay, retrying in %u ms", why, cl->st.queued,
                cl->backoff);
        if (was_ready && cl->ops->state)
                cl->ops->state(cl->arg, NULL);
        if (bn_loop_timer_add(cl->loop, cl->backoff, 0, retry_cb, cl, &cl->timer) < 0)
                cl->timer = NULL; /* out of memory: the next submit retries */
        cl->backoff = cl->backoff * 2 > cl->backoff_max ? cl->backoff_max : cl->backoff * 2;
}

int bn_nbd_client_new(struct bn_nbd_client **out, struct bn_loop *loop,
                      const struct bn_nbd_client_cfg *cfg, const struct bn_nbd_client_ops *ops,
                      void *arg)
{
        struct bn_nbd_client *cl;
        int r;

        *out = NULL;
        if (!cfg->addr || (strncmp(cfg->addr, "unix:", 5) && strncmp(cfg->addr, "tcp:", 4)) ||
            strlen(cfg->addr) >= sizeof(cl->addr) ||
            strlen(cfg->export_name ? cfg->export_name : "") > BN_NBD_MAX_NAME || !ops->done)
                return -EINVAL;
        cl = calloc(1, sizeof(*cl));
        if (!cl)
                return -ENOMEM;
        cl->loop = loop;
        snprintf(cl->addr, sizeof(cl->addr), "%s", cfg->addr);
        snprintf(cl->export_name, sizeof(cl->export_name), "%s",
                 cfg->export_name ? cfg->export_name : "");
        snprintf(cl->ctx, sizeof(cl->ctx), "nbd-client %s", cl->addr);
        cl->backoff_min = cfg->backoff_min_ms ? cfg->backoff_min_ms : 20;
        cl->backoff_max = cfg->backoff_max_ms ? cfg->backoff_max_ms : 1000;
        cl->backoff = cl->backoff_min;
        cl->ops = ops;
        cl->arg = arg;
        cl->fd = -1;
        bn_loop_work_init(&cl->flush_work, flush_deferred, cl);
        cl->next_handle = 1;
        bn_nbd_cli_init(&cl->ps, read_len, cl);
        if (cfg->tls) {
                const char *peer = cfg->tls_peer;
                char host[128], *colon;

                if (!peer) {
                        snprintf(host, sizeof(host), "%s",
                                 strncmp(cl->addr, "tcp:", 4) == 0 ? cl->addr + 4 : "");
                        colon = strrchr(host, ':');
                        if (colon)
                                *colon = 0;
                        if (host[0] == '[' && strlen(host) > 2) {
                                host[strlen(host) - 1] = 0;
                                memmove(host, host + 1, strlen(host));
                        }
                        peer = host;
                }
                r = peer[0] ? bn_nbd_tls_client_ctx(&cl->tls_ctx, cfg->tls) : -EINVAL;
                if (r < 0) {
                        bn_err(cl->ctx, "TLS: %s",
                               peer[0] ? "no context" : "no peer name to check");
                        free(cl);
                        return r;
                }
                snprintf(cl->tls_peer, sizeof(cl->tls_peer), "%s", peer);
        }
        r = client_dial(cl);
        if (r < 0)
                client_fail(cl, strerror(-r)); /* retried: the server may come later */
        *out = cl;
        return 0;
}

void bn_nbd_client_free(struct bn_nbd_client *cl)
{
        if (!cl)
                return;
        if (cl->timer)
                bn_loop_timer_cancel(cl->loop, cl->timer);
        bn_loop_defer_cancel(cl->loop, &cl->flush_work);
        cl->freeing = true;
        bn_nbd_tls_free(cl->ssl);
        if (cl->fd >= 0) {
                bn_loop_del_fd(cl->loop, cl->fd);
                close(cl->fd);
        }
        bn_nbd_tls_ctx_free(cl->tls_ctx);
        while (cl->head)
                req_complete(cl, cl->head, -ECANCELED);
        free(cl->in);
        free(cl->out);
        free(cl);
}

static void flush_deferred(void *arg)
{
        struct bn_nbd_client *cl = arg;
        int err;

        if (cl->state != C_READY)
                return; /* a reconnect sends what is queued */
        err = client_flush(cl);
        if (err < 0)
                client_fail(cl, strerror(-err));
}

int bn_nbd_client_submit(struct bn_nbd_client *cl, uint16_t type, uint16_t flags, uint64_t offset,
                         uint32_t length, uint8_t *buf, void *tag)
{
        struct creq *r;

        if (cl->freeing)
                return -ESHUTDOWN;
        switch (type) {
        case BN_NBD_CMD_READ:
        case BN_NBD_CMD_WRITE:
                if (!buf || length > BN_NBD_MAX_PAYLOAD)
                        return -EINVAL;
                /* fallthrough */
        case BN_NBD_CMD_TRIM:
        case BN_NBD_CMD_WRITE_ZEROES:
                if (length == 0 ||
                    (cl->have_exp && (offset > cl->exp.size || length > cl->exp.size - offset)))
                        return -EINVAL;
                break;
        case BN_NBD_CMD_FLUSH:
                offset = length = 0;
                break;
        default:
                return -EINVAL;
        }
        if (flags & ~(BN_NBD_CMD_FLAG_FUA | BN_NBD_CMD_FLAG_NO_HOLE))
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->type = type;
        r->flags = flags;
        r->offset = offset;
        r->length = length;
        r->tag = tag;
        r->buf = buf;
        if (type == BN_NBD_CMD_WRITE) {
                r->buf = malloc(length);
                if (!r->buf) {
                        free(r);
                        return -ENOMEM;
                }
                memcpy(r->buf, buf, length);
        }
        r->handle = cl->next_handle++;
        cl->disc_wanted = false; /* submitting again: no goodbye (a swap given up) */
        r->prev = cl->tail;
        if (cl->tail)
                cl->tail->next = r;
        else
                cl->head = r;
        cl->tail = r;
        if (!cl->next_send)
                cl->next_send = r;
        cl->st.queued++;
        if (cl->in_io) {
                /* client_io flushes once it has parsed what it holds */
        } else if (cl->state == C_READY) {
                /* once the loop's callbacks ran: a batch is one send */
                bn_loop_defer(cl->loop, &cl->flush_work);
        } else if (cl->state == C_DOWN && !cl->timer &&
                   bn_loop_timer_add(cl->loop, cl->backoff, 0, retry_cb, cl, &cl->timer) < 0) {
                cl->timer = NULL;
        }
        return 0;
}

void bn_nbd_client_disconnect(struct bn_nbd_client *cl)
{
        int err;

        cl->disc_wanted = true;
        if (cl->state == C_READY && !cl->in_io && (err = client_flush(cl)) < 0)
                client_fail(cl, strerror(-err));
}

void bn_nbd_client_get_stats(const struct bn_nbd_client *cl, struct bn_nbd_client_stats *st)
{
        *st = cl->st;
}
