/* stream_wire.c: the "stream" wire type: any class's messages, in order
 * and reliably, over one TCP (or Unix) connection between two hosts, for
 * classes that need an ordered, reliable wire with regions across hosts
 * (the display class's remote console: wire_needs in devices/display).
 *
 * Parameters (per end: end0.K / end1.K in the topology, see bn_wire.h):
 *   listen=ADDR   this end listens on ADDR ("tcp:HOST:PORT" or "unix:PATH",
 *                 the nbd wire's addresses) and takes the newest connection
 *   peer.listen   (the other end's listen) this end dials it, again every
 *                 STREAM_REDIAL_MS while it is not connected
 * Exactly one of them is given to each end.
 *
 * On the connection each message is a frame: type (2 bytes), hdr_len (2),
 * len (4), little endian, then hdr_len bytes of hdr and len of data. A
 * frame the peer sends out of bounds (type 0, hdr_len > BN_WIRE_HDR_MAX,
 * len > BN_WIRE_DATA_MAX) ends the connection: a stream cannot be resynced.
 * While no connection is up, send accepts nothing and linked is false;
 * what was accepted but not yet written when a connection is lost goes
 * with it (the link went down: reliable as bn_wire.h says), and a class
 * starts again when the link comes back up (port_link).
 *
 * fd(port) is an epoll set of the listening socket, the connection and an
 * eventfd; the eventfd is made readable while whole frames wait in the
 * receive buffer, when the link changed, and when room came back after a
 * short send, so that the framework calls recv, linked and the class's
 * port_writable. Everything runs on port->loop. */
#include "stream_wire.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "nbd_sock.h"

#define STREAM_FRAME_HDR 8u
#define STREAM_RX_CAP    (4u << 20) /* receive buffer: many frames per read */
#define STREAM_TX_CAP    (4u << 20) /* accepted and not yet written */
#define STREAM_REDIAL_MS 200u

struct stream_priv {
        int efd;  /* epoll set: fd(port) */
        int evfd; /* "look again" */
        int lfd;  /* listening socket, -1: the dialing end */
        int cfd;  /* the connection, -1: none */
        bool connecting, up, refused, want_out;
        char addr[256], unix_path[108], why[160];
        uint8_t *rx, *tx;
        size_t rx_off, rx_len, tx_off, tx_len;
        struct bn_timer *redial;
        struct bn_wire_stats st;
};

static void poke(struct stream_priv *s)
{
        uint64_t one = 1;
        if (write(s->evfd, &one, sizeof(one)) < 0) {
                /* the counter is already non-zero: readable anyway */
        }
}

static void conn_watch(struct stream_priv *s)
{
        struct epoll_event e = {.events = EPOLLIN | (s->connecting || s->want_out ? EPOLLOUT : 0),
                                .data.fd = s->cfd};
        epoll_ctl(s->efd, EPOLL_CTL_MOD, s->cfd, &e);
}

static void conn_lost(struct bn_wire_port *port, const char *why)
{
        struct stream_priv *s = port->priv;
        if (s->cfd < 0)
                return;
        epoll_ctl(s->efd, EPOLL_CTL_DEL, s->cfd, NULL);
        close(s->cfd);
        s->cfd = -1;
        if (s->up)
                bn_warn(port->ep->name, "wire %s: connection lost: %s", port->wire, why);
        snprintf(s->why, sizeof(s->why), "%s: %s", s->addr, why);
        s->up = s->connecting = s->want_out = false;
        s->rx_off = s->rx_len = s->tx_off = s->tx_len = 0;
        poke(s); /* the framework asks linked again */
}

static int conn_add(struct stream_priv *s, int fd, bool connecting)
{
        struct epoll_event e = {.events = EPOLLIN | (connecting ? EPOLLOUT : 0), .data.fd = fd};
        if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &e) < 0) {
                int rc = -errno;
                close(fd);
                return rc;
        }
        s->cfd = fd;
        s->connecting = connecting;
        s->up = !connecting;
        poke(s);
        return 0;
}

static void redial(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        (void)loop;
        (void)t;
        struct bn_wire_port *port = arg;
        struct stream_priv *s = port->priv;
        bool in_progress = false;
        if (s->cfd >= 0)
                return;
        int fd = bn_nbd_dial(s->addr, &in_progress);
        if (fd < 0) {
                snprintf(s->why, sizeof(s->why), "dialing %s: %s", s->addr, strerror(-fd));
                return;
        }
        if (conn_add(s, fd, in_progress) == 0 && !in_progress)
                bn_info(port->ep->name, "wire %s: connected to %s", port->wire, s->addr);
}

/* Write what is accepted; false when the connection broke. */
static bool tx_push(struct bn_wire_port *port)
{
        struct stream_priv *s = port->priv;
        while (s->up && s->tx_off < s->tx_len) {
                ssize_t n = send(s->cfd, s->tx + s->tx_off, s->tx_len - s->tx_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (n <= 0) {
                        conn_lost(port, n < 0 ? strerror(errno) : "closed");
                        return false;
                }
                s->tx_off += (size_t)n;
        }
        if (s->tx_off == s->tx_len) {
                s->tx_off = s->tx_len = 0;
                if (s->refused) { /* room again: the class's port_writable */
                        s->refused = false;
                        poke(s);
                }
        }
        bool out = s->tx_off < s->tx_len;
        if (s->up && out != s->want_out) {
                s->want_out = out;
                conn_watch(s);
        }
        return true;
}

static int stream_check(const struct bn_params *p, char *err, size_t errlen)
{
        static const char *const known[] = {"listen", "peer.listen", NULL};
        int rc = bn_params_check_known(p, known, err, errlen);
        if (rc)
                return rc;
        const char *l = bn_params_get(p, "listen"), *pl = bn_params_get(p, "peer.listen");
        if (!l == !pl) {
                snprintf(err, errlen,
                         "wire type stream: exactly one end needs 'listen' (an address "
                         "\"tcp:HOST:PORT\" or \"unix:PATH\"), the other dials it");
                return -EINVAL;
        }
        return 0;
}

static void stream_close(struct bn_wire_port *port)
{
        struct stream_priv *s = port->priv;
        if (s->redial)
                bn_loop_timer_cancel(port->loop, s->redial);
        s->redial = NULL;
        if (s->cfd >= 0)
                close(s->cfd);
        if (s->lfd >= 0)
                close(s->lfd);
        if (s->unix_path[0])
                unlink(s->unix_path);
        if (s->efd >= 0)
                close(s->efd);
        if (s->evfd >= 0)
                close(s->evfd);
        free(s->rx);
        free(s->tx);
        s->rx = s->tx = NULL;
        s->cfd = s->lfd = s->efd = s->evfd = -1;
}

static int stream_open(struct bn_wire_port *port, const struct bn_params *p, char *err,
                       size_t errlen)
{
        struct stream_priv *s = port->priv;
        struct epoll_event e = {.events = EPOLLIN};
        int rc = stream_check(p, err, errlen), tcp_port = 0;
        s->efd = s->evfd = s->lfd = s->cfd = -1;
        if (rc)
                return rc;
        const char *l = bn_params_get(p, "listen");
        snprintf(s->addr, sizeof(s->addr), "%s", l ? l : bn_params_get(p, "peer.listen"));
        snprintf(s->why, sizeof(s->why), "%s %s", l ? "waiting for the peer on" : "dialing",
                 s->addr);
        s->rx = malloc(STREAM_RX_CAP);
        s->tx = malloc(STREAM_TX_CAP);
        s->efd = epoll_create1(EPOLL_CLOEXEC);
        s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!s->rx || !s->tx || s->efd < 0 || s->evfd < 0) {
                snprintf(err, errlen, "wire type stream: out of memory or descriptors");
                rc = -ENOMEM;
                goto out;
        }
        e.data.fd = s->evfd;
        epoll_ctl(s->efd, EPOLL_CTL_ADD, s->evfd, &e);
        if (l) {
                s->lfd = bn_nbd_listen(l, false, &tcp_port, s->unix_path, sizeof(s->unix_path));
                if (s->lfd < 0) {
                        rc = s->lfd;
                        s->lfd = -1;
                        snprintf(err, errlen, "wire type stream: cannot listen on '%s': %s", l,
                                 rc == -EINVAL ? "not \"tcp:HOST:PORT\" or \"unix:PATH\""
                                               : strerror(-rc));
                        goto out;
                }
                e.data.fd = s->lfd;
                epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &e);
        } else if ((rc = bn_loop_timer_add(port->loop, 0, STREAM_REDIAL_MS, redial, port,
                                           &s->redial))) {
                snprintf(err, errlen, "wire type stream: no timer: %s", strerror(-rc));
                goto out;
        }
        rc = 0;
out:
        if (rc)
                stream_close(port);
        return rc;
}

static int stream_fd(struct bn_wire_port *port)
{
        return ((struct stream_priv *)port->priv)->efd;
}

static bool stream_linked(struct bn_wire_port *port)
{
        return ((struct stream_priv *)port->priv)->up;
}

static void stream_link_why(struct bn_wire_port *port, char *buf, size_t len)
{
        snprintf(buf, len, "%s", ((struct stream_priv *)port->priv)->why);
}

static void stream_flush(struct bn_wire_port *port)
{
        tx_push(port);
}

static int stream_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n)
{
        struct stream_priv *s = port->priv;
        unsigned i;
        for (i = 0; s->up && i < n; i++) {
                const struct bn_wire_msg *m = &msgs[i];
                size_t need = STREAM_FRAME_HDR + m->hdr_len + m->len;
                if (m->hdr_len > BN_WIRE_HDR_MAX || m->len > BN_WIRE_DATA_MAX) {
                        s->st.drop_too_big++;
                        continue; /* taken, and counted: it can never go */
                }
                if (s->tx_off && s->tx_len + need > STREAM_TX_CAP) { /* room at the front */
                        memmove(s->tx, s->tx + s->tx_off, s->tx_len - s->tx_off);
                        s->tx_len -= s->tx_off;
                        s->tx_off = 0;
                }
                if (s->tx_len + need > STREAM_TX_CAP)
                        break;
                uint8_t *f = s->tx + s->tx_len;
                uint16_t type = htole16(m->type), hl = htole16(m->hdr_len);
                uint32_t len = htole32(m->len);
                memcpy(f, &type, 2);
                memcpy(f + 2, &hl, 2);
                memcpy(f + 4, &len, 4);
                memcpy(f + STREAM_FRAME_HDR, m->hdr, m->hdr_len);
                if (m->len)
                        memcpy(f + STREAM_FRAME_HDR + m->hdr_len, m->data, m->len);
                s->tx_len += need;
                s->st.msgs_out++;
                s->st.bytes_out += m->len;
        }
        if (i < n)
                s->refused = true;
        return (int)i;
}

static void take_events(struct bn_wire_port *port)
{
        struct stream_priv *s = port->priv;
        struct epoll_event ev[4];
        uint64_t v;
        int n = epoll_wait(s->efd, ev, 4, 0);
        for (int i = 0; i < n; i++) {
                int fd = ev[i].data.fd;
                if (fd == s->evfd) {
                        if (read(s->evfd, &v, sizeof(v)) < 0) {
                                /* nothing to take */
                        }
                } else if (fd == s->lfd) {
                        int c = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                        if (c < 0)
                                continue;
                        conn_lost(port, "replaced by a new connection");
                        if (conn_add(s, c, false) == 0)
                                bn_info(port->ep->name, "wire %s: a peer connected on %s",
                                        port->wire, s->addr);
                } else if (fd == s->cfd && s->connecting &&
                           (ev[i].events & (EPOLLOUT | EPOLLERR))) {
                        int e = 0;
                        socklen_t el = sizeof(e);
                        getsockopt(s->cfd, SOL_SOCKET, SO_ERROR, &e, &el);
                        if (e) {
                                conn_lost(port, strerror(e));
                                continue;
                        }
                        s->connecting = false;
                        s->up = true;
                        conn_watch(s);
                        bn_info(port->ep->name, "wire %s: connected to %s", port->wire, s->addr);
                } else if (fd == s->cfd && (ev[i].events & EPOLLOUT)) {
                        tx_push(port);
                }
        }
}

/* A whole frame at rx + off? Its size, 0 when not yet, -1 malformed. */
static long frame_at(const struct stream_priv *s, size_t off, struct bn_wire_msg *m)
{
        uint16_t type, hl;
        uint32_t len;
        if (s->rx_len - off < STREAM_FRAME_HDR)
                return 0;
        memcpy(&type, s->rx + off, 2);
        memcpy(&hl, s->rx + off + 2, 2);
        memcpy(&len, s->rx + off + 4, 4);
        type = le16toh(type);
        hl = le16toh(hl);
        len = le32toh(len);
        if (!type || hl > BN_WIRE_HDR_MAX || len > BN_WIRE_DATA_MAX)
                return -1;
        size_t size = STREAM_FRAME_HDR + hl + len;
        if (s->rx_len - off < size)
                return 0;
        memset(m, 0, sizeof(*m));
        m->type = type;
        m->hdr_len = hl;
        memcpy(m->hdr, s->rx + off + STREAM_FRAME_HDR, hl);
        m->len = len;
        m->data = s->rx + off + STREAM_FRAME_HDR + hl;
        return (long)size;
}

static int stream_recv(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned max)
{
        struct stream_priv *s = port->priv;
        struct bn_wire_msg probe;
        unsigned n = 0;
        take_events(port);
        if (s->cfd < 0 || !s->up)
                return 0;
        /* what the last recv returned is done with: room at the front */
        if (s->rx_off) {
                memmove(s->rx, s->rx + s->rx_off, s->rx_len - s->rx_off);
                s->rx_len -= s->rx_off;
                s->rx_off = 0;
        }
        if (s->rx_len < STREAM_RX_CAP) {
                ssize_t r =
                    recv(s->cfd, s->rx + s->rx_len, STREAM_RX_CAP - s->rx_len, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                        conn_lost(port, r == 0 ? "the peer closed it" : strerror(errno));
                        return 0;
                }
                if (r > 0)
                        s->rx_len += (size_t)r;
        }
        while (n < max) {
                long size = frame_at(s, s->rx_off, &msgs[n]);
                if (size < 0) {
                        s->st.drop_malformed++;
                        conn_lost(port, "a malformed frame from the peer");
                        return 0; /* what this recv returned lay in the buffer: none */
                }
                if (!size)
                        break;
                s->rx_off += (size_t)size;
                s->st.msgs_in++;
                s->st.bytes_in += msgs[n].len;
                n++;
        }
        if (frame_at(s, s->rx_off, &probe) != 0)
                poke(s); /* more whole frames (or a bad one) wait: look again */
        return (int)n;
}

static void stream_stats(struct bn_wire_port *port, struct bn_wire_stats *st)
{
        *st = ((struct stream_priv *)port->priv)->st;
}

const struct bn_wire_class bn_wire_stream_class = {
    .name = "stream",
    .priv_size = sizeof(struct stream_priv),
    .caps = {.ordered = true,
             .reliable = true,
             .regions = true,
             .gso = true,
             .control = true,
             .max_msg = BN_WIRE_DATA_MAX,
             .mtu = 0},
    .open = stream_open,
    .close = stream_close,
    .send = stream_send,
    .recv = stream_recv,
    .flush = stream_flush,
    .fd = stream_fd,
    .stats = stream_stats,
    .linked = stream_linked,
    .check = stream_check,
    .link_why = stream_link_why,
};
