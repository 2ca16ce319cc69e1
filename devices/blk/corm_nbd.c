/* corm_nbd.c: the NBD disk Corm (bn_blk_nbd_open): an NBD export reached
 * with libnbd's asynchronous API, driven by the owner's loop through
 * nbd_aio_get_fd / nbd_aio_get_direction / nbd_aio_notify_read/write.
 *
 * Every accepted request sits on one "active" list in submission order
 * until it completes. A request is QUEUED (not sent on the current
 * connection) or ISSUED (its commands, one per iovec, are in flight). When
 * the connection dies, the handle is closed (callbacks of its generation are
 * ignored from then on), every ISSUED request goes back to QUEUED and a new
 * connection is attempted with exponential backoff; once it is ready the
 * QUEUED requests are sent again in their original order. A request is
 * completed to the submitter only from a reply on a live connection, so
 * none is lost or completed twice (a replayed write writes the same bytes
 * to the same place again, which the guest cannot tell apart).
 *
 * A FLUSH is sent only when it is the oldest active request, so it covers
 * every request submitted before it. */
#include "bn_blk_corm.h"

#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { IO_QUEUED = 0, IO_ISSUED = 1 };

struct nbd_corm {
        struct bn_blk_corm base;
        char *uri;
        struct nbd_handle *h;
        int ready;
        uint64_t gen;
        uint64_t size;
        int have_size;
        int ever_ready;
        int last_errno; /* of the last failed connect */
        uint64_t reconnects;
        unsigned max_inflight, backoff_min, backoff_max, backoff;
        uint64_t next_attempt_ms; /* when h == NULL */
        uint32_t cmds;            /* NBD commands in flight on h */
        uint32_t outstanding;
        struct bn_blk_io *head, *tail;           /* active, submission order */
        struct bn_blk_io *done_head, *done_tail; /* to complete */
};

struct nbd_cmd {
        struct nbd_corm *n;
        struct bn_blk_io *io;
        uint64_t gen;
};

static struct nbd_corm *N(struct bn_blk_corm *c)
{
        return (struct nbd_corm *)c;
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void active_remove(struct nbd_corm *n, struct bn_blk_io *io)
{
        if (io->prev)
                io->prev->next = io->next;
        else
                n->head = io->next;
        if (io->next)
                io->next->prev = io->prev;
        else
                n->tail = io->prev;
        io->next = io->prev = NULL;
}

static void active_append(struct nbd_corm *n, struct bn_blk_io *io)
{
        io->next = NULL;
        io->prev = n->tail;
        if (n->tail)
                n->tail->next = io;
        else
                n->head = io;
        n->tail = io;
}

static void to_done(struct nbd_corm *n, struct bn_blk_io *io, int result)
{
        active_remove(n, io);
        io->result = result;
        io->next = NULL;
        if (n->done_tail)
                n->done_tail->next = io;
        else
                n->done_head = io;
        n->done_tail = io;
}

static void cmd_free(void *opaque)
{
        free(opaque);
}

static int cmd_done(void *opaque, int *error)
{
        struct nbd_cmd *cmd = opaque;
        struct nbd_corm *n = cmd->n;
        struct bn_blk_io *io = cmd->io;

        if (cmd->gen != n->gen)
                return 1; /* an old connection's: the request was requeued */
        if (*error == ENOTCONN || *error == ESHUTDOWN || *error == ECONNRESET || *error == EPIPE ||
            nbd_aio_is_dead(n->h) || nbd_aio_is_closed(n->h))
                return 1; /* the connection died: it will be replayed */
        if (n->cmds)
                n->cmds--;
        if (*error && !io->error)
                io->error = -*error;
        if (io->pending && --io->pending == 0)
                to_done(n, io, io->error);
        return 1;
}

/* Send io's commands on the live connection; -errno if libnbd refused. */
static int issue(struct nbd_corm *n, struct bn_blk_io *io)
{
        uint64_t off = io->offset;
        int64_t r = 0;

        io->pending = 0;
        io->error = 0;
        io->state = IO_ISSUED;
        for (uint32_t i = 0; i <= io->niov; i++) {
                struct nbd_cmd *cmd;
                nbd_completion_callback cb;

                if ((io->op == BN_BLK_IO_READ || io->op == BN_BLK_IO_WRITE) &&
                    (i == io->niov || io->iov[i].iov_len == 0))
                        continue;
                if (io->op != BN_BLK_IO_READ && io->op != BN_BLK_IO_WRITE && i > 0)
                        break;
                cmd = malloc(sizeof(*cmd));
                if (!cmd)
                        return -ENOMEM;
                *cmd = (struct nbd_cmd){.n = n, .io = io, .gen = n->gen};
                cb = (nbd_completion_callback){
                    .callback = cmd_done, .user_data = cmd, .free = cmd_free};
                switch (io->op) {
                case BN_BLK_IO_READ:
                        r = nbd_aio_pread(n->h, io->iov[i].iov_base, io->iov[i].iov_len, off, cb,
                                          0);
                        off += io->iov[i].iov_len;
                        break;
                case BN_BLK_IO_WRITE:
                        r = nbd_aio_pwrite(n->h, io->iov[i].iov_base, io->iov[i].iov_len, off, cb,
                                           0);
                        off += io->iov[i].iov_len;
                        break;
                case BN_BLK_IO_FLUSH:
                        r = nbd_aio_flush(n->h, cb, 0);
                        break;
                case BN_BLK_IO_DISCARD:
                        r = nbd_aio_trim(n->h, io->len, io->offset, cb, 0);
                        break;
                }
                /* libnbd frees the callback (cmd) itself on failure too. */
                if (r < 0)
                        return nbd_get_errno() ? -nbd_get_errno() : -EIO;
                io->pending++;
                n->cmds++;
        }
        if (io->pending == 0) /* nothing to send (zero-length) */
                to_done(n, io, 0);
        return 0;
}

static void lost_connection(struct nbd_corm *n)
{
        n->gen++;
        if (n->h)
                nbd_close(n->h); /* frees (ignored) callbacks of the old gen */
        n->h = NULL;
        n->ready = 0;
        n->cmds = 0;
        for (struct bn_blk_io *io = n->head; io; io = io->next) {
                io->state = IO_QUEUED;
                io->pending = 0;
                io->error = 0;
        }
        n->next_attempt_ms = now_ms() + n->backoff;
        n->backoff = n->backoff * 2 > n->backoff_max ? n->backoff_max : n->backoff * 2;
}

static void issue_queued(struct nbd_corm *n)
{
        struct bn_blk_io *io, *next;

        if (!n->ready)
                return;
        for (io = n->head; io; io = next) {
                int r;
                next = io->next;
                if (io->state != IO_QUEUED)
                        continue;
                if (io->op == BN_BLK_IO_FLUSH && io != n->head)
                        continue; /* waits for everything before it */
                if (n->cmds + (io->niov ? io->niov : 1) > n->max_inflight && n->cmds)
                        break;
                r = issue(n, io);
                if (r < 0) {
                        if (nbd_aio_is_dead(n->h) || nbd_aio_is_closed(n->h)) {
                                lost_connection(n);
                                return;
                        }
                        /* refused by libnbd for this request alone */
                        if (io->pending == 0)
                                to_done(n, io, r);
                        else
                                io->error = r;
                }
        }
}

static void try_connect(struct nbd_corm *n)
{
        n->h = nbd_create();
        if (!n->h)
                goto failed;
        if (nbd_aio_connect_uri(n->h, n->uri) < 0)
                goto failed;
        return;
failed:
        n->last_errno = nbd_get_errno();
        lost_connection(n);
}

/* After any progress: connection state transitions. */
static void check_state(struct nbd_corm *n)
{
        if (!n->h)
                return;
        if (nbd_aio_is_dead(n->h) || nbd_aio_is_closed(n->h)) {
                lost_connection(n);
                return;
        }
        if (!n->ready && nbd_aio_is_ready(n->h)) {
                int64_t sz = nbd_get_size(n->h);
                n->ready = 1;
                n->backoff = n->backoff_min;
                if (n->ever_ready)
                        n->reconnects++;
                n->ever_ready = 1;
                if (sz >= 0) {
                        n->size = (uint64_t)sz;
                        n->have_size = 1;
                }
        }
}

static void run_done(struct nbd_corm *n)
{
        struct bn_blk_io *io;

        while ((io = n->done_head)) {
                n->done_head = io->next;
                if (!n->done_head)
                        n->done_tail = NULL;
                io->next = NULL;
                n->outstanding--;
                io->done(io);
        }
}

static int ncorm_submit(struct bn_blk_corm *c, struct bn_blk_io *io)
{
        struct nbd_corm *n = N(c);
        uint64_t sum = 0;

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
        io->result = 0;
        io->pending = 0;
        io->error = 0;
        io->state = IO_QUEUED;
        active_append(n, io);
        n->outstanding++;
        return 0;
}

static void ncorm_kick(struct bn_blk_corm *c)
{
        struct nbd_corm *n = N(c);
        issue_queued(n);
        check_state(n);
}

static void ncorm_poll(struct bn_blk_corm *c, int *fd, short *events, int *timeout_ms)
{
        struct nbd_corm *n = N(c);

        *fd = -1;
        *events = 0;
        *timeout_ms = -1;
        if (n->done_head) {
                *timeout_ms = 0;
                return;
        }
        if (!n->h) {
                uint64_t t = now_ms();
                *timeout_ms = n->next_attempt_ms > t ? (int)(n->next_attempt_ms - t) : 0;
                return;
        }
        *fd = nbd_aio_get_fd(n->h);
        if (*fd < 0) {
                *timeout_ms = 10; /* connecting, no socket yet */
                return;
        }
        unsigned dir = nbd_aio_get_direction(n->h);
        if (dir & LIBNBD_AIO_DIRECTION_READ)
                *events |= POLLIN;
        if (dir & LIBNBD_AIO_DIRECTION_WRITE)
                *events |= POLLOUT;
}

static int ncorm_process(struct bn_blk_corm *c, short revents)
{
        struct nbd_corm *n = N(c);

        if (!n->h) {
                if (now_ms() >= n->next_attempt_ms)
                        try_connect(n);
        } else {
                unsigned dir = nbd_aio_get_direction(n->h);
                int r = 0;
                if ((revents & (POLLIN | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_READ))
                        r = nbd_aio_notify_read(n->h);
                if (r == 0 && (revents & (POLLOUT | POLLERR)) &&
                    (nbd_aio_get_direction(n->h) & LIBNBD_AIO_DIRECTION_WRITE))
                        r = nbd_aio_notify_write(n->h);
                (void)r; /* failures show as a dead handle */
        }
        check_state(n);
        issue_queued(n);
        check_state(n);
        run_done(n);
        return 0;
}

static int ncorm_size(struct bn_blk_corm *c, uint64_t *bytes)
{
        struct nbd_corm *n = N(c);
        if (!n->have_size)
                return -ENOTCONN;
        *bytes = n->size;
        return 0;
}

static uint32_t ncorm_inflight(struct bn_blk_corm *c)
{
        return N(c)->outstanding;
}

static void ncorm_destroy(struct bn_blk_corm *c)
{
        struct nbd_corm *n = N(c);

        /* Closing the handle first: its callbacks are of this generation
         * and would otherwise touch requests being cancelled. */
        n->gen++;
        if (n->h)
                nbd_close(n->h);
        n->h = NULL;
        while (n->head)
                to_done(n, n->head, -ECANCELED);
        run_done(n);
        free(n->uri);
        free(n);
}

static const struct bn_blk_corm_ops nbd_ops = {
    .name = "nbd",
    .submit = ncorm_submit,
    .kick = ncorm_kick,
    .poll = ncorm_poll,
    .process = ncorm_process,
    .size = ncorm_size,
    .inflight = ncorm_inflight,
    .destroy = ncorm_destroy,
};

int bn_blk_nbd_open(struct bn_blk_corm **out, const char *uri, const struct bn_blk_nbd_opts *opts)
{
        struct nbd_corm *n;

        if (!uri || !*uri)
                return -EINVAL;
        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->base.ops = &nbd_ops;
        n->uri = strdup(uri);
        if (!n->uri) {
                free(n);
                return -ENOMEM;
        }
        n->max_inflight = opts && opts->max_inflight ? opts->max_inflight : 64;
        n->backoff_min = opts && opts->backoff_min_ms ? opts->backoff_min_ms : 50;
        n->backoff_max = opts && opts->backoff_max_ms ? opts->backoff_max_ms : 2000;
        n->backoff = n->backoff_min;
        try_connect(n);
        if (!n->h && (n->last_errno == EINVAL || n->last_errno == ENOTSUP ||
                      n->last_errno == EPROTONOSUPPORT)) {
                /* a URI libnbd cannot use: do not retry forever */
                int r = -n->last_errno;
                ncorm_destroy(&n->base);
                return r;
        }
        *out = &n->base;
        return 0;
}

int bn_blk_nbd_connected(struct bn_blk_corm *c)
{
        return N(c)->ready;
}

uint64_t bn_blk_nbd_reconnects(struct bn_blk_corm *c)
{
        return N(c)->reconnects;
}
