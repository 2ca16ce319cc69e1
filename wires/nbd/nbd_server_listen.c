/* nbd_server_listen.c: the NBD server's listening socket (accepting a
 * client, bounding connections and the handshake's time) and its life
 * cycle (new, limits, TLS, free, port, stats; nbd_server.h). */
#include "nbd_server_int.h"
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

static void hs_timeout(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct conn *c = arg;

        (void)loop;
        (void)t;
        c->hs_timer = NULL; /* a one-shot timer is freed after this */
        nbd_srv_conn_kill(c, "handshake not done in time");
}

static void accept_cb(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct bn_nbd_server *srv = arg;
        uint8_t hello[BN_NBD_HELLO_LEN];
        struct conn *c;
        int cfd, one = 1;

        (void)events;
        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return;
        if (srv->nconns >= srv->max_conns) {
                bn_warn("nbd-server", "%s: %u connections already: one refused", srv->addr,
                        srv->nconns);
                close(cfd);
                return;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on Unix: fine */
        c = calloc(1, sizeof(*c));
        if (!c || !(c->in = malloc(CONN_READ_CHUNK))) {
                free(c);
                close(cfd);
                return;
        }
        c->in_cap = CONN_READ_CHUNK;
        c->fd = cfd;
        c->srv = srv;
        c->loop = loop;
        bn_loop_work_init(&c->after_work, nbd_srv_after_deferred, c);
        snprintf(c->name, sizeof(c->name), "nbd-server %s #%llu", srv->addr,
                 (unsigned long long)srv->stats.conns);
        bn_nbd_srv_init(&c->st, NULL);
        bn_nbd_put_hello(hello, BN_NBD_FLAG_FIXED_NEWSTYLE | BN_NBD_FLAG_NO_ZEROES);
        c->events = EPOLLIN | EPOLLOUT;
        if (nbd_srv_conn_send(c, hello, sizeof(hello)) < 0 ||
            bn_loop_timer_add(loop, srv->hs_timeout_ms, 0, hs_timeout, c, &c->hs_timer) < 0 ||
            bn_loop_add_fd(loop, cfd, c->events, nbd_srv_conn_cb, c) < 0) {
                if (c->hs_timer)
                        bn_loop_timer_cancel(loop, c->hs_timer);
                free(c->out_head);
                free(c->in);
                free(c);
                close(cfd);
                return;
        }
        c->next = srv->conns;
        srv->conns = c;
        srv->nconns++;
        srv->stats.conns++;
        bn_debug(c->name, "accepted");
}

int bn_nbd_server_new(struct bn_nbd_server **out, struct bn_loop *loop, const char *addr,
                      const char *export_name, const struct bn_nbd_backend_ops *ops, void *be,
                      unsigned flags)
{
        struct bn_nbd_server *srv;
        int r;

        *out = NULL;
        if (!ops || !ops->get_size || !ops->read || strlen(export_name) > BN_NBD_MAX_NAME)
                return -EINVAL;
        srv = calloc(1, sizeof(*srv));
        if (!srv)
                return -ENOMEM;
        srv->loop = loop;
        srv->lfd = -1;
        srv->ops = ops;
        srv->be = be;
        srv->max_conns = SRV_MAX_CONNS;
        srv->hs_timeout_ms = HS_TIMEOUT_MS;
        snprintf(srv->addr, sizeof(srv->addr), "%s", addr);
        snprintf(srv->export_name, sizeof(srv->export_name), "%s", export_name);
        r = bn_nbd_listen(addr, flags & BN_NBD_SERVER_FREEBIND, &srv->port, srv->unix_path,
                          sizeof(srv->unix_path));
        if (r >= 0)
                srv->lfd = r;
        if (r < 0) {
                bn_err("nbd-server", "cannot listen on %s: %s", addr, strerror(-r));
                goto fail;
        }
        r = bn_loop_add_fd(loop, srv->lfd, EPOLLIN, accept_cb, srv);
        if (r < 0)
                goto fail;
        bn_info("nbd-server", "serving export '%s' (%s) on %s", export_name,
                ops->name ? ops->name : "?", addr);
        *out = srv;
        return 0;
fail:
        if (srv->lfd >= 0)
                close(srv->lfd);
        if (srv->unix_path[0])
                unlink(srv->unix_path);
        free(srv);
        return r;
}

void bn_nbd_server_set_limits(struct bn_nbd_server *srv, unsigned max_conns, unsigned hs_timeout_ms)
{
        if (max_conns)
                srv->max_conns = max_conns;
        if (hs_timeout_ms)
                srv->hs_timeout_ms = hs_timeout_ms;
}

int bn_nbd_server_set_tls(struct bn_nbd_server *srv, const struct bn_nbd_tls_cfg *cfg)
{
        struct ssl_ctx_st *ctx;
        int r;

        if (srv->conns)
                return -EBUSY;
        r = bn_nbd_tls_server_ctx(&ctx, cfg);
        if (r < 0)
                return r;
        bn_nbd_tls_ctx_free(srv->tls_ctx);
        srv->tls_ctx = ctx;
        srv->tls_require = cfg->require;
        return 0;
}

void bn_nbd_server_free(struct bn_nbd_server *srv)
{
        if (!srv)
                return;
        while (srv->conns)
                nbd_srv_conn_kill(srv->conns, "server stopping");
        bn_loop_del_fd(srv->loop, srv->lfd);
        close(srv->lfd);
        if (srv->unix_path[0])
                unlink(srv->unix_path);
        bn_nbd_tls_ctx_free(srv->tls_ctx);
        free(srv);
}

int bn_nbd_server_port(const struct bn_nbd_server *srv)
{
        return srv->port;
}

void bn_nbd_server_get_stats(const struct bn_nbd_server *srv, struct bn_nbd_server_stats *st)
{
        *st = srv->stats;
}
