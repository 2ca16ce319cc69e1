/* corm_uring.c: the io_uring disk Corm (bn_blk_uring_open). One ring per
 * disk; the file is registered (fixed file 0); the fd the owner's loop
 * waits on is the ring's own (readable while completions wait in the CQ:
 * no eventfd to signal, read and clear per batch). Reads and writes are
 * read/write of one iovec, else readv/writev of the request's iovecs,
 * FLUSH is fdatasync (IORING_OP_FSYNC + DATASYNC) issued with IOSQE_IO_DRAIN
 * so that it starts only after everything submitted before it completed,
 * DISCARD is fallocate(PUNCH_HOLE|KEEP_SIZE) on files, BLKDISCARD on block
 * devices. Requests beyond the ring's capacity wait on a backlog list. */
#include "bn_blk_corm.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct uring_corm {
        struct bn_blk_corm base;
        struct io_uring ring;
        int ring_ok;
        int fd;
        int readonly;
        int is_blk;
        unsigned depth;
        uint32_t inflight;    /* in the kernel */
        uint32_t unsubmitted; /* SQEs prepared, not yet io_uring_submit()ed */
        uint32_t outstanding; /* accepted, not yet done */
        struct bn_blk_io *backlog_head, *backlog_tail;
        struct bn_blk_io *done_head, *done_tail; /* completed synchronously */
};

static struct uring_corm *U(struct bn_blk_corm *c)
{
        return (struct uring_corm *)c;
}

static void list_push(struct bn_blk_io **head, struct bn_blk_io **tail, struct bn_blk_io *io)
{
        io->next = NULL;
        if (*tail)
                (*tail)->next = io;
        else
                *head = io;
        *tail = io;
}

static struct bn_blk_io *list_pop(struct bn_blk_io **head, struct bn_blk_io **tail)
{
        struct bn_blk_io *io = *head;
        if (io) {
                *head = io->next;
                if (!*head)
                        *tail = NULL;
                io->next = NULL;
        }
        return io;
}

/* Complete io without the kernel (errors, block-device discard), on the
 * next process(): poll asks for it at once (timeout 0). */
static void complete_later(struct uring_corm *u, struct bn_blk_io *io, int result)
{
        io->result = result;
        list_push(&u->done_head, &u->done_tail, io);
}

/* Prepare one SQE for io; -EBUSY when the SQ is full. */
static int prep(struct uring_corm *u, struct bn_blk_io *io)
{
        struct io_uring_sqe *sqe;

        if (u->inflight + u->unsubmitted >= u->depth)
                return -EBUSY;
        sqe = io_uring_get_sqe(&u->ring);
        if (!sqe)
                return -EBUSY;
        switch (io->op) {
        case BN_BLK_IO_READ: /* one segment: no iovec for the kernel to import */
                if (io->niov == 1)
                        io_uring_prep_read(sqe, 0, io->iov[0].iov_base,
                                           (unsigned)io->iov[0].iov_len, io->offset);
                else
                        io_uring_prep_readv(sqe, 0, io->iov, io->niov, io->offset);
                sqe->flags |= IOSQE_FIXED_FILE;
                break;
        case BN_BLK_IO_WRITE:
                if (io->niov == 1)
                        io_uring_prep_write(sqe, 0, io->iov[0].iov_base,
                                            (unsigned)io->iov[0].iov_len, io->offset);
                else
                        io_uring_prep_writev(sqe, 0, io->iov, io->niov, io->offset);
                sqe->flags |= IOSQE_FIXED_FILE;
                break;
        case BN_BLK_IO_FLUSH:
                io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
                sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_DRAIN;
                break;
        case BN_BLK_IO_DISCARD:
                io_uring_prep_fallocate(sqe, 0, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                        io->offset, io->len);
                sqe->flags |= IOSQE_FIXED_FILE;
                break;
        }
        io_uring_sqe_set_data(sqe, io);
        u->unsubmitted++;
        return 0;
}

static int uring_submit(struct bn_blk_corm *c, struct bn_blk_io *io)
{
        struct uring_corm *u = U(c);
        uint64_t sum = 0;

        io->result = 0;
        io->pending = 0;
        io->error = 0;
        if (io->op > BN_BLK_IO_DISCARD)
                return -EINVAL;
        if (io->op == BN_BLK_IO_READ || io->op == BN_BLK_IO_WRITE) {
                if (io->niov == 0 || io->niov > BN_BLK_IO_IOV_MAX || !io->iov)
                        return -EINVAL;
                for (uint32_t i = 0; i < io->niov; i++)
                        sum += io->iov[i].iov_len;
                if (sum != io->len)
                        return -EINVAL;
        }
        u->outstanding++;
        if (u->readonly && io->op != BN_BLK_IO_READ && io->op != BN_BLK_IO_FLUSH) {
                complete_later(u, io, -EROFS);
                return 0;
        }
        if (io->op == BN_BLK_IO_DISCARD && u->is_blk) {
                /* No io_uring opcode for BLKDISCARD here: a synchronous
                 * ioctl, completed on the next process(). */
                uint64_t range[2] = {io->offset, io->len};
                int r = ioctl(u->fd, BLKDISCARD, range) < 0 ? -errno : 0;
                complete_later(u, io, r);
                return 0;
        }
        if (u->backlog_head || prep(u, io) < 0)
                list_push(&u->backlog_head, &u->backlog_tail, io);
        return 0;
}

static void uring_kick(struct bn_blk_corm *c)
{
        struct uring_corm *u = U(c);
        struct bn_blk_io *io;

        while (u->backlog_head) {
                io = u->backlog_head;
                if (prep(u, io) < 0)
                        break;
                list_pop(&u->backlog_head, &u->backlog_tail);
        }
        if (u->unsubmitted) {
                int n = io_uring_submit(&u->ring);
                if (n > 0) {
                        u->inflight += (uint32_t)n;
                        u->unsubmitted -=
                            (uint32_t)n < u->unsubmitted ? (uint32_t)n : u->unsubmitted;
                }
        }
}

static void uring_poll(struct bn_blk_corm *c, int *fd, short *events, int *timeout_ms)
{
        struct uring_corm *u = U(c);
        *fd = u->ring.ring_fd;
        *events = POLLIN;
        /* Completed without the kernel: at once. Something prepared but not
         * submitted (kick failed): retry soon. */
        *timeout_ms = u->done_head ? 0 : (u->unsubmitted || u->backlog_head) ? 1 : -1;
}

static void finish(struct uring_corm *u, struct bn_blk_io *io)
{
        u->outstanding--;
        io->done(io);
}

static int uring_process(struct bn_blk_corm *c, short revents)
{
        struct uring_corm *u = U(c);
        struct io_uring_cqe *cqe;
        struct bn_blk_io *io;

        (void)revents;
        for (;;) {
                unsigned head, count = 0;
                io_uring_for_each_cqe(&u->ring, head, cqe)
                {
                        int res = cqe->res;
                        io = io_uring_cqe_get_data(cqe);
                        count++;
                        u->inflight--;
                        if (res < 0)
                                io->result = res;
                        else if ((io->op == BN_BLK_IO_READ || io->op == BN_BLK_IO_WRITE) &&
                                 (uint64_t)res != io->len)
                                io->result = -EIO; /* short transfer */
                        else
                                io->result = 0;
                        list_push(&u->done_head, &u->done_tail, io);
                }
                if (!count)
                        break;
                io_uring_cq_advance(&u->ring, count);
        }
        /* Refill the ring before running callbacks (which may submit). */
        uring_kick(c);
        while ((io = list_pop(&u->done_head, &u->done_tail)))
                finish(u, io);
        uring_kick(c);
        return 0;
}

static int uring_size(struct bn_blk_corm *c, uint64_t *bytes)
{
        struct uring_corm *u = U(c);
        struct stat st;

        if (u->is_blk) {
                uint64_t sz;
                if (ioctl(u->fd, BLKGETSIZE64, &sz) < 0)
                        return -errno;
                *bytes = sz;
                return 0;
        }
        if (fstat(u->fd, &st) < 0)
                return -errno;
        *bytes = (uint64_t)st.st_size;
        return 0;
}

static uint32_t uring_inflight(struct bn_blk_corm *c)
{
        return U(c)->outstanding;
}

static int uring_ready(struct bn_blk_corm *c)
{
        struct uring_corm *u = U(c);

        return u->done_head || io_uring_cq_ready(&u->ring) > 0;
}

static void uring_destroy(struct bn_blk_corm *c)
{
        struct uring_corm *u = U(c);
        struct bn_blk_io *io;

        if (u->ring_ok) {
                /* The kernel owns buffers of in-flight requests: wait. */
                while (u->outstanding) {
                        struct io_uring_cqe *cqe;
                        uring_kick(c);
                        if (u->inflight && io_uring_wait_cqe(&u->ring, &cqe) < 0)
                                break;
                        uring_process(c, 0);
                        if (!u->inflight && !u->unsubmitted && !u->backlog_head && !u->done_head)
                                break;
                }
                io_uring_queue_exit(&u->ring);
        }
        while ((io = list_pop(&u->backlog_head, &u->backlog_tail))) {
                io->result = -ECANCELED;
                io->done(io);
        }
        if (u->fd >= 0)
                close(u->fd);
        free(u);
}

static const struct bn_blk_corm_ops uring_ops = {
    .name = "uring",
    .submit = uring_submit,
    .kick = uring_kick,
    .poll = uring_poll,
    .process = uring_process,
    .size = uring_size,
    .inflight = uring_inflight,
    .ready = uring_ready,
    .destroy = uring_destroy,
};

int bn_blk_uring_open(struct bn_blk_corm **out, const char *path,
                      const struct bn_blk_uring_opts *opts)
{
        struct bn_blk_uring_opts def = {.readonly = 0, .direct = -1, .depth = 128};
        struct uring_corm *u;
        struct stat st;
        int flags, r;

        if (!opts)
                opts = &def;
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->base.ops = &uring_ops;
        u->fd = -1;
        u->readonly = opts->readonly;
        u->depth = opts->depth ? opts->depth : 128;
        if (u->depth > 4096)
                u->depth = 4096;
        if (stat(path, &st) < 0) {
                r = -errno;
                goto fail;
        }
        u->is_blk = S_ISBLK(st.st_mode);
        if (!u->is_blk && !S_ISREG(st.st_mode)) {
                r = -EINVAL;
                goto fail;
        }
        flags = (u->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
        if (opts->direct == 1 || (opts->direct < 0 && u->is_blk))
                flags |= O_DIRECT;
        u->fd = open(path, flags);
        if (u->fd < 0) {
                r = -errno;
                goto fail;
        }
        r = io_uring_queue_init(u->depth, &u->ring, 0);
        if (r < 0)
                goto fail;
        u->ring_ok = 1;
        r = io_uring_register_files(&u->ring, &u->fd, 1);
        if (r < 0)
                goto fail;
        *out = &u->base;
        return 0;
fail:
        uring_destroy(&u->base);
        return r;
}
