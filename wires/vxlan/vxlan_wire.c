/* vxlan_wire.c: the "vxlan" wire type (RFC 7348 in userspace), carrying
 * the NIC class's frames (BN_MSG_NET_FRAME) to another host, or to Linux's
 * own VXLAN, as UDP datagrams.
 *
 * Parameters (per end: end0.K / end1.K in the topology, see bn_wire.h):
 *   vni=N        the wire's VNI, 0..16777215 (required)
 *   peer.addr=A  the other end's underlay IPv4 address (required)
 *   addr=A       this end's underlay address to bind (default 0.0.0.0)
 *   port=P       this end's UDP port (default 4789)
 *   peer.port=P  the other end's UDP port (default: port)
 *   mtu=M        the largest inner payload of a frame, 68..9000 (default
 *                1450: an underlay MTU of 1500 less the 50 bytes VXLAN costs)
 *
 * One UDP socket per (addr, port) serves every VNI there: the class's
 * context keeps the sockets and their ports by VNI and runs its own
 * receive loop (one thread of its own), which reads batches with recvmmsg,
 * validates each datagram (length, flags, a known VNI, the peer's source
 * address) and copies its frame into the port's hand-off queue, waking the
 * port's loop through the port's eventfd (the fd the framework polls). A
 * port is only touched on its own loop; the queue and the table are under
 * locks. The port's loop takes the queued frames and merges consecutive TCP
 * segments of one flow into one GSO frame (software GRO, corm_gso.h: one
 * 64 KiB frame for the bridge and every later hop instead of 45; off with
 * BN_VXLAN_GRO=0 in the environment). Sending runs on the port's loop: a
 * GSO or partial-checksum frame is segmented and checksummed in software
 * first (corm_gso.c: the other end may be Linux, which carries plain
 * Ethernet), each frame gets its header and the batch leaves with one
 * sendmmsg (vxlan_tx.c: with UDP_SEGMENT where the kernel has it); the
 * socket receives with UDP_GRO.
 *
 * Capabilities: unordered, unreliable (the datagrams of a batch that meets
 * a full socket buffer are dropped, counted as drop_full; then the port
 * takes nothing until the socket has room, polled on the port's loop, which
 * tells the framework with bn_wire_port_writable), no GSO metadata (the peer gets plain frames), no
 * control messages (the peer may be Linux), the MTU above. Drops are counted by reason:
 * drop_too_big (a frame over the MTU), drop_malformed (datagrams with this port's VNI that are
 * short, have bad flags or come from another source than the peer; frames that are not frames),
 * drop_full (the socket buffer full on sending; on receiving, a hand-off queue that stayed full
 * for VX_STALL_MS: until then the receive loop stops reading, back-pressure, so the kernel's
 * socket buffer holds the burst instead of us dropping it), and each malformed one by its reason
 * in the stats' detail (short, bad_flags, not_from_peer, not_a_frame); datagrams that belong to
 * no port (shorter than a header, an unknown VNI) are counted by their socket, shown on each of
 * its ports as socket_short and socket_unknown_vni, and logged when it closes.
 */
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_net.h"
#include "bn_wire.h"
#include "corm_gso.h"
#include "vxlan_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const vx_known[] = {"vni", "addr", "port", "mtu", NULL};

/* ---- class context: sockets and the receive loop ------------------------ */

static int vx_class_init(const struct bn_wire_env *env, void **class_ctx)
{
        struct vx_ctx *c = calloc(1, sizeof(*c));
        int rc;

        (void)env; /* the receive loop is our own: no device waits behind it */
        if (!c)
                return -ENOMEM;
        rc = bn_workers_start(&c->rx, 1, "vxlan-rx");
        if (rc) {
                free(c);
                return rc;
        }
        pthread_mutex_init(&c->mu, NULL);
        *class_ctx = c;
        return 0;
}

static void vx_class_fini(void *class_ctx)
{
        struct vx_ctx *c = class_ctx;

        if (!c)
                return;
        bn_workers_stop(c->rx); /* every port closed: no socket is left */
        pthread_mutex_destroy(&c->mu);
        free(c);
}

/* On the receive loop: one datagram for sock. False: its port's hand-off
 * queue is full (the socket is marked stalled under the queue's lock, so
 * that the port's next release sees it); with s->force the datagram is
 * dropped instead, counted as drop_full. */
static bool deliver(struct vx_sock *s, const uint8_t *d, size_t len, const struct sockaddr_in *src)
{
        enum bn_vxlan_bad why;
        struct vx_port *p;
        uint32_t vni = 0;
        bool wake = false, done = true;

        if (len < BN_VXLAN_HLEN) {
                atomic_fetch_add(&s->bad[BN_VXLAN_SHORT], 1);
                return true;
        }
        /* whose is it? (the VNI's place, before we know the rest is right) */
        vni = (uint32_t)d[4] << 16 | (uint32_t)d[5] << 8 | d[6];
        for (p = s->ports; p && p->vni != vni; p = p->next)
                ;
        if (!p) {
                atomic_fetch_add(&s->unknown_vni, 1);
                return true;
        }
        if ((why = bn_vxlan_parse(d, len, &vni)) != BN_VXLAN_OK) {
                /* this port's, malformed */
                atomic_fetch_add(why == BN_VXLAN_SHORT ? &p->rx_short : &p->rx_flags, 1);
                return true;
        }
        if (src->sin_addr.s_addr != p->peer.sin_addr.s_addr) {
                atomic_fetch_add(&p->rx_foreign, 1); /* not the peer's: forged or stray */
                return true;
        }
        len -= BN_VXLAN_HLEN;
        if (len > p->slot) { /* over the MTU: not a frame this wire carries */
                atomic_fetch_add(&p->rx_too_big, 1);
                return true;
        }
        pthread_mutex_lock(&p->qmu);
        if (p->head - p->tail >= p->nq) {
                if (s->force)
                        atomic_fetch_add(&p->rx_full, 1);
                else
                        atomic_store(&s->stalled, true);
                done = s->force;
        } else {
                wake = p->head == p->rpos;
                memcpy(p->q + (size_t)(p->head % p->nq) * p->slot, d + BN_VXLAN_HLEN, len);
                p->qlen[p->head % p->nq] = (uint32_t)len;
                p->head++;
        }
        pthread_mutex_unlock(&p->qmu);
        if (wake) {
                uint64_t one = 1;
                if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                        bn_warn(p->port->wire, "vxlan: cannot wake the port: %s", strerror(errno));
        }
        return done;
}

/* Message s->pi of the batch from byte s->poff: one datagram, or with
 * UDP_GRO several of one size back to back (the last may be shorter), each
 * validated on its own. False: stopped at a full queue (s->poff is where). */
static bool deliver_msg(struct vx_sock *s)
{
        struct mmsghdr *m = &s->mm[s->pi];
        const uint8_t *d = s->buf + (size_t)s->pi * s->bufsz;
        size_t len = m->msg_len, gso = 0;
        struct cmsghdr *cm;

        if (m->msg_hdr.msg_flags & MSG_TRUNC) {
                atomic_fetch_add(&s->bad[BN_VXLAN_SHORT], 1);
                return true;
        }
        for (cm = CMSG_FIRSTHDR(&m->msg_hdr); cm; cm = CMSG_NXTHDR(&m->msg_hdr, cm))
                if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
                    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
                        int g;
                        memcpy(&g, CMSG_DATA(cm), sizeof(g));
                        gso = g > 0 ? (size_t)g : 0;
                }
        if (!gso || gso >= len)
                return deliver(s, d, len, &s->src[s->pi]);
        for (; s->poff < len; s->poff += gso)
                if (!deliver(s, d + s->poff, len - s->poff < gso ? len - s->poff : gso,
                             &s->src[s->pi]))
                        return false;
        return true;
}

/* Hand out what is left of the batch (under the table's lock: the table of
 * ports may change under us, ports leave it before they close). False: a
 * port's queue is full. */
static bool deliver_batch(struct vx_sock *s)
{
        bool ok = true;

        pthread_mutex_lock(&s->ctx->mu);
        for (; s->pi < s->pn && (ok = deliver_msg(s)); s->pi++)
                s->poff = 0;
        pthread_mutex_unlock(&s->ctx->mu);
        return ok;
}

static void sock_stall_expired(struct bn_loop *loop, struct bn_timer *t, void *arg);

/* A port's queue is full: stop polling the socket (the kernel's buffer
 * holds what comes) until a port frees slots, or VX_STALL_MS pass without
 * one (the clock starts again at each stall: a port that drains slowly is
 * waited for). */
static void sock_stall(struct vx_sock *s, struct bn_loop *loop)
{
        if (s->stall_t)
                bn_loop_timer_cancel(loop, s->stall_t);
        s->stall_t = NULL;
        if (!s->unpolled)
                bn_loop_mod_fd(loop, s->fd, 0);
        s->unpolled = true;
        if (bn_loop_timer_add(loop, VX_STALL_MS, 0, sock_stall_expired, s, &s->stall_t) < 0)
                s->stall_t = NULL; /* then only a release resumes */
}

static void sock_unstall(struct vx_sock *s, struct bn_loop *loop)
{
        if (!s->unpolled)
                return;
        s->unpolled = false;
        if (s->stall_t)
                bn_loop_timer_cancel(loop, s->stall_t);
        s->stall_t = NULL;
        bn_loop_mod_fd(loop, s->fd, EPOLLIN);
}

/* Read and hand out batches, a bounded number per call. */
static void sock_drain(struct vx_sock *s, struct bn_loop *loop)
{
        for (int rounds = 0; rounds < 8; rounds++) {
                if (s->pi == s->pn) {
                        memset(s->mm, 0, sizeof(s->mm));
                        for (int i = 0; i < VX_BATCH; i++) {
                                s->iov[i] = (struct iovec){s->buf + (size_t)i * s->bufsz, s->bufsz};
                                s->mm[i].msg_hdr.msg_iov = &s->iov[i];
                                s->mm[i].msg_hdr.msg_iovlen = 1;
                                s->mm[i].msg_hdr.msg_name = &s->src[i];
                                s->mm[i].msg_hdr.msg_namelen = sizeof(s->src[i]);
                                if (s->gro) {
                                        s->mm[i].msg_hdr.msg_control = s->ctl[i].buf;
                                        s->mm[i].msg_hdr.msg_controllen = sizeof(s->ctl[i].buf);
                                }
                        }
                        int n = recvmmsg(s->fd, s->mm, VX_BATCH, MSG_DONTWAIT, NULL);
                        if (n <= 0)
                                break;
                        s->pn = (unsigned)n;
                        s->pi = 0;
                        s->poff = 0;
                }
                if (!deliver_batch(s)) {
                        sock_stall(s, loop);
                        return;
                }
                if (s->pn < VX_BATCH)
                        break;
        }
        sock_unstall(s, loop);
}

/* The receive loop's: a port freed slots (queued by vx_release). */
static void sock_resume(void *arg)
{
        struct vx_sock *s = arg;

        atomic_store(&s->resume_queued, false);
        if (!atomic_exchange(&s->stalled, false))
                return;
        sock_drain(s, bn_workers_loop(s->ctx->rx, 0));
}

/* VX_STALL_MS passed and a port's queue is still full (its loop is stuck
 * or gone): drop what waits for it, drop_full, so the others go on. */
static void sock_stall_expired(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct vx_sock *s = arg;

        (void)t;
        s->stall_t = NULL; /* a one-shot timer: freed after we return */
        atomic_store(&s->stalled, false);
        s->force = true;
        deliver_batch(s);
        s->force = false;
        sock_drain(s, loop);
}

static void sock_readable(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct vx_sock *s = arg;

        (void)fd;
        (void)events;
        if (!s->unpolled)
                sock_drain(s, loop);
}

/* UDP_SEGMENT and UDP_GRO where the kernel has them (Linux 4.18, 5.0), unless
 * the environment says BN_VXLAN_OFFLOAD=0 (neither) or =gso (no UDP_GRO), for
 * measuring without them. */
static void sock_offload(struct vx_sock *s)
{
        const char *env = getenv("BN_VXLAN_OFFLOAD");
        int one = 1, zero = 0;

        s->bufsz = VX_DGRAM_MAX;
        if (env && strcmp(env, "0") == 0)
                return;
        /* a size of 0 turns segmentation off for the socket: each send says its own */
        s->gso = setsockopt(s->fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
        s->gro = !(env && strcmp(env, "gso") == 0) &&
                 setsockopt(s->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
        if (s->gro)
                s->bufsz = VX_GRO_MAX;
}

/* The socket for (addr, port), made when it is the first (*fresh: the
 * caller has it polled, after dropping c->mu); under c->mu. */
static int sock_get(struct vx_ctx *c, const struct sockaddr_in *b, struct vx_sock **out,
                    bool *fresh, char *err, size_t errlen)
{
        struct vx_sock *s;
        int one = 1, bufsz = 4 << 20, rcvbuf = 16 << 20, rc;

        for (s = c->socks; s; s = s->next)
                if (s->bind.sin_addr.s_addr == b->sin_addr.s_addr &&
                    s->bind.sin_port == b->sin_port)
                        break;
        *fresh = false;
        if (s) {
                s->refs++;
                *out = s;
                return 0;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                rc = -ENOMEM;
                goto fail;
        }
        s->ctx = c;
        s->fd = -1;
        s->bind = *b;
        s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                rc = -errno;
                goto fail;
        }
        sock_offload(s);
        if (!(s->buf = malloc(VX_BATCH * s->bufsz))) {
                rc = -ENOMEM;
                goto fail;
        }
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* an address that comes and goes (a vpn tunnel's): bind before it is there */
        setsockopt(s->fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
        /* room for bursts: a guest's 64 KiB GSO frame is 45 datagrams */
        if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
                setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
        /* and the kernel's buffer holds what comes while a port's hand-off
         * queue is full (back-pressure: see sock_stall): 40 ms at 3 Gbit/s */
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
                setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (bind(s->fd, (const struct sockaddr *)b, sizeof(*b)) < 0) {
                rc = -errno;
                snprintf(err, errlen, "vxlan: cannot bind UDP %s:%u: %s", inet_ntoa(b->sin_addr),
                         ntohs(b->sin_port), strerror(errno));
                goto fail;
        }
        *fresh = true;
        s->refs = 1;
        s->next = c->socks;
        c->socks = s;
        *out = s;
        return 0;
fail:
        if (s && s->fd >= 0)
                close(s->fd);
        if (s)
                free(s->buf);
        free(s);
        return rc;
}

struct rx_call {
        struct vx_sock *s;
        bool add;
        int rc;
};

static void rx_poll_on_loop(void *arg)
{
        struct rx_call *r = arg;
        struct bn_loop *l = bn_workers_loop(r->s->ctx->rx, 0);

        if (!r->add && r->s->stall_t)
                bn_loop_timer_cancel(l, r->s->stall_t);
        r->s->stall_t = NULL;
        r->rc = r->add ? bn_loop_add_fd(l, r->s->fd, EPOLLIN, sock_readable, r->s)
                       : bn_loop_del_fd(l, r->s->fd);
}

/* Start or stop polling s on the receive loop (never under ctx->mu: the
 * loop takes it). */
static int rx_poll(struct vx_sock *s, bool add)
{
        struct rx_call r = {.s = s, .add = add};
        int rc = bn_loop_call_wait(bn_workers_loop(s->ctx->rx, 0), rx_poll_on_loop, &r);

        return rc ? rc : r.rc;
}

/* Take p out of its socket's table; the last port closes the socket. */
static void sock_put(struct vx_port *p)
{
        struct vx_ctx *c = p->ctx;
        struct vx_sock *s = p->sock, **sp;
        struct vx_port **pp;
        bool last = false;

        if (!s)
                return;
        pthread_mutex_lock(&c->mu);
        for (pp = &s->ports; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        if (--s->refs == 0) {
                for (sp = &c->socks; *sp; sp = &(*sp)->next)
                        if (*sp == s) {
                                *sp = s->next;
                                break;
                        }
                last = true;
        }
        pthread_mutex_unlock(&c->mu);
        p->sock = NULL;
        if (!last)
                return;
        rx_poll(s, false); /* after this no callback of s runs */
        if (atomic_load(&s->unknown_vni) || atomic_load(&s->bad[BN_VXLAN_SHORT]))
                bn_info("vxlan",
                        "UDP %s:%u closed: dropped %llu datagram(s) of unknown VNIs, "
                        "%llu shorter than a header",
                        inet_ntoa(s->bind.sin_addr), ntohs(s->bind.sin_port),
                        (unsigned long long)atomic_load(&s->unknown_vni),
                        (unsigned long long)atomic_load(&s->bad[BN_VXLAN_SHORT]));
        close(s->fd);
        free(s->buf);
        free(s);
}

/* ---- parameters ----------------------------------------------------------- */

struct vx_params {
        uint64_t vni, port, peer_port, mtu;
        struct sockaddr_in bind, peer;
};

static int addr_param(const struct bn_params *params, const char *key, bool required,
                      struct in_addr *a, char *err, size_t errlen)
{
        const char *s;
        int rc = bn_params_get_str(params, key, required, "0.0.0.0", &s, err, errlen);

        if (rc < 0)
                return rc;
        if (inet_pton(AF_INET, s, a) != 1) {
                snprintf(err, errlen, "parameter '%s': '%s' is not an IPv4 address", key, s);
                return -EINVAL;
        }
        return 0;
}

static int vx_parse(const struct bn_params *params, struct vx_params *v, char *err, size_t errlen)
{
        int rc;

        memset(v, 0, sizeof(*v));
        if ((rc = bn_params_check_known(params, vx_known, err, errlen)) < 0 ||
            (rc = bn_params_get_uint(params, "vni", true, 0, 0, BN_VXLAN_VNI_MAX, &v->vni, err,
                                     errlen)) < 0 ||
            (rc = bn_params_get_uint(params, "port", false, BN_VXLAN_PORT, 1, 65535, &v->port, err,
                                     errlen)) < 0 ||
            (rc = bn_params_get_uint(params, "peer.port", false, v->port, 1, 65535, &v->peer_port,
                                     err, errlen)) < 0 ||
            (rc = bn_params_get_uint(params, "mtu", false, 1500 - BN_VXLAN_OVERHEAD, 68, 9000,
                                     &v->mtu, err, errlen)) < 0 ||
            (rc = addr_param(params, "addr", false, &v->bind.sin_addr, err, errlen)) < 0 ||
            (rc = addr_param(params, "peer.addr", true, &v->peer.sin_addr, err, errlen)) < 0)
                return rc;
        v->bind.sin_family = v->peer.sin_family = AF_INET;
        v->bind.sin_port = htons((uint16_t)v->port);
        v->peer.sin_port = htons((uint16_t)v->peer_port);
        return 0;
}

/* The controller runs it on each end's params: a wire whose other end is
 * not a banana end (Linux's VXLAN) is still checked on the end that is. */
static int vx_check(const struct bn_params *params, char *err, size_t errlen)
{
        struct vx_params v;

        return vx_parse(params, &v, err, errlen);
}

/* ---- ports ------------------------------------------------------------------ */

static void vx_close(struct bn_wire_port *port);

static int vx_open(struct bn_wire_port *port, const struct bn_params *params, char *err,
                   size_t errlen)
{
        struct vx_port *p = port->priv;
        struct vx_ctx *c = port->class_ctx;
        struct vx_params v;
        struct vx_port *o;
        bool fresh = false;
        int rc;

        p->efd = p->wfd = -1;
        p->port = port;
        p->ctx = c;
        pthread_mutex_init(&p->qmu, NULL);
        if ((rc = vx_parse(params, &v, err, errlen)) < 0)
                return rc;
        if (!c) {
                snprintf(err, errlen, "vxlan wire type was registered without its class_init");
                return -EINVAL;
        }
        p->vni = (uint32_t)v.vni;
        p->mtu = (uint32_t)v.mtu;
        p->peer = v.peer;
        p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        p->slot = p->mtu + 18; /* Ethernet header and an 802.1Q tag */
        /* a burst of UDP_GRO batches at line rate: as many frames as fit in
         * VX_RXQ_BYTES (4096 at the default MTU) */
        for (p->nq = VX_RXQ_MIN; p->nq < VX_RXQ_MAX && 2 * p->nq * p->slot <= VX_RXQ_BYTES;)
                p->nq *= 2;
        p->q = calloc(p->nq, p->slot);
        p->qlen = calloc(p->nq, sizeof(*p->qlen));
        p->gbuf = malloc(VX_GBUF);
        p->scratch = malloc(VX_GSO_MAX);
        if (!(getenv("BN_VXLAN_GRO") && strcmp(getenv("BN_VXLAN_GRO"), "0") == 0) &&
            !(p->sgro = malloc((size_t)VX_SGRO_BUFS * VX_SGRO_BUF))) {
                rc = -ENOMEM;
                goto fail;
        }
        if (p->efd < 0 || !p->q || !p->qlen || !p->gbuf || !p->scratch) {
                rc = p->efd < 0 ? -errno : -ENOMEM;
                goto fail;
        }
        pthread_mutex_lock(&c->mu);
        rc = sock_get(c, &v.bind, &p->sock, &fresh, err, errlen);
        if (!rc) {
                for (o = p->sock->ports; o && o->vni != p->vni; o = o->next)
                        ;
                if (o) {
                        snprintf(err, errlen, "vxlan: VNI %u on UDP %s:%u is already wire %.200s",
                                 p->vni, inet_ntoa(v.bind.sin_addr), (unsigned)v.port,
                                 o->port->wire);
                        rc = -EBUSY;
                } else {
                        p->next = p->sock->ports;
                        p->sock->ports = p;
                }
        }
        pthread_mutex_unlock(&c->mu);
        if (rc == -EBUSY) {
                sock_put(p);
                goto fail;
        }
        if (rc)
                goto fail;
        p->wfd = fcntl(p->sock->fd, F_DUPFD_CLOEXEC, 0);
        if (p->wfd < 0) {
                rc = -errno;
                goto fail;
        }
        if (fresh && (rc = rx_poll(p->sock, true)) < 0) {
                snprintf(err, errlen, "vxlan: cannot poll the socket: %s", strerror(-rc));
                goto fail;
        }
        {
                char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

                inet_ntop(AF_INET, &v.bind.sin_addr, a, sizeof(a));
                inet_ntop(AF_INET, &v.peer.sin_addr, b, sizeof(b));
                bn_info(port->wire,
                        "vxlan: VNI %u, UDP %s:%u -> %s:%u, MTU %u, UDP_SEGMENT %s, UDP_GRO %s, "
                        "software GRO %s",
                        p->vni, a, (unsigned)v.port, b, (unsigned)v.peer_port, p->mtu,
                        p->sock->gso ? "on" : "off", p->sock->gro ? "on" : "off",
                        p->sgro ? "on" : "off");
        }
        return 0;
fail:
        vx_close(port);
        return rc;
}

static void vx_close(struct bn_wire_port *port)
{
        struct vx_port *p = port->priv;

        if (p->wfd_polled)
                bn_loop_del_fd(port->loop, p->wfd);
        p->wfd_polled = false;
        if (p->wfd >= 0)
                close(p->wfd);
        p->wfd = -1;
        sock_put(p); /* the receive loop no longer sees p */
        if (p->efd >= 0)
                close(p->efd);
        p->efd = -1;
        free(p->q);
        free(p->qlen);
        p->qlen = NULL;
        free(p->gbuf);
        free(p->scratch);
        free(p->sgro);
        p->sgro = NULL;
        p->q = NULL;
        p->gbuf = NULL;
        p->scratch = NULL;
        pthread_mutex_destroy(&p->qmu);
}

static int vx_fd(struct bn_wire_port *port)
{
        return ((struct vx_port *)port->priv)->efd;
}

static void msg_frame(struct bn_wire_msg *m, const uint8_t *data, size_t len,
                      const struct virtio_net_hdr *h)
{
        memset(m, 0, sizeof(*m));
        m->type = BN_MSG_NET_FRAME;
        m->hdr_len = sizeof(*h);
        memcpy(m->hdr, h, sizeof(*h));
        m->data = (uint8_t *)(uintptr_t)data;
        m->len = (uint32_t)len;
}

/* The frame g holds as message m; a merged one used up its buffer, so g
 * moves on to the next (*nbuf counts them). */
static void sgro_emit(struct vx_port *p, struct bn_net_gro *g, struct bn_wire_msg *m,
                      unsigned *nbuf)
{
        struct virtio_net_hdr h;
        const uint8_t *f;
        unsigned segs;
        size_t len = bn_net_gro_flush(g, &h, &f, &segs);

        msg_frame(m, f, len, &h);
        if (segs > 1) {
                p->rx_gro_frames++;
                p->rx_gro_segs += segs;
                if (++*nbuf < VX_SGRO_BUFS)
                        bn_net_gro_init(g, p->sgro + (size_t)*nbuf * VX_SGRO_BUF, VX_SGRO_BUF);
        }
}

static int vx_recv(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned max)
{
        static const struct virtio_net_hdr none; /* no metadata: all zero */
        struct vx_port *p = port->priv;
        uint64_t ticks, one = 1, bytes = 0;
        unsigned n = 0, nbuf = p->sgro ? 0 : VX_SGRO_BUFS, rpos = p->rpos, head, taken;
        struct bn_net_gro g;
        bool more;

        if (read(p->efd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                return -errno;
        bn_net_gro_init(&g, p->sgro, VX_SGRO_BUF); /* used only with p->sgro */
        /* Slots [rpos, head) are ours until release moves tail past them:
         * the receive loop only writes at head, so merge without the lock. */
        pthread_mutex_lock(&p->qmu);
        head = p->head;
        pthread_mutex_unlock(&p->qmu);
        while (rpos != head && n + (nbuf < VX_SGRO_BUFS && g.len) < max) {
                unsigned i = rpos % p->nq;
                const uint8_t *f = p->q + (size_t)i * p->slot;

                if (nbuf < VX_SGRO_BUFS) {
                        if (bn_net_gro_add(&g, f, p->qlen[i])) {
                                bytes += p->qlen[i];
                                rpos++;
                                continue;
                        }
                        if (g.len) { /* not of what is held: that goes, f is offered again */
                                sgro_emit(p, &g, &msgs[n++], &nbuf);
                                continue;
                        }
                }
                msg_frame(&msgs[n++], f, p->qlen[i], &none);
                bytes += p->qlen[i];
                rpos++;
        }
        if (nbuf < VX_SGRO_BUFS && g.len)
                sgro_emit(p, &g, &msgs[n++], &nbuf);
        pthread_mutex_lock(&p->qmu);
        taken = rpos - p->rpos;
        p->rpos = p->rel = rpos;
        more = p->rpos != p->head;
        pthread_mutex_unlock(&p->qmu);
        /* The framework may stop before we said 0 (a bounded number of
         * batches per wake-up): the fd stays readable while frames wait,
         * since the receive loop wakes us only when it found us empty. */
        if (more && write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                return -errno;
        atomic_fetch_add(&p->rx_frames, taken);
        atomic_fetch_add(&p->rx_bytes, bytes);
        return (int)n;
}

/* Every message of the last recv is released at once (the framework
 * releases what it took before the next recv): the slots up to where that
 * recv stopped are free, however many datagrams a merged frame took. */
static void vx_release(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned n)
{
        struct vx_port *p = port->priv;

        (void)msgs;
        (void)n;
        pthread_mutex_lock(&p->qmu);
        p->tail = p->rel;
        pthread_mutex_unlock(&p->qmu);
        /* the receive loop stopped at a full queue (maybe ours): go on */
        if (p->sock && atomic_load(&p->sock->stalled) &&
            !atomic_exchange(&p->sock->resume_queued, true) &&
            bn_loop_call(bn_workers_loop(p->ctx->rx, 0), sock_resume, p->sock) < 0)
                atomic_store(&p->sock->resume_queued, false); /* the timer resumes it */
}

static void vx_port_caps(struct bn_wire_port *port, struct bn_wire_caps *caps)
{
        caps->mtu = ((struct vx_port *)port->priv)->mtu;
}

static void vx_stats(struct bn_wire_port *port, struct bn_wire_stats *st)
{
        struct vx_port *p = port->priv;

        st->msgs_out += p->tx_frames;
        st->bytes_out += p->tx_bytes;
        st->msgs_in += atomic_load(&p->rx_frames);
        st->bytes_in += atomic_load(&p->rx_bytes);
        st->drop_full += p->tx_full + atomic_load(&p->rx_full);
        st->drop_too_big += p->tx_too_big + atomic_load(&p->rx_too_big);
        uint64_t sh = atomic_load(&p->rx_short), fl = atomic_load(&p->rx_flags),
                 fo = atomic_load(&p->rx_foreign);

        st->drop_malformed += sh + fl + fo + p->tx_bad;
        bn_wire_stats_detail(st, "short", sh);
        bn_wire_stats_detail(st, "bad_flags", fl);
        bn_wire_stats_detail(st, "not_from_peer", fo);
        bn_wire_stats_detail(st, "not_a_frame", p->tx_bad);
        /* software GRO: frames merged and the datagrams they took */
        bn_wire_stats_detail(st, "gro_frames", p->rx_gro_frames);
        bn_wire_stats_detail(st, "gro_segs", p->rx_gro_segs);
        /* what the end's UDP socket dropped as nobody's (not in drop_*:
         * they are no wire's), so that forged traffic shows */
        if (p->sock) {
                bn_wire_stats_detail(st, "socket_unknown_vni", atomic_load(&p->sock->unknown_vni));
                bn_wire_stats_detail(st, "socket_short",
                                     atomic_load(&p->sock->bad[BN_VXLAN_SHORT]));
        }
}

const struct bn_wire_class bn_wire_vxlan_class = {
    .name = "vxlan",
    .priv_size = sizeof(struct vx_port),
    .caps = {.ordered = false,
             .reliable = false,
             .gso = false,
             .control = false,
             .max_msg = BN_WIRE_DATA_MAX,
             .mtu = 1500 - BN_VXLAN_OVERHEAD},
    .class_init = vx_class_init,
    .class_fini = vx_class_fini,
    .open = vx_open,
    .check = vx_check,
    .close = vx_close,
    .send = bn_vx_send,
    .recv = vx_recv,
    .release = vx_release,
    .fd = vx_fd,
    .stats = vx_stats,
    .port_caps = vx_port_caps,
};
