/* shm_port.c: one end of a shm wire: the region mapping, the tx and rx
 * rings, the doorbells, sending, receiving, waiting (poll briefly, then
 * sleep with coalesced wake-ups), counters, and the in-process pair.
 * The cross-process rendezvous is in shm_rendezvous.c.
 */
#include "shm_port.h"
#include "shm_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SHM_LOG(p, fmt, ...) fprintf(stderr, "shm wire %s: " fmt "\n", (p)->name, ##__VA_ARGS__)

struct bn_shm_port {
        char name[64];
        int idx;
        uint32_t ring_size;
        int memfd, bell_mine, bell_peer, sock;
        struct bn_shm_region *reg;
        size_t map_len;
        struct bn_shm_ring tx, rx;
        bool peer_gone, broken;
        unsigned spin_us;
        struct bn_shm_stats st;
        bool (*ring_fn)(void *arg); /* bn_shm_port_set_ring: rings the peer instead of bell_peer */
        void *ring_arg;
};

bool bn_shm_ring_size_ok(uint32_t n)
{
        return n >= BN_SHM_RING_MIN && n <= BN_SHM_RING_MAX && (n & (n - 1)) == 0;
}

int bn_shm_region_create(const char *name, uint32_t ring_size, int *memfd)
{
        size_t len = bn_shm_region_size(ring_size);
        struct bn_shm_region *reg = MAP_FAILED;
        int fd, rc = 0;

        fd = memfd_create("banana-shm-wire", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) {
                rc = -errno;
                fprintf(stderr, "shm wire %s: memfd_create: %s\n", name, strerror(errno));
                goto out;
        }
        if (ftruncate(fd, (off_t)len) < 0) {
                rc = -errno;
                fprintf(stderr, "shm wire %s: ftruncate %zu: %s\n", name, len, strerror(errno));
                goto out;
        }
        /* The peer checks these seals: a region that cannot shrink cannot
         * SIGBUS it. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
                rc = -errno;
                goto out;
        }
        reg = mmap(NULL, BN_SHM_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (reg == MAP_FAILED) {
                rc = -errno;
                goto out;
        }
        reg->magic = BN_SHM_MAGIC;
        reg->version = BN_SHM_VERSION;
        reg->ring_size = ring_size;
        munmap(reg, BN_SHM_HDR_SIZE);
        *memfd = fd;
        fd = -1;
out:
        if (fd >= 0)
                close(fd);
        return rc;
}

static int check_region(const char *name, int memfd, uint32_t ring_size)
{
        struct stat sb;
        int seals;

        if (fstat(memfd, &sb) < 0)
                return -errno;
        seals = fcntl(memfd, F_GET_SEALS);
        if ((uint64_t)sb.st_size != bn_shm_region_size(ring_size) || seals < 0 ||
            !(seals & F_SEAL_SHRINK)) {
                fprintf(stderr, "shm wire %s: peer's region has size %lld seals %d, want %zu\n",
                        name, (long long)sb.st_size, seals, bn_shm_region_size(ring_size));
                return -EPROTO;
        }
        return 0;
}

int bn_shm_port_from_fds(const char *name, int idx, uint32_t ring_size, int memfd, int bell_mine,
                         int bell_peer, int sock, bool check, struct bn_shm_port **out)
{
        struct bn_shm_port *p = NULL;
        uint8_t *base;
        int rc = 0;

        if (!bn_shm_ring_size_ok(ring_size) || (idx != 0 && idx != 1)) {
                rc = -EINVAL;
                goto fail;
        }
        if (check && (rc = check_region(name, memfd, ring_size)) < 0)
                goto fail;
        p = calloc(1, sizeof(*p));
        if (!p) {
                rc = -ENOMEM;
                goto fail;
        }
        snprintf(p->name, sizeof(p->name), "%s", name ? name : "?");
        p->idx = idx;
        p->ring_size = ring_size;
        p->memfd = memfd;
        p->bell_mine = bell_mine;
        p->bell_peer = bell_peer;
        p->sock = sock;
        p->spin_us = 20;
        p->map_len = bn_shm_region_size(ring_size);
        p->reg = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        if (p->reg == MAP_FAILED) {
                rc = -errno;
                SHM_LOG(p, "mmap %zu bytes: %s", p->map_len, strerror(errno));
                p->reg = NULL;
                goto fail;
        }
        if (p->reg->magic != BN_SHM_MAGIC || p->reg->version != BN_SHM_VERSION) {
                SHM_LOG(p, "bad region magic/version");
                rc = -EPROTO;
                goto fail;
        }
        /* mapped: the memfd is not needed again (the listening end sent
         * it already), and an fd a port does not hold is one more wire */
        close(memfd);
        p->memfd = memfd = -1;
        base = (uint8_t *)p->reg + BN_SHM_HDR_SIZE;
        bn_shm_ring_init(&p->tx, &p->reg->ctl[idx], base + (size_t)idx * ring_size, ring_size);
        bn_shm_ring_init(&p->rx, &p->reg->ctl[!idx], base + (size_t)!idx * ring_size, ring_size);
        *out = p;
        return 0;
fail:
        if (p) {
                if (p->reg)
                        munmap(p->reg, p->map_len);
                free(p);
        }
        if (memfd >= 0)
                close(memfd);
        close(bell_mine);
        close(bell_peer);
        if (sock >= 0)
                close(sock);
        return rc;
}

int bn_shm_pair(const char *name, uint32_t ring_size, struct bn_shm_port **a,
                struct bn_shm_port **b)
{
        int memfd = -1, bell[2] = {-1, -1}, rc;

        if (ring_size == 0)
                ring_size = BN_SHM_RING_DEFAULT;
        if (!bn_shm_ring_size_ok(ring_size))
                return -EINVAL;
        rc = bn_shm_region_create(name, ring_size, &memfd);
        if (rc < 0)
                return rc;
        bell[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        bell[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (bell[0] < 0 || bell[1] < 0) {
                rc = -errno;
                goto fail;
        }
        /* Each port owns its own descriptors: the same path as two processes. */
        rc = bn_shm_port_from_fds(name, 0, ring_size, dup(memfd), dup(bell[0]), dup(bell[1]), -1,
                                  false, a);
        if (rc < 0)
                goto fail;
        rc = bn_shm_port_from_fds(name, 1, ring_size, memfd, bell[1], bell[0], -1, false, b);
        if (rc < 0) {
                bn_shm_port_close(*a);
                *a = NULL;
        }
        return rc;
fail:
        if (memfd >= 0)
                close(memfd);
        if (bell[0] >= 0)
                close(bell[0]);
        if (bell[1] >= 0)
                close(bell[1]);
        return rc;
}

static void kick(struct bn_shm_port *p)
{
        uint64_t one = 1;

        if (p->ring_fn && p->ring_fn(p->ring_arg)) {
                p->st.kicks_sent++;
                return;
        }
        if (write(p->bell_peer, &one, sizeof(one)) == sizeof(one))
                p->st.kicks_sent++;
}

void bn_shm_port_ring_peer(struct bn_shm_port *p)
{
        kick(p);
}

void bn_shm_port_close(struct bn_shm_port *p)
{
        if (!p)
                return;
        if (p->reg) {
                atomic_store(&p->reg->closed[p->idx], 1);
                kick(p);
                munmap(p->reg, p->map_len);
        }
        if (p->memfd >= 0)
                close(p->memfd);
        close(p->bell_mine);
        close(p->bell_peer);
        if (p->sock >= 0)
                close(p->sock);
        free(p);
}

bool bn_shm_port_peer_alive(struct bn_shm_port *p)
{
        if (p->peer_gone || p->broken)
                return false;
        if (atomic_load_explicit(&p->reg->closed[!p->idx], memory_order_acquire))
                p->peer_gone = true;
        else if (p->sock >= 0) {
                struct pollfd pfd = {.fd = p->sock, .events = POLLIN};
                char c;

                /* The socket carries nothing after the handshake: readable
                 * means EOF (or a peer misbehaving: treated as gone). */
                if (poll(&pfd, 1, 0) > 0 &&
                    (pfd.revents & (POLLHUP | POLLERR) || recv(p->sock, &c, 1, MSG_DONTWAIT) <= 0))
                        p->peer_gone = true;
        }
        return !p->peer_gone;
}

static int send_error(struct bn_shm_port *p, int rc, bool drop_if_full)
{
        if (rc == -ENOBUFS && drop_if_full)
                p->st.drop_ring_full++;
        else if (rc == -EPROTO && !p->broken) {
                p->broken = true;
                p->st.rx_bad++;
                SHM_LOG(p, "peer wrote an impossible consumer index: port broken");
        }
        return rc;
}

void *bn_shm_port_reserve(struct bn_shm_port *p, uint16_t type, size_t meta_len, size_t max_len,
                          void **meta)
{
        int64_t off;

        if (p->broken) {
                errno = EPROTO;
                return NULL;
        }
        if (meta_len > BN_SHM_META_MAX || max_len > BN_SHM_FRAME_MAX) {
                errno = EMSGSIZE;
                return NULL;
        }
        if (p->peer_gone) {
                errno = EPIPE;
                return NULL;
        }
        off = bn_shm_ring_reserve(&p->tx, type, meta_len, max_len);
        if (off < 0) {
                send_error(p, (int)off, false);
                errno = (int)-off;
                return NULL;
        }
        *meta = p->tx.data + off + sizeof(struct bn_shm_rec);
        return (uint8_t *)*meta + meta_len;
}

void bn_shm_port_commit(struct bn_shm_port *p, size_t len)
{
        if (p->tx.resv == UINT32_MAX)
                return;
        p->st.tx_frames++;
        p->st.tx_bytes += len;
        bn_shm_ring_commit(&p->tx, len);
}

int bn_shm_port_send(struct bn_shm_port *p, uint16_t type, const void *meta, size_t meta_len,
                     const struct iovec *iov, int iovcnt, bool drop_if_full)
{
        size_t len = 0;
        void *m;
        uint8_t *d;
        int i;

        for (i = 0; i < iovcnt; i++)
                len += iov[i].iov_len;
        if (len > BN_SHM_FRAME_MAX || meta_len > BN_SHM_META_MAX) {
                p->st.drop_oversize++;
                return -EMSGSIZE;
        }
        if (p->peer_gone) {
                p->st.drop_peer_gone++;
                return -EPIPE;
        }
        d = bn_shm_port_reserve(p, type, meta_len, len, &m);
        if (!d)
                return send_error(p, -errno, drop_if_full);
        if (meta_len)
                memcpy(m, meta, meta_len);
        for (i = 0; i < iovcnt; i++) {
                if (!iov[i].iov_len)
                        continue; /* iov_base may be NULL */
                memcpy(d, iov[i].iov_base, iov[i].iov_len);
                d += iov[i].iov_len;
        }
        bn_shm_port_commit(p, len);
        return 0;
}

int bn_shm_port_flush(struct bn_shm_port *p)
{
        int n = (int)p->tx.pending;

        if (p->broken)
                return -EPROTO;
        if (bn_shm_ring_publish(&p->tx))
                kick(p);
        return n;
}

static int recv_frames(struct bn_shm_port *p, unsigned max, bn_shm_rx_fn fn, void *arg, bool hold)
{
        uint8_t meta[BN_SHM_META_MAX];
        struct bn_shm_view v;
        int64_t a;
        uint32_t avail, old_cons = p->rx.cons;
        unsigned n = 0;
        int rc = 0;

        if (p->broken)
                return -EPROTO;
        a = bn_shm_ring_avail(&p->rx);
        if (a < 0) {
                rc = -EPROTO;
                goto bad;
        }
        avail = (uint32_t)a;
        while (n < max) {
                rc = bn_shm_ring_next(&p->rx, &avail, &v);
                if (rc < 0)
                        goto bad;
                if (rc == 0)
                        break;
                memcpy(meta, v.meta, v.meta_len); /* the peer may change it under us */
                n++;
                p->st.rx_frames++;
                p->st.rx_bytes += v.len;
                rc = fn(arg, v.msg_type, meta, v.meta_len, v.data, v.len);
                p->rx.cons += v.total;
                if (rc)
                        break;
        }
        if (!hold && p->rx.cons != old_cons && bn_shm_ring_release(&p->rx))
                kick(p);
        if (n == 0 && !bn_shm_port_peer_alive(p))
                return -EPIPE;
        return (int)n;
bad:
        p->broken = true;
        p->st.rx_bad++;
        SHM_LOG(p, "malformed index or record from the peer at %u: port broken", p->rx.cons);
        return -EPROTO;
}

int bn_shm_port_recv(struct bn_shm_port *p, unsigned max, bn_shm_rx_fn fn, void *arg)
{
        return recv_frames(p, max, fn, arg, false);
}

int bn_shm_port_recv_hold(struct bn_shm_port *p, unsigned max, bn_shm_rx_fn fn, void *arg)
{
        return recv_frames(p, max, fn, arg, true);
}

void bn_shm_port_release(struct bn_shm_port *p)
{
        if (!p->broken && bn_shm_ring_release(&p->rx))
                kick(p);
}

static unsigned ready(struct bn_shm_port *p, unsigned want)
{
        unsigned r = 0;

        if ((want & BN_SHM_WANT_RX) && bn_shm_ring_pending(&p->rx))
                r |= BN_SHM_WANT_RX;
        if ((want & BN_SHM_WANT_SPACE) && bn_shm_ring_has_space(&p->tx))
                r |= BN_SHM_WANT_SPACE;
        return r;
}

int bn_shm_port_arm(struct bn_shm_port *p, unsigned want)
{
        unsigned r = 0;

        if (p->broken)
                return -EPROTO;
        if ((want & BN_SHM_WANT_RX) && bn_shm_ring_arm_data(&p->rx))
                r |= BN_SHM_WANT_RX;
        if ((want & BN_SHM_WANT_SPACE) && bn_shm_ring_arm_space(&p->tx))
                r |= BN_SHM_WANT_SPACE;
        return (int)r;
}

void bn_shm_port_ack(struct bn_shm_port *p)
{
        uint64_t v;

        if (read(p->bell_mine, &v, sizeof(v)) == sizeof(v))
                p->st.kicks_recv++;
}

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int bn_shm_port_wait(struct bn_shm_port *p, unsigned want, int timeout_ms)
{
        uint64_t start = now_us(),
                 deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000u;
        unsigned r;
        int rc;

        for (;;) {
                uint64_t t;

                if (p->broken)
                        return -EPROTO;
                /* Poll briefly: a sleep and wake-up costs far more. */
                do {
                        r = ready(p, want);
                        if (r)
                                return (int)r;
                        t = now_us();
                } while (t - start < p->spin_us && t < deadline);
                if (!bn_shm_port_peer_alive(p))
                        return -EPIPE;
                rc = bn_shm_port_arm(p, want);
                if (rc != 0)
                        return rc;
                if (t >= deadline)
                        return 0;
                {
                        struct pollfd pfd[2] = {{.fd = p->bell_mine, .events = POLLIN},
                                                {.fd = p->sock, .events = POLLIN}};
                        uint64_t left = deadline == UINT64_MAX ? 0 : (deadline - t + 999) / 1000;
                        int to = deadline == UINT64_MAX ? -1 : (int)(left > 60000 ? 60000 : left);

                        rc = poll(pfd, p->sock >= 0 ? 2 : 1, to);
                        if (rc < 0 && errno != EINTR)
                                return -errno;
                        if (rc > 0 && (pfd[0].revents & POLLIN))
                                bn_shm_port_ack(p);
                }
                start = now_us();
        }
}

int bn_shm_port_fd(const struct bn_shm_port *p)
{
        return p->bell_mine;
}

int bn_shm_port_peer_fd(const struct bn_shm_port *p)
{
        return p->sock;
}

void bn_shm_port_stats(const struct bn_shm_port *p, struct bn_shm_stats *out)
{
        *out = p->st;
}

const char *bn_shm_port_name(const struct bn_shm_port *p)
{
        return p->name;
}

void bn_shm_port_set_ring(struct bn_shm_port *p, bool (*fn)(void *arg), void *arg)
{
        p->ring_fn = fn;
        p->ring_arg = arg;
}

void bn_shm_port_set_spin(struct bn_shm_port *p, unsigned spin_us)
{
        p->spin_us = spin_us;
}

uint32_t bn_shm_port_ring_size(const struct bn_shm_port *p)
{
        return p->ring_size;
}
