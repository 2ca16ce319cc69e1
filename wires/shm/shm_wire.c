/* shm_wire.c: the shm wire as a wire type ("shm") of bn_wire.h, over the
 * self-contained port API of shm_port.h.
 *
 * Parameters:
 *   ring=SIZE   bytes per direction (power of two, 512k..256M; default 1M)
 *   path=PATH   cross-process: end 0 listens on the Unix socket PATH ("@x"
 *               abstract), end 1 connects to it (retrying every 100 ms
 *               until end 0 appears). Without path, both ends live in this
 *               process and meet by wire name in the class's table.
 *
 * The fd the framework polls is, cross-process, a private epoll set
 * holding, as the wire's state requires, the listening or connecting
 * socket, a retry timer, our doorbell and the peer's socket (whose end of
 * file means the peer died); in-process, our doorbell itself (2 fds an
 * end: thousands of wires fit in a process's fd limit).
 * Until the peer is there, send accepts nothing and recv returns 0.
 * Received messages' data stay in the ring until release.
 *
 * Capabilities: ordered, reliable (a full ring refuses, never drops),
 * GSO metadata, control messages, messages up to BN_WIRE_DATA_MAX, no MTU
 * of its own.
 */
#include "bn_log.h"
#include "bn_wire.h"
#include "shm_port.h"
#include "shm_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Ends opened in this process whose peer end has not been opened yet. */
struct shm_pending {
        char wire[256];
        unsigned end;               /* the end that is waiting here */
        struct bn_wire_port *wport; /* its wire port */
        struct bn_shm_port *port;
        struct shm_pending *next;
};

struct shm_ctx {
        pthread_mutex_t mu;
        struct shm_pending *list;
};

struct shm_priv {
        struct shm_ctx *ctx;
        struct bn_shm_port *sp;
        int epfd, lfd, csock, tfd;
        char path[108];
        uint32_t ring;
        bool tx_blocked, peer_down;
        bool alone; /* in-process: we made the pair, the other end has not taken its port */
        uint64_t bad_type;
        /* in-process on the same loop: the other end's port, rung with
         * bn_wire_port_kick rather than its doorbell (both owned by that
         * loop; unlinked by whichever closes first) */
        struct bn_wire_port *peer;
};

static const char *const shm_known[] = {"ring", "path", NULL};

static int shm_class_init(const struct bn_wire_env *env, void **class_ctx)
{
        struct shm_ctx *c = calloc(1, sizeof(*c));

        (void)env; /* the table of in-process ends needs no loop of its own */
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->mu, NULL);
        *class_ctx = c;
        return 0;
}

static void shm_class_fini(void *class_ctx)
{
        struct shm_ctx *c = class_ctx;

        while (c && c->list) {
                struct shm_pending *n = c->list;

                c->list = n->next;
                bn_shm_port_close(n->port);
                free(n);
        }
        if (c) {
                pthread_mutex_destroy(&c->mu);
                free(c);
        }
}

static int ep_add(struct shm_priv *s, int fd)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

        return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void ep_del_close(struct shm_priv *s, int *fd)
{
        if (*fd < 0)
                return;
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, *fd, NULL);
        close(*fd);
        *fd = -1;
}

/* The shm port is ready: poll its doorbell and the peer's socket. */
static int attach(struct shm_priv *s, struct bn_shm_port *sp)
{
        int rc;

        s->sp = sp;
        rc = s->epfd >= 0 ? ep_add(s, bn_shm_port_fd(sp)) : 0; /* in-process: polled itself */
        if (rc == 0 && s->epfd >= 0 && bn_shm_port_peer_fd(sp) >= 0)
                rc = ep_add(s, bn_shm_port_peer_fd(sp));
        if (rc == 0 && bn_shm_port_arm(sp, BN_SHM_WANT_RX) > 0) {
                /* Frames arrived before we joined (the other end was open
                 * first and sent without ringing: nobody had armed). Ring
                 * our own doorbell so that the framework reads them now;
                 * else they, and all that follows, would wait for ever. */
                uint64_t one = 1;

                if (write(bn_shm_port_fd(sp), &one, sizeof(one)) < 0)
                        rc = -errno;
        }
        return rc;
}

/* Ring the peer on our common loop: it is read in this iteration, no
 * doorbell. false (the doorbell) when called off the loop's thread. */
static bool ring_on_loop(void *arg)
{
        struct bn_wire_port *peer = arg;

        if (!bn_loop_in_thread(peer->loop))
                return false;
        bn_wire_port_kick(peer);
        return true;
}

/* Both ends in this process on one loop (we run on it: open does): each
 * rings the other by a call (run to completion, bn_wire.h). */
static void link_on_loop(struct bn_wire_port *a, struct bn_wire_port *b)
{
        struct shm_priv *sa = a->priv, *sb = b->priv;

        if (a->loop != b->loop || !sa->sp || !sb->sp)
                return;
        sa->peer = b;
        sb->peer = a;
        bn_shm_port_set_ring(sa->sp, ring_on_loop, b);
        bn_shm_port_set_ring(sb->sp, ring_on_loop, a);
}

static void unlink_peer(struct shm_priv *s)
{
        struct shm_priv *sp;

        if (!s->peer)
                return;
        sp = s->peer->priv;
        if (sp->sp)
                bn_shm_port_set_ring(sp->sp, NULL, NULL); /* it rings nothing of ours */
        sp->peer = NULL;
        s->peer = NULL;
        /* our own ring function stays: closing rings the peer once more */
}

static int open_inproc(struct bn_wire_port *port, struct shm_priv *s, char *err, size_t errlen)
{
        struct shm_ctx *c = s->ctx;
        struct shm_pending **pp, *n = NULL;
        struct bn_shm_port *ends[2];
        int rc = 0;

        pthread_mutex_lock(&c->mu);
        for (pp = &c->list; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->wire, port->wire) == 0)
                        break;
        if (*pp && (*pp)->end != port->end) {
                /* The port left there is for the other end: ours is open. */
                snprintf(err, errlen, "end %u of shm wire '%s' is already open", port->end,
                         port->wire);
                rc = -EBUSY;
                goto out;
        }
        if (*pp) { /* the other end was first: take the port it left for us */
                n = *pp;
                *pp = n->next;
                rc = attach(s, n->port);
                if (rc == 0) {
                        link_on_loop(port, n->wport);
                        bn_shm_port_ring_peer(n->port); /* the first end: we are here */
                }
                free(n);
                n = NULL;
                goto out;
        }
        n = calloc(1, sizeof(*n));
        if (!n) {
                rc = -ENOMEM;
                goto out;
        }
        rc = bn_shm_pair(port->wire, s->ring, &ends[0], &ends[1]);
        if (rc < 0) {
                snprintf(err, errlen, "shm wire '%s': cannot create its region: %s", port->wire,
                         strerror(-rc));
                goto out;
        }
        snprintf(n->wire, sizeof(n->wire), "%s", port->wire);
        n->end = !port->end;
        n->wport = port;
        n->port = ends[!port->end];
        rc = attach(s, ends[port->end]);
        if (rc < 0) {
                bn_shm_port_close(n->port);
                goto out;
        }
        n->next = c->list;
        c->list = n;
        n = NULL;
        s->alone = true;
out:
        pthread_mutex_unlock(&c->mu);
        free(n);
        return rc;
}

static int try_connect(struct bn_wire_port *port, struct shm_priv *s)
{
        int fd = bn_shm_connect_start(s->path);

        if (fd == -ENOENT || fd == -ECONNREFUSED)
                return 0; /* not listening yet: the timer retries */
        if (fd < 0) {
                bn_err(port->wire, "shm: connecting to %s: %s", s->path, strerror(-fd));
                return fd;
        }
        ep_del_close(s, &s->tfd);
        s->csock = fd;
        return ep_add(s, fd);
}

static int open_cross(struct bn_wire_port *port, struct shm_priv *s, char *err, size_t errlen)
{
        struct itimerspec its = {.it_interval = {0, 100000000}, .it_value = {0, 100000000}};
        int rc;

        if (port->end == 0) {
                s->lfd = bn_shm_listen(s->path);
                if (s->lfd < 0) {
                        rc = s->lfd;
                        snprintf(err, errlen, "shm wire '%s': cannot listen on %s: %s", port->wire,
                                 s->path, strerror(-rc));
                        return rc;
                }
                fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK);
                return ep_add(s, s->lfd);
        }
        s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (s->tfd < 0 || timerfd_settime(s->tfd, 0, &its, NULL) < 0 ||
            (rc = ep_add(s, s->tfd)) < 0)
                return -errno;
        rc = try_connect(port, s);
        if (rc < 0)
                snprintf(err, errlen, "shm wire '%s': cannot connect to %s: %s", port->wire,
                         s->path, strerror(-rc));
        return rc;
}

static void shm_close(struct bn_wire_port *port);

/* The params of an shm end: ring, path (NULL when absent). */
static int shm_params(const struct bn_params *params, uint64_t *ring, const char **path, char *err,
                      size_t errlen)
{
        int rc = bn_params_check_known(params, shm_known, err, errlen);

        if (rc < 0)
                return rc;
        rc = bn_params_get_uint(params, "ring", false, BN_SHM_RING_DEFAULT, BN_SHM_RING_MIN,
                                BN_SHM_RING_MAX, ring, err, errlen);
        if (rc < 0)
                return rc;
        if (*ring & (*ring - 1)) {
                snprintf(err, errlen, "parameter 'ring': %llu is not a power of two",
                         (unsigned long long)*ring);
                return -EINVAL;
        }
        rc = bn_params_get_str(params, "path", false, NULL, path, err, errlen);
        if (rc < 0)
                return rc;
        if (*path &&
            (strlen(*path) == 0 || strlen(*path) >= sizeof(((struct shm_priv *)0)->path))) {
                snprintf(err, errlen, "parameter 'path': must be 1..%zu bytes",
                         sizeof(((struct shm_priv *)0)->path) - 1);
                return -EINVAL;
        }
        return 0;
}

static int shm_check(const struct bn_params *params, char *err, size_t errlen)
{
        const char *path;
        uint64_t ring;

        return shm_params(params, &ring, &path, err, errlen);
}

static int shm_open(struct bn_wire_port *port, const struct bn_params *params, char *err,
                    size_t errlen)
{
        struct shm_priv *s = port->priv;
        const char *path;
        uint64_t ring;
        int rc;

        s->ctx = port->class_ctx;
        s->epfd = s->lfd = s->csock = s->tfd = -1;
        rc = shm_params(params, &ring, &path, err, errlen);
        if (rc < 0)
                return rc;
        s->ring = (uint32_t)ring;
        if (path && (s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
                return -errno;
        if (path) {
                snprintf(s->path, sizeof(s->path), "%s", path);
                rc = open_cross(port, s, err, errlen);
        } else if (!s->ctx) {
                snprintf(err, errlen, "shm wire type was registered without its class_init");
                rc = -EINVAL;
        } else {
                rc = open_inproc(port, s, err, errlen);
        }
        if (rc < 0)
                shm_close(port);
        return rc;
}

static void shm_close(struct bn_wire_port *port)
{
        struct shm_priv *s = port->priv;

        if (s->ctx && !s->path[0]) {
                /* The other end never came: drop the port we left for it. */
                struct shm_pending **pp;

                pthread_mutex_lock(&s->ctx->mu);
                for (pp = &s->ctx->list; *pp; pp = &(*pp)->next) {
                        if (strcmp((*pp)->wire, port->wire) == 0 && (*pp)->end != port->end) {
                                struct shm_pending *n = *pp;

                                *pp = n->next;
                                bn_shm_port_close(n->port);
                                free(n);
                                break;
                        }
                }
                pthread_mutex_unlock(&s->ctx->mu);
        }
        unlink_peer(s);
        if (s->sp) {
                if (s->epfd >= 0) {
                        epoll_ctl(s->epfd, EPOLL_CTL_DEL, bn_shm_port_fd(s->sp), NULL);
                        if (bn_shm_port_peer_fd(s->sp) >= 0)
                                epoll_ctl(s->epfd, EPOLL_CTL_DEL, bn_shm_port_peer_fd(s->sp), NULL);
                }
                bn_shm_port_close(s->sp);
                s->sp = NULL;
        }
        if (s->lfd >= 0 && s->path[0] && s->path[0] != '@')
                unlink(s->path);
        ep_del_close(s, &s->lfd);
        ep_del_close(s, &s->csock);
        ep_del_close(s, &s->tfd);
        if (s->epfd >= 0)
                close(s->epfd);
        s->epfd = -1;
}

/* Move the rendezvous on (never blocks). */
static int progress(struct bn_wire_port *port, struct shm_priv *s)
{
        struct bn_shm_port *sp;
        uint64_t ticks;
        int rc;

        if (s->lfd >= 0) {
                rc = bn_shm_accept(s->lfd, port->wire, s->ring, &sp);
                if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR)
                        return 0;
                if (rc < 0) {
                        bn_err(port->wire, "shm: accepting the peer on %s: %s", s->path,
                               strerror(-rc));
                        return rc;
                }
                /* One peer per wire: stop listening. */
                if (s->path[0] != '@')
                        unlink(s->path);
                ep_del_close(s, &s->lfd);
                bn_info(port->wire, "shm: end 1 joined on %s", s->path);
                return attach(s, sp);
        }
        if (s->tfd >= 0) {
                if (read(s->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                        return -errno;
                return try_connect(port, s);
        }
        if (s->csock >= 0) {
                struct pollfd pfd = {.fd = s->csock, .events = POLLIN};

                if (poll(&pfd, 1, 0) <= 0)
                        return 0;
                epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->csock, NULL);
                rc = bn_shm_connect_finish(s->csock, port->wire, &sp);
                s->csock = -1; /* owned by sp now, or closed */
                if (rc < 0) {
                        bn_err(port->wire, "shm: joining %s: %s", s->path, strerror(-rc));
                        return rc;
                }
                bn_info(port->wire, "shm: joined end 0 on %s", s->path);
                return attach(s, sp);
        }
        return 0;
}

struct rx_fill {
        struct shm_priv *s;
        struct bn_wire_msg *msgs;
        unsigned n;
};

static int rx_one(void *arg, uint16_t type, const void *meta, size_t meta_len, const void *data,
                  size_t len)
{
        struct rx_fill *f = arg;
        struct bn_wire_msg *m = &f->msgs[f->n];

        if (type == 0 || meta_len > BN_WIRE_HDR_MAX || len > BN_WIRE_DATA_MAX) {
                f->s->bad_type++; /* held until release like the others, never handed on */
                return 0;
        }
        m->type = type;
        m->hdr_len = (uint16_t)meta_len;
        memcpy(m->hdr, meta, meta_len);
        m->data = (void *)data;
        m->len = (uint32_t)len;
        m->wire_priv = 0;
        f->n++;
        return 0;
}

static int shm_recv(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned max)
{
        struct shm_priv *s = port->priv;
        struct rx_fill f = {.s = s, .msgs = msgs};
        int rc, pass;

        if (!s->sp) {
                rc = progress(port, s);
                if (rc < 0 || !s->sp)
                        return rc;
        }
        for (pass = 0; pass < 2; pass++) {
                while (f.n < max) {
                        unsigned want = max - f.n;

                        rc = bn_shm_port_recv_hold(s->sp, want, rx_one, &f);
                        if (rc == -EPIPE)
                                goto down;
                        if (rc < 0)
                                return rc;
                        if ((unsigned)rc < want)
                                break; /* the ring is empty */
                }
                if (f.n)
                        return (int)f.n;
                /* Nothing: drain the doorbell, re-arm, and look once more so
                 * that nothing that arrived in between is left unseen. */
                bn_shm_port_ack(s->sp);
                rc = bn_shm_port_arm(s->sp,
                                     BN_SHM_WANT_RX | (s->tx_blocked ? BN_SHM_WANT_SPACE : 0));
                if (rc < 0)
                        return rc;
                if (rc & BN_SHM_WANT_SPACE)
                        s->tx_blocked = false;
                if (!(rc & BN_SHM_WANT_RX))
                        break;
        }
        if (!bn_shm_port_peer_alive(s->sp))
                goto down;
        return 0;
down:
        bn_shm_port_ack(s->sp); /* leave nothing readable: no busy loop */
        if (!s->peer_down) {
                s->peer_down = true;
                if (bn_shm_port_peer_fd(s->sp) >= 0)
                        epoll_ctl(s->epfd, EPOLL_CTL_DEL, bn_shm_port_peer_fd(s->sp), NULL);
                bn_warn(port->wire, "shm: end %u's peer has gone", port->end);
        }
        return -EPIPE;
}

/* The peer is there: joined (a cross-process end before the accept or the
 * connect has none; an in-process end waits for the other end to take the
 * port it left, which then rings our doorbell) and not gone. */
static bool shm_linked(struct bn_wire_port *port)
{
        struct shm_priv *s = port->priv;

        if (s->alone) { /* has the other end taken the port we left? */
                struct shm_pending *n;

                pthread_mutex_lock(&s->ctx->mu);
                for (n = s->ctx->list; n; n = n->next)
                        if (strcmp(n->wire, port->wire) == 0 && n->end != port->end)
                                break;
                pthread_mutex_unlock(&s->ctx->mu);
                s->alone = n != NULL;
        }
        return s->sp && !s->peer_down && !s->alone;
}

static void shm_release(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned n)
{
        struct shm_priv *s = port->priv;

        (void)msgs;
        (void)n;
        if (s->sp)
                bn_shm_port_release(s->sp);
}

static int shm_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n)
{
        struct shm_priv *s = port->priv;
        unsigned i;
        int rc;

        if (!s->sp)
                return 0; /* the peer has not joined yet */
        for (i = 0; i < n; i++) {
                struct iovec iov = {.iov_base = msgs[i].data, .iov_len = msgs[i].len};

                rc = bn_shm_port_send(s->sp, msgs[i].type, msgs[i].hdr,
                                      msgs[i].hdr_len > BN_WIRE_HDR_MAX ? BN_WIRE_HDR_MAX + 1
                                                                        : msgs[i].hdr_len,
                                      &iov, 1, false);
                if (rc == -ENOBUFS) {
                        /* Full: publish what we hold (the consumer frees room
                         * only from what it sees), ask it to ring when it
                         * frees room; if it already did, try again now. */
                        bn_shm_port_flush(s->sp);
                        rc = bn_shm_port_arm(s->sp, BN_SHM_WANT_SPACE);
                        if (rc > 0) {
                                i--;
                                continue;
                        }
                        s->tx_blocked = true;
                        break;
                }
                if (rc == -EPROTO)
                        return rc;
                /* 0, or a counted drop (-EMSGSIZE oversize, -EPIPE peer gone). */
        }
        return (int)i; /* published by shm_flush, once per loop iteration */
}

static void shm_flush(struct bn_wire_port *port)
{
        struct shm_priv *s = port->priv;

        if (s->sp)
                bn_shm_port_flush(s->sp);
}

static int shm_fd(struct bn_wire_port *port)
{
        struct shm_priv *s = port->priv;

        return s->epfd >= 0 ? s->epfd : s->sp ? bn_shm_port_fd(s->sp) : -1;
}

static void shm_stats(struct bn_wire_port *port, struct bn_wire_stats *st)
{
        struct shm_priv *s = port->priv;
        struct bn_shm_stats ss;

        st->drop_malformed += s->bad_type;
        if (!s->sp)
                return;
        bn_shm_port_stats(s->sp, &ss);
        st->msgs_out += ss.tx_frames;
        st->bytes_out += ss.tx_bytes;
        st->msgs_in += ss.rx_frames - s->bad_type;
        st->bytes_in += ss.rx_bytes;
        st->drop_full += ss.drop_ring_full;
        st->drop_too_big += ss.drop_oversize;
        st->drop_malformed += ss.rx_bad;
        st->drop_down += ss.drop_peer_gone;
}

const struct bn_wire_class bn_wire_shm_class = {
    .name = "shm",
    .priv_size = sizeof(struct shm_priv),
    /* one ring per direction, in order, nothing lost while the peer lives;
     * the virtio_net_hdr travels in the record (GSO frames of 64 KiB) */
    .caps = {.ordered = true,
             .reliable = true,
             .regions = true,
             .gso = true,
             .control = true,
             .max_msg = BN_WIRE_DATA_MAX,
             .mtu = 0},
    .class_init = shm_class_init,
    .class_fini = shm_class_fini,
    .open = shm_open,
    .check = shm_check,
    .close = shm_close,
    .send = shm_send,
    .recv = shm_recv,
    .flush = shm_flush,
    .release = shm_release,
    .fd = shm_fd,
    .stats = shm_stats,
    .linked = shm_linked,
};
