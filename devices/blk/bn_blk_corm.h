/* bn_blk_corm.h: the disk Corm plug-in point. A Corm serves one disk (a
 * file or block device through io_uring, an NBD export through libnbd) and
 * is shared by every Spike wired to it. Spikes hand it bn_blk_io requests
 * whose data buffers they own (bounce buffers filled by grant copy, or
 * mapped guest pages); the Corm completes each one exactly once.
 *
 * The Corm is driven by its owner's event loop without knowing it: the
 * owner asks bn_blk_corm_poll() what to wait for (an fd with poll events,
 * and/or a timeout), waits, and calls bn_blk_corm_process(). Both may be
 * asked again after every process() (the fd can change, e.g. on an NBD
 * reconnect). Not thread-safe: one thread drives a Corm.
 *
 * Ordering: a FLUSH completes only after every request submitted before it
 * has completed and the data is on stable storage (so, per Spike, a flush
 * covers every write acknowledged before it). Other requests may complete
 * in any order.
 */
#ifndef BN_BLK_CORM_H
#define BN_BLK_CORM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum bn_blk_io_op {
        BN_BLK_IO_READ = 0,
        BN_BLK_IO_WRITE,
        BN_BLK_IO_FLUSH,
        BN_BLK_IO_DISCARD,
};

struct bn_blk_io {
        /* Filled by the submitter. */
        enum bn_blk_io_op op;
        uint64_t offset;                    /* bytes from the start of the disk */
        uint64_t len;                       /* DISCARD: bytes; READ/WRITE: sum of iov lengths */
        struct iovec *iov;                  /* READ/WRITE data; must stay valid until done */
        uint32_t niov;                      /* <= BN_BLK_IO_IOV_MAX */
        void (*done)(struct bn_blk_io *io); /* called once, from process() */
        void *opaque;                       /* the submitter's */
        /* Set by the Corm before done: 0 or -errno. */
        int result;
        /* Private to the Corm. */
        struct bn_blk_io *next, *prev;
        uint32_t pending; /* sub-commands outstanding */
        int error;
        int state;
};

#define BN_BLK_IO_IOV_MAX 1024

struct bn_blk_corm;

/* The provider's function table. Each provider embeds struct bn_blk_corm
 * first in its own state. */
struct bn_blk_corm_ops {
        const char *name; /* "uring", "nbd" */
        /* Accept io (validated by the caller: offset + len within the
         * size last reported, iov/len consistent). Must not call io->done
         * from inside submit. May defer the kernel/network submission to
         * kick(). Returns 0, or -errno when refused (done is then not
         * called). */
        int (*submit)(struct bn_blk_corm *c, struct bn_blk_io *io);
        /* Start whatever submit() queued (one system call per batch). */
        void (*kick)(struct bn_blk_corm *c);
        /* What to wait for: *fd (-1: none) with poll *events, and
         * *timeout_ms (-1: none). Must not block. */
        void (*poll)(struct bn_blk_corm *c, int *fd, short *events, int *timeout_ms);
        /* Make progress after the wait (revents may be 0 on a timeout):
         * completes finished requests (calling done), submits queued ones.
         * Must not block. Returns 0 or -errno on a Corm-wide failure. */
        int (*process)(struct bn_blk_corm *c, short revents);
        /* The disk size in bytes, re-read now (files and devices may grow;
         * NBD reports the size of the current connection). */
        int (*size)(struct bn_blk_corm *c, uint64_t *bytes);
        /* Requests submitted and not yet completed. */
        uint32_t (*inflight)(struct bn_blk_corm *c);
        /* Optional: are completions waiting for process()? Answered
         * without a system call (an io_uring CQ in shared memory), for an
         * owner that polls before sleeping. NULL: only the fd tells. */
        int (*ready)(struct bn_blk_corm *c);
        /* Complete every outstanding request (waiting for the kernel where
         * it owns buffers; queued NBD requests fail with -ECANCELED), then
         * free the Corm. */
        void (*destroy)(struct bn_blk_corm *c);
};

struct bn_blk_corm {
        const struct bn_blk_corm_ops *ops;
};

static inline int bn_blk_corm_submit(struct bn_blk_corm *c, struct bn_blk_io *io)
{
        return c->ops->submit(c, io);
}
static inline void bn_blk_corm_kick(struct bn_blk_corm *c)
{
        c->ops->kick(c);
}
static inline void bn_blk_corm_poll(struct bn_blk_corm *c, int *fd, short *events, int *timeout_ms)
{
        c->ops->poll(c, fd, events, timeout_ms);
}
static inline int bn_blk_corm_process(struct bn_blk_corm *c, short revents)
{
        return c->ops->process(c, revents);
}
static inline int bn_blk_corm_size(struct bn_blk_corm *c, uint64_t *bytes)
{
        return c->ops->size(c, bytes);
}
static inline uint32_t bn_blk_corm_inflight(struct bn_blk_corm *c)
{
        return c->ops->inflight(c);
}
static inline int bn_blk_corm_ready(struct bn_blk_corm *c)
{
        return c->ops->ready ? c->ops->ready(c) : 0;
}
static inline void bn_blk_corm_destroy(struct bn_blk_corm *c)
{
        if (c)
                c->ops->destroy(c);
}

/* Wait (poll) at most timeout_ms for the Corm and process once; for tests,
 * tools and synchronous callers. Returns 0 or -errno. */
int bn_blk_corm_wait(struct bn_blk_corm *c, int timeout_ms);

/* ---- providers ---- */

struct bn_blk_uring_opts {
        int readonly;   /* open O_RDONLY; writes/discards refused with -EROFS */
        int direct;     /* 1: O_DIRECT; 0: page cache; -1: O_DIRECT for block devices */
        unsigned depth; /* ring entries (default 128) */
};
/* A file or block device through io_uring. */
int bn_blk_uring_open(struct bn_blk_corm **out, const char *path,
                      const struct bn_blk_uring_opts *opts);

struct bn_blk_nbd_opts {
        unsigned max_inflight;   /* NBD commands in flight (default 64) */
        unsigned backoff_min_ms; /* first reconnect delay (default 50) */
        unsigned backoff_max_ms; /* cap (default 2000) */
};
/* An NBD export through libnbd (nbd://, nbd+unix://, nbds://...). The
 * connection is made asynchronously; requests queue until it is up, and
 * are replayed after a reconnect when the server goes away. */
int bn_blk_nbd_open(struct bn_blk_corm **out, const char *uri, const struct bn_blk_nbd_opts *opts);
/* 1 when connected and ready, 0 otherwise. */
int bn_blk_nbd_connected(struct bn_blk_corm *c);
/* Reconnections so far. */
uint64_t bn_blk_nbd_reconnects(struct bn_blk_corm *c);

struct bn_blk_mirror_opts {
        uint64_t chunk; /* bytes copied at a time (default 1 MiB) */
        uint64_t rate;  /* copy rate bound in bytes/s (0: none) */
};
struct bn_blk_mirror_stats {
        uint64_t copied;   /* bytes of src copied to dst so far, from 0 */
        uint64_t total;    /* src's size when the mirror began */
        uint64_t waited;   /* writes that waited for a chunk being copied */
        uint32_t inflight; /* mirrored writes, flushes, discards in flight */
        uint32_t held;     /* waiting behind the copier */
        int error;         /* dst failed (-errno): the mirror is over, src goes on */
};
/* Mirror src to dst (corm_mirror.c): reads from src; writes, discards and
 * flushes to both, answered when both completed with src's result; a
 * copier copying src to dst in the background under a range lock, so that
 * once stats.copied == stats.total (and no error) dst holds what src holds.
 * -ENOSPC when dst is smaller than src. The mirror owns both until
 * bn_blk_mirror_end; destroy destroys both. */
int bn_blk_mirror_open(struct bn_blk_corm **out, struct bn_blk_corm *src, struct bn_blk_corm *dst,
                       const struct bn_blk_mirror_opts *opts);
bool bn_blk_is_mirror(const struct bn_blk_corm *c);
void bn_blk_mirror_stats(struct bn_blk_corm *c, struct bn_blk_mirror_stats *st);
/* End the mirror: dst is destroyed first (what it holds completes, its
 * results dropped), then what is in flight on src completes (bounded
 * wait); the mirror is freed and src handed back. */
struct bn_blk_corm *bn_blk_mirror_end(struct bn_blk_corm *c);

#endif
