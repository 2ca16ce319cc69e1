/* corm_mirror.c: the "mirror" disk Corm provider (bn_blk_corm.h), what
 * `bananactl swap-corm` runs on the old Corm's host: it wraps the Corm that
 * serves the disk (src) and the one that is to serve it next (dst, usually
 * an NBD client to the new Corm's host). Reads go to src. Writes, discards
 * and flushes go to both and complete when both did (with src's result: dst
 * failing ends the mirror, never the guest's I/O). A background copier
 * copies src to dst in chunks, rate-bounded, under a range lock: a chunk
 * starts only when no mirrored write overlapping it is in flight, and a
 * write overlapping the chunk being copied (read from src, written to dst)
 * waits until that chunk is written, so dst never gets older data after a
 * newer write. What waits keeps its order: once anything waits, every later
 * write, discard and flush waits behind it (a flush still covers what was
 * submitted before it). Both providers are polled through one epoll fd.
 * Not thread-safe: one loop drives it, as any bn_blk_corm. */
#include "bn_blk_corm.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MIRROR_CHUNK_DEF (1024u * 1024u)

struct mio {
        struct bn_blk_io sub[2]; /* [0] to src, [1] to dst */
        struct bn_blk_io *up;
        struct mirror *m;
        int pending;
        bool dst_sent;
        struct mio *next, *prev; /* in flight (m->live) or waiting (m->held) */
};

struct mirror {
        struct bn_blk_corm base;
        struct bn_blk_corm *c[2]; /* src, dst */
        int epfd;
        int fd[2];
        uint32_t ev[2];
        uint64_t size, chunk, rate; /* rate: bytes/s, 0: unbounded */
        struct bn_blk_mirror_stats st;
        struct mio *live;
        struct mio *held_head, *held_tail;
        uint32_t nlive, nheld;
        /* the copier */
        struct bn_blk_io cio;
        struct iovec ciov;
        unsigned char *buf;
        bool copying; /* cio with src (read) or dst (write) */
        uint64_t coff, clen;
        uint64_t t0_ms;
};

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
        return a < b + blen && b < a + alen;
}

static bool ranged(const struct bn_blk_io *io)
{
        return io->op == BN_BLK_IO_WRITE || io->op == BN_BLK_IO_DISCARD;
}

static void unlink_live(struct mirror *m, struct mio *x)
{
        if (x->prev)
                x->prev->next = x->next;
        else
                m->live = x->next;
        if (x->next)
                x->next->prev = x->prev;
        m->nlive--;
}

static void dst_failed(struct mirror *m, int err)
{
        if (!m->st.error)
                m->st.error = err ? err : -EIO;
}

static void copy_step(struct mirror *m);
static void release_held(struct mirror *m);

static void mio_sub_done(struct bn_blk_io *io)
{
        struct mio *x = io->opaque;
        struct mirror *m = x->m;

        if (io == &x->sub[1] && io->result)
                dst_failed(m, io->result);
        if (--x->pending)
                return;
        unlink_live(m, x);
        x->up->result = x->sub[0].result;
        x->up->done(x->up);
        free(x);
        /* a chunk waiting for this write, or writes waiting for the chunk */
        release_held(m);
        copy_step(m);
}

/* Send x to src and (while the mirror holds) to dst. 0 or -errno (nothing
 * sent: x is not live). */
static int mio_send(struct mirror *m, struct mio *x)
{
        int r = bn_blk_corm_submit(m->c[0], &x->sub[0]);

        if (r)
                return r;
        x->pending = 1;
        if (!m->st.error) {
                if (bn_blk_corm_submit(m->c[1], &x->sub[1]) == 0) {
                        x->pending++;
                        x->dst_sent = true;
                } else {
                        dst_failed(m, -EIO);
                }
        }
        x->prev = NULL;
        x->next = m->live;
        if (m->live)
                m->live->prev = x;
        m->live = x;
        m->nlive++;
        return 0;
}

static bool blocked_by_copy(const struct mirror *m, const struct bn_blk_io *io)
{
        return m->copying && ranged(io) && overlaps(io->offset, io->len, m->coff, m->clen);
}

static void release_held(struct mirror *m)
{
        while (m->held_head && !blocked_by_copy(m, m->held_head->up)) {
                struct mio *x = m->held_head;
                m->held_head = x->next;
                if (!m->held_head)
                        m->held_tail = NULL;
                m->nheld--;
                if (mio_send(m, x)) {
                        x->up->result = -EIO;
                        x->up->done(x->up);
                        free(x);
                }
        }
}

static void copy_done(struct bn_blk_io *io);

static void copy_submit(struct mirror *m, enum bn_blk_io_op op, int which)
{
        memset(&m->cio, 0, sizeof(m->cio));
        m->ciov.iov_base = m->buf;
        m->ciov.iov_len = m->clen;
        m->cio.op = op;
        m->cio.offset = m->coff;
        m->cio.len = m->clen;
        m->cio.iov = &m->ciov;
        m->cio.niov = 1;
        m->cio.done = copy_done;
        m->cio.opaque = m;
        if (bn_blk_corm_submit(m->c[which], &m->cio)) {
                m->copying = false;
                dst_failed(m, -EIO);
                release_held(m);
        }
}

static void copy_done(struct bn_blk_io *io)
{
        struct mirror *m = io->opaque;

        if (io->result) {
                m->copying = false;
                dst_failed(m, io->result);
                release_held(m);
                return;
        }
        if (io->op == BN_BLK_IO_READ && m->st.error) {
                m->copying = false;
                release_held(m);
                return;
        }
        if (io->op == BN_BLK_IO_READ) {
                copy_submit(m, BN_BLK_IO_WRITE, 1);
                return;
        }
        m->copying = false;
        m->st.copied = m->coff + m->clen;
        release_held(m);
        copy_step(m);
}

/* Milliseconds before the next chunk may start (rate bound), 0: now. */
static uint64_t copy_wait_ms(const struct mirror *m)
{
        uint64_t due;

        if (!m->rate)
                return 0;
        due = m->t0_ms + m->st.copied * 1000u / m->rate;
        return due > now_ms() ? due - now_ms() : 0;
}

/* Start the next chunk if it is due and nothing in flight overlaps it. */
static void copy_step(struct mirror *m)
{
        uint64_t off = m->st.copied, len;

        if (m->copying || m->st.error || off >= m->size || copy_wait_ms(m))
                return;
        len = m->size - off < m->chunk ? m->size - off : m->chunk;
        for (struct mio *x = m->live; x; x = x->next)
                if (x->dst_sent && ranged(&x->sub[1]) &&
                    overlaps(x->sub[1].offset, x->sub[1].len, off, len))
                        return; /* again when it completes */
        m->coff = off;
        m->clen = len;
        m->copying = true;
        copy_submit(m, BN_BLK_IO_READ, 0);
}

static int mirror_submit(struct bn_blk_corm *bc, struct bn_blk_io *io)
{
        struct mirror *m = (struct mirror *)bc;
        struct mio *x;

        if (io->op == BN_BLK_IO_READ)
                return bn_blk_corm_submit(m->c[0], io);
        if (!(x = calloc(1, sizeof(*x))))
                return -ENOMEM;
        x->m = m;
        x->up = io;
        for (int i = 0; i < 2; i++) {
                x->sub[i].op = io->op;
                x->sub[i].offset = io->offset;
                x->sub[i].len = io->len;
                x->sub[i].iov = io->iov;
                x->sub[i].niov = io->niov;
                x->sub[i].done = mio_sub_done;
                x->sub[i].opaque = x;
        }
        if (m->held_head || blocked_by_copy(m, io)) {
                if (m->held_tail)
                        m->held_tail->next = x;
                else
                        m->held_head = x;
                m->held_tail = x;
                m->nheld++;
                m->st.waited++;
                return 0;
        }
        if (mio_send(m, x)) {
                free(x);
                return -EIO;
        }
        return 0;
}

static void mirror_kick(struct bn_blk_corm *bc)
{
        struct mirror *m = (struct mirror *)bc;

        copy_step(m);
        bn_blk_corm_kick(m->c[0]);
        bn_blk_corm_kick(m->c[1]);
}

static void watch(struct mirror *m, int i, int fd, short events)
{
        struct epoll_event ev = {.events = (uint32_t)events, .data.u32 = (uint32_t)i};

        if (fd == m->fd[i] && ev.events == m->ev[i])
                return;
        if (m->fd[i] >= 0 && fd != m->fd[i])
                epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->fd[i], NULL);
        if (fd >= 0 &&
            epoll_ctl(m->epfd, fd == m->fd[i] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
                fd = -1;
        m->fd[i] = fd;
        m->ev[i] = ev.events;
}

static void mirror_poll(struct bn_blk_corm *bc, int *fd, short *events, int *timeout_ms)
{
        struct mirror *m = (struct mirror *)bc;
        int to = -1;

        for (int i = 0; i < 2; i++) {
                int f = -1, t = -1;
                short e = 0;
                bn_blk_corm_poll(m->c[i], &f, &e, &t);
                watch(m, i, f, e);
                if (t >= 0 && (to < 0 || t < to))
                        to = t;
        }
        if (!m->copying && !m->st.error && m->st.copied < m->size) {
                uint64_t w = copy_wait_ms(m);
                int t = w ? (int)(w > 1000 ? 1000 : w) : 0;
                if (to < 0 || t < to)
                        to = t;
        }
        *fd = m->epfd;
        *events = POLLIN;
        *timeout_ms = to;
}

static int mirror_process(struct bn_blk_corm *bc, short revents)
{
        struct mirror *m = (struct mirror *)bc;
        struct epoll_event evs[2];
        short rev[2] = {0, 0};
        int n = 0, r;

        if (revents)
                n = epoll_wait(m->epfd, evs, 2, 0);
        for (int i = 0; i < n; i++)
                if (evs[i].data.u32 < 2)
                        rev[evs[i].data.u32] = (short)evs[i].events;
        if ((r = bn_blk_corm_process(m->c[1], rev[1])) < 0)
                dst_failed(m, r);
        r = bn_blk_corm_process(m->c[0], rev[0]);
        mirror_kick(bc);
        return r;
}

static int mirror_size(struct bn_blk_corm *bc, uint64_t *bytes)
{
        struct mirror *m = (struct mirror *)bc;

        return bn_blk_corm_size(m->c[0], bytes);
}

static uint32_t mirror_inflight(struct bn_blk_corm *bc)
{
        struct mirror *m = (struct mirror *)bc;

        return bn_blk_corm_inflight(m->c[0]) + m->nlive +
               m->nheld; /* may count a write twice: never too few */
}

/* End the mirror's use of dst, then wait (bounded) until nothing of ours
 * is with src. dst's destroy completes what it holds (an NBD peer gone:
 * -ECANCELED), so a dead new Corm never holds the old one's loop; its
 * results are dropped (src's answer the writes). */
static bool drain(struct mirror *m)
{
        if (!m->st.error)
                m->st.error = -ECANCELED; /* nothing more to dst, no more chunks */
        release_held(m);
        bn_blk_corm_destroy(m->c[1]);
        m->c[1] = NULL;
        for (int i = 0; i < 2000 && (m->nlive || m->nheld || m->copying); i++) {
                release_held(m);
                bn_blk_corm_wait(m->c[0], 10);
        }
        return !m->nlive && !m->nheld && !m->copying;
}

static void mirror_destroy(struct bn_blk_corm *bc)
{
        bn_blk_corm_destroy(bn_blk_mirror_end(bc));
}

static const struct bn_blk_corm_ops mirror_ops = {
    .name = "mirror",
    .submit = mirror_submit,
    .kick = mirror_kick,
    .poll = mirror_poll,
    .process = mirror_process,
    .size = mirror_size,
    .inflight = mirror_inflight,
    .destroy = mirror_destroy,
};

int bn_blk_mirror_open(struct bn_blk_corm **out, struct bn_blk_corm *src, struct bn_blk_corm *dst,
                       const struct bn_blk_mirror_opts *opts)
{
        struct mirror *m = NULL;
        uint64_t dsize = 0;
        int r;

        *out = NULL;
        if (!(m = calloc(1, sizeof(*m))))
                return -ENOMEM;
        m->base.ops = &mirror_ops;
        m->c[0] = src;
        m->c[1] = dst;
        m->fd[0] = m->fd[1] = -1;
        m->chunk = opts && opts->chunk ? opts->chunk : MIRROR_CHUNK_DEF;
        m->rate = opts ? opts->rate : 0;
        m->t0_ms = now_ms();
        if ((r = bn_blk_corm_size(src, &m->size)) || (r = bn_blk_corm_size(dst, &dsize)))
                goto out;
        m->st.total = m->size;
        if (dsize < m->size) {
                r = -ENOSPC;
                goto out;
        }
        if ((m->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
                r = -errno;
                goto out;
        }
        if (!(m->buf = aligned_alloc(4096, (m->chunk + 4095) & ~(uint64_t)4095))) {
                r = -ENOMEM;
                goto out;
        }
        *out = &m->base;
        m = NULL;
out:
        if (m && m->epfd > 0)
                close(m->epfd);
        if (m)
                free(m->buf);
        free(m);
        return r;
}

bool bn_blk_is_mirror(const struct bn_blk_corm *c)
{
        return c && c->ops == &mirror_ops;
}

void bn_blk_mirror_stats(struct bn_blk_corm *c, struct bn_blk_mirror_stats *st)
{
        const struct mirror *m = (const struct mirror *)c;

        *st = m->st;
        st->inflight = m->nlive;
        st->held = m->nheld;
}

struct bn_blk_corm *bn_blk_mirror_end(struct bn_blk_corm *c)
{
        struct mirror *m = (struct mirror *)c;
        struct bn_blk_corm *src = m->c[0];

        if (!drain(m))
                return src; /* src still holds some of ours: m must outlive them (leaked) */
        if (m->epfd >= 0)
                close(m->epfd);
        free(m->buf);
        free(m);
        return src;
}
