/* xss_conn.c: the server object, its epoll set, listening sockets (Dom0's
 * and one per domain), client connections with their input framing (partial
 * reads, pipelined requests, size checks) and output queues (partial
 * writes, back-pressure), and the domain life cycle (xss_domain_add /
 * xss_domain_remove). A client that breaks the framing is closed alone.
 * Connections and listeners closed during dispatch are freed at its end,
 * so pending epoll events never point at freed memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xss_int.h"

void xss_logf(struct xss *s, int level, const char *fmt, ...)
{
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (s->log_fn)
                s->log_fn(s->log_opaque, level, buf);
        else if (level <= XSS_LOG_WARN)
                fprintf(stderr, "xss: %s: %s\n", level == XSS_LOG_ERROR ? "error" : "warn", buf);
}

void xss_set_log(struct xss *s, void (*fn)(void *opaque, int level, const char *msg), void *opaque)
{
        s->log_fn = fn;
        s->log_opaque = opaque;
}

struct xss_domain *xss_domain_find(struct xss *s, uint32_t domid)
{
        struct xss_domain *d;

        for (d = s->domains; d; d = d->next)
                if (d->domid == domid)
                        return d;
        return NULL;
}

static void conn_update_epoll(struct xss_conn *c)
{
        struct epoll_event ev = {0};
        bool want_out = c->out_head != NULL;
        bool want_in = c->out_bytes < XSS_OUT_STOP_READ;

        if (c->dead || (want_in == c->reading && want_out == c->writing))
                return;
        ev.events = (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0);
        ev.data.ptr = &c->ep;
        if (epoll_ctl(c->s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
                xss_logf(c->s, XSS_LOG_ERROR, "dom%u: epoll_ctl: %s", c->domid, strerror(errno));
                return;
        }
        c->reading = want_in;
        c->writing = want_out;
}

void xss_conn_close(struct xss_conn *c, const char *why)
{
        struct xss *s = c->s;
        struct xss_domain *d = c->priv ? NULL : xss_domain_find(s, c->domid);
        struct xss_conn **pp;

        if (c->dead)
                return;
        xss_logf(s, XSS_LOG_INFO, "dom%u: closing client connection: %s", c->domid, why);
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        c->dead = true;
        xss_tx_free_all(c);
        xss_watch_free_all(c);
        while (c->out_head) {
                struct xss_outmsg *m = c->out_head;

                c->out_head = m->next;
                free(m);
        }
        c->out_bytes = 0;
        if (d && d->conns > 0)
                d->conns--;
        for (pp = &s->conns; *pp; pp = &(*pp)->next) {
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        }
        c->next = s->dead;
        s->dead = c;
}

int xss_send(struct xss_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *p1,
             uint32_t l1, const void *p2, uint32_t l2)
{
        struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx_id, .len = l1 + l2};
        struct xss_outmsg *m;

        if (c->dead)
                return -EPIPE;
        if (h.len > XENSTORE_PAYLOAD_MAX) {
                xss_logf(c->s, XSS_LOG_ERROR, "dom%u: reply of %u bytes too large", c->domid,
                         h.len);
                return -E2BIG;
        }
        m = malloc(sizeof(*m) + XSS_HDR_LEN + h.len);
        if (!m) {
                xss_conn_close(c, "out of memory queueing a message");
                return -ENOMEM;
        }
        m->next = NULL;
        m->len = XSS_HDR_LEN + h.len;
        m->off = 0;
        memcpy(m->data, &h, XSS_HDR_LEN);
        if (l1)
                memcpy(m->data + XSS_HDR_LEN, p1, l1);
        if (l2)
                memcpy(m->data + XSS_HDR_LEN + l1, p2, l2);
        *c->out_tail = m;
        c->out_tail = &m->next;
        c->out_bytes += m->len;
        return 0;
}

/* Handle every complete request in the input buffer, unless replies pile
 * up (the client does not read them): then leave the rest for later. */
static void conn_process(struct xss_conn *c)
{
        char *body = c->s->body;

        while (!c->dead && c->out_bytes < XSS_OUT_STOP_READ && c->inlen >= XSS_HDR_LEN) {
                struct xsd_sockmsg h;
                uint32_t total;

                memcpy(&h, c->in, XSS_HDR_LEN);
                if (h.len > XENSTORE_PAYLOAD_MAX) {
                        xss_logf(c->s, XSS_LOG_WARN, "dom%u: message of %u bytes > %u", c->domid,
                                 h.len, XENSTORE_PAYLOAD_MAX);
                        xss_conn_close(c, "oversized message");
                        return;
                }
                if (h.type >= XS_TYPE_COUNT) {
                        xss_logf(c->s, XSS_LOG_WARN, "dom%u: message of unknown type %u", c->domid,
                                 h.type);
                        xss_conn_close(c, "malformed message header");
                        return;
                }
                total = XSS_HDR_LEN + h.len;
                if (c->inlen < total)
                        return;
                memcpy(body, c->in + XSS_HDR_LEN, h.len);
                body[h.len] = '\0';
                xss_handle(c, &h, body);
                memmove(c->in, c->in + total, c->inlen - total);
                c->inlen -= total;
        }
}

static void conn_readable(struct xss_conn *c, uint32_t events)
{
        ssize_t n;

        if (!c->reading || c->inlen == sizeof(c->in)) {
                /* Held back (replies pile up): only a hang-up matters now. */
                if (events & (EPOLLHUP | EPOLLERR))
                        xss_conn_close(c, "hang-up");
                return;
        }
        n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
        if (n == 0) {
                xss_conn_close(c, "end of file");
                return;
        }
        if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        xss_conn_close(c, strerror(errno));
                return;
        }
        c->inlen += (uint32_t)n;
        conn_process(c);
}

/* Send what the socket takes: 0, or -1 when the connection was closed. */
static int conn_send_queue(struct xss_conn *c)
{
        while (c->out_head) {
                struct xss_outmsg *m = c->out_head;
                ssize_t n =
                    send(c->fd, m->data + m->off, m->len - m->off, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        xss_conn_close(c, strerror(errno));
                        return -1;
                }
                m->off += (uint32_t)n;
                c->out_bytes -= (size_t)n;
                if (m->off < m->len)
                        continue;
                c->out_head = m->next;
                if (!c->out_head)
                        c->out_tail = &c->out_head;
                free(m);
        }
        return 0;
}

/* Send queued messages; requests held back while replies piled up are
 * handled as soon as the queue is short enough again. */
static void conn_flush(struct xss_conn *c)
{
        while (!c->dead) {
                uint32_t before = c->inlen;

                if (conn_send_queue(c) < 0)
                        return;
                if (c->out_bytes >= XSS_OUT_STOP_READ || c->inlen < XSS_HDR_LEN)
                        break;
                conn_process(c);
                if (c->inlen == before)
                        break; /* only an incomplete message is left */
        }
        conn_update_epoll(c);
}

static void flush_all(struct xss *s)
{
        struct xss_conn *c, *next;

        for (c = s->conns; c; c = next) {
                next = c->next;
                if (c->out_head || c->inlen >= XSS_HDR_LEN)
                        conn_flush(c);
        }
}

static void listener_free(struct xss_listener *l)
{
        if (!l)
                return;
        if (l->fd >= 0)
                close(l->fd);
        if (l->path)
                unlink(l->path);
        free(l->path);
        free(l);
}

static int listener_new(struct xss *s, const char *path, uint32_t domid, bool priv,
                        struct xss_listener **out)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct epoll_event ev = {.events = EPOLLIN};
        struct xss_listener *l = NULL;
        int rc = -ENAMETOOLONG;

        if (strlen(path) >= sizeof(sa.sun_path))
                goto out;
        strcpy(sa.sun_path, path);
        rc = -ENOMEM;
        l = calloc(1, sizeof(*l));
        if (!l || !(l->path = strdup(path)))
                goto out;
        l->ep.kind = XSS_EP_LISTEN;
        l->domid = domid;
        l->priv = priv;
        l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (l->fd < 0) {
                rc = -errno;
                goto out;
        }
        unlink(path); /* a stale socket of an earlier run */
        if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l->fd, 64) < 0) {
                rc = -errno;
                xss_logf(s, XSS_LOG_ERROR, "%s: bind/listen: %s", path, strerror(errno));
                free(l->path);
                l->path = NULL; /* not ours to unlink */
                goto out;
        }
        ev.data.ptr = &l->ep;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
                rc = -errno;
                goto out;
        }
        *out = l;
        l = NULL;
        rc = 0;
out:
        listener_free(l);
        return rc;
}

static void accept_one(struct xss *s, struct xss_listener *l)
{
        struct epoll_event ev = {.events = EPOLLIN};
        struct xss_domain *d = l->priv ? NULL : xss_domain_find(s, l->domid);
        struct xss_conn *c;
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        xss_logf(s, XSS_LOG_WARN, "%s: accept: %s", l->path, strerror(errno));
                return;
        }
        if (d && d->conns >= XSS_Q_CONNS) {
                xss_logf(s, XSS_LOG_WARN, "dom%u: too many connections, refusing one", l->domid);
                close(fd);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return;
        }
        c->ep.kind = XSS_EP_CONN;
        c->s = s;
        c->fd = fd;
        c->domid = l->domid;
        c->priv = l->priv;
        c->reading = true;
        c->out_tail = &c->out_head;
        snprintf(c->home, sizeof(c->home), "/local/domain/%u", c->domid);
        ev.data.ptr = &c->ep;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                xss_logf(s, XSS_LOG_ERROR, "%s: epoll_ctl: %s", l->path, strerror(errno));
                close(fd);
                free(c);
                return;
        }
        if (d)
                d->conns++;
        c->next = s->conns;
        s->conns = c;
}

static void reap(struct xss *s)
{
        while (s->dead) {
                struct xss_conn *c = s->dead;

                s->dead = c->next;
                free(c);
        }
        while (s->dead_lis) {
                struct xss_listener *l = s->dead_lis;

                s->dead_lis = l->next_dead;
                listener_free(l);
        }
}

int xss_create(struct xss **out, const char *dom0_sock)
{
        static struct xss_perm n0 = {.id = 0, .perm = 'n'};
        struct xss_perms p = {.n = 1, .p = &n0};
        struct xss *s = calloc(1, sizeof(*s));
        int rc = -ENOMEM;

        if (!s)
                goto out;
        s->epfd = -1;
        s->next_txid = 1;
        if (xss_perms_copy(&s->special_intro, &p) || xss_perms_copy(&s->special_release, &p))
                goto out;
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epfd < 0) {
                rc = -errno;
                goto out;
        }
        rc = xss_tree_init(s);
        if (rc)
                goto out;
        rc = listener_new(s, dom0_sock, 0, true, &s->dom0);
        if (rc) {
                xss_logf(s, XSS_LOG_ERROR, "%s: cannot listen: %s", dom0_sock, strerror(-rc));
                goto out;
        }
        s->sys.s = s;
        s->sys.priv = true;
        s->sys.fd = -1;
        s->sys.out_tail = &s->sys.out_head;
        snprintf(s->sys.home, sizeof(s->sys.home), "/local/domain/0");
        *out = s;
        s = NULL;
out:
        if (s)
                xss_destroy(s);
        return rc;
}

void xss_destroy(struct xss *s)
{
        if (!s)
                return;
        while (s->conns)
                xss_conn_close(s->conns, "server shutting down");
        while (s->domains) {
                struct xss_domain *d = s->domains;

                s->domains = d->next;
                listener_free(d->lis);
                free(d->name);
                free(d);
        }
        listener_free(s->dom0);
        reap(s);
        xss_htab_fini(&s->nodes, xss_node_free_hent);
        xss_perms_free(&s->special_intro);
        xss_perms_free(&s->special_release);
        if (s->epfd >= 0)
                close(s->epfd);
        free(s);
}

int xss_fd(struct xss *s)
{
        return s->epfd;
}

int xss_dispatch(struct xss *s)
{
        struct epoll_event evs[64];
        int n, i, rc = 0;

        s->in_dispatch++;
        n = epoll_wait(s->epfd, evs, 64, 0);
        if (n < 0) {
                rc = errno == EINTR ? 0 : -errno;
                n = 0;
        }
        for (i = 0; i < n; i++) {
                struct xss_ep *ep = evs[i].data.ptr;

                if (ep->kind == XSS_EP_LISTEN) {
                        struct xss_listener *l = (struct xss_listener *)ep;

                        if (l->fd >= 0)
                                accept_one(s, l);
                        continue;
                }
                struct xss_conn *c = (struct xss_conn *)ep;

                if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                        conn_readable(c, evs[i].events);
                if (!c->dead && (evs[i].events & EPOLLOUT))
                        conn_flush(c);
        }
        flush_all(s);
        s->in_dispatch--;
        if (!s->in_dispatch)
                reap(s);
        return rc;
}

int xss_domain_add(struct xss *s, uint32_t domid, const char *name, const char *sock_path)
{
        struct xss_view v = {.s = s, .conn = &s->sys};
        struct xss_perm own = {.id = domid, .perm = 'n'};
        struct xss_perms p = {.n = 1, .p = &own};
        char home[32], path[64], idstr[16];
        struct xss_domain *d = NULL;
        int rc = -EINVAL;

        if (domid == 0 || domid >= 0x7ff0 || !name || strlen(name) > XSS_Q_ENTRY_SIZE || !sock_path)
                goto out;
        rc = -EEXIST;
        if (xss_domain_find(s, domid))
                goto out;
        rc = -ENOMEM;
        d = calloc(1, sizeof(*d));
        if (!d || !(d->name = strdup(name)))
                goto out;
        d->domid = domid;
        rc = listener_new(s, sock_path, domid, false, &d->lis);
        if (rc) {
                xss_logf(s, XSS_LOG_ERROR, "dom%u: cannot listen on %s: %s", domid, sock_path,
                         strerror(-rc));
                goto out;
        }
        d->next = s->domains;
        s->domains = d;
        snprintf(home, sizeof(home), "/local/domain/%u", domid);
        snprintf(idstr, sizeof(idstr), "%u", domid);
        rc = xss_tree_write(&v, home, "", 0, true);
        if (!rc)
                rc = xss_tree_set_perms(&v, home, &p);
        snprintf(path, sizeof(path), "%s/domid", home);
        if (!rc)
                rc = xss_tree_write(&v, path, idstr, (uint32_t)strlen(idstr), false);
        snprintf(path, sizeof(path), "%s/name", home);
        if (!rc)
                rc = xss_tree_write(&v, path, name, (uint32_t)strlen(name), false);
        if (rc) {
                xss_logf(s, XSS_LOG_ERROR, "dom%u: cannot create %s: %s", domid, home,
                         strerror(-rc));
                d = NULL; /* linked: xss_domain_remove cleans up */
                xss_domain_remove(s, domid);
                goto out;
        }
        xss_fire_special(s, "@introduceDomain", &s->special_intro);
        flush_all(s);
        d = NULL;
out:
        if (d) {
                free(d->name);
                free(d);
        }
        return rc;
}

int xss_domain_release(struct xss *s, uint32_t domid)
{
        struct xss_view v = {.s = s, .conn = &s->sys};
        struct xss_domain *d = xss_domain_find(s, domid), **pp;
        struct xss_conn *c, *next;
        char home[32];

        if (!d)
                return -ENOENT;
        for (c = s->conns; c; c = next) {
                next = c->next;
                if (!c->priv && c->domid == domid)
                        xss_conn_close(c, "domain removed");
        }
        snprintf(home, sizeof(home), "/local/domain/%u", domid);
        xss_tree_rm(&v, home);
        for (pp = &s->domains; *pp; pp = &(*pp)->next) {
                if (*pp == d) {
                        *pp = d->next;
                        break;
                }
        }
        /* The listener may have an event pending in this dispatch round. */
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, d->lis->fd, NULL);
        close(d->lis->fd);
        d->lis->fd = -1;
        d->lis->next_dead = s->dead_lis;
        s->dead_lis = d->lis;
        free(d->name);
        free(d);
        xss_fire_special(s, "@releaseDomain", &s->special_release);
        return 0;
}

int xss_domain_remove(struct xss *s, uint32_t domid)
{
        int rc = xss_domain_release(s, domid);

        flush_all(s);
        if (!s->in_dispatch)
                reap(s);
        return rc;
}
