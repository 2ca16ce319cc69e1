/* test_corm_uring.c: the io_uring Corm against a real file: many writes in
 * flight, a flush after which the bytes are in the file (read directly with
 * pread), reads back through the Corm, discard punching a hole, a file that
 * grows, a read-only disk refusing writes, O_DIRECT. */
#include "devices/blk/bn_blk_corm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bn_check.h"

#define BS   4096u
#define NBLK 256u
#define DISK ((uint64_t)BS * NBLK)

struct req {
        struct bn_blk_io io;
        struct iovec iov[2];
        int completed;
};

static void on_done(struct bn_blk_io *io)
{
        struct req *r = io->opaque;
        r->completed++;
}

static void fill(unsigned char *p, uint32_t blk, uint32_t gen)
{
        for (uint32_t i = 0; i < BS; i++)
                p[i] = (unsigned char)(blk * 31 + gen * 7 + i);
}

static int run_until(struct bn_blk_corm *c, struct req *rs, int n)
{
        for (int spins = 0; spins < 20000; spins++) {
                int all = 1;
                for (int i = 0; i < n; i++)
                        all &= rs[i].completed > 0;
                if (all)
                        return 0;
                if (bn_blk_corm_wait(c, 100) < 0)
                        return -1;
        }
        return -1;
}

static void test_rw_flush(const char *path, int direct)
{
        struct bn_blk_uring_opts o = {.direct = direct, .depth = 32};
        struct bn_blk_corm *c = NULL;
        static struct req rs[NBLK];
        unsigned char *buf, *chk;
        int fd = -1;

        CHECK(posix_memalign((void **)&buf, 4096, (size_t)BS * NBLK) == 0);
        CHECK(posix_memalign((void **)&chk, 4096, BS) == 0);
        CHECK(bn_blk_uring_open(&c, path, &o) == 0);
        if (!c)
                return;
        /* All blocks written at once: more than the ring holds (backlog). */
        for (uint32_t b = 0; b < NBLK; b++) {
                struct req *r = &rs[b];
                memset(r, 0, sizeof(*r));
                fill(buf + (size_t)b * BS, b, 1);
                /* two iovecs per request: halves of the block */
                r->iov[0] = (struct iovec){buf + (size_t)b * BS, BS / 2};
                r->iov[1] = (struct iovec){buf + (size_t)b * BS + BS / 2, BS / 2};
                r->io = (struct bn_blk_io){.op = BN_BLK_IO_WRITE,
                                           .offset = (uint64_t)b * BS,
                                           .len = BS,
                                           .iov = r->iov,
                                           .niov = 2,
                                           .done = on_done,
                                           .opaque = r};
                CHECK(bn_blk_corm_submit(c, &r->io) == 0);
        }
        CHECK(run_until(c, rs, NBLK) == 0);
        for (uint32_t b = 0; b < NBLK; b++)
                CHECK(rs[b].io.result == 0 && rs[b].completed == 1);
        /* flush, then the bytes are in the file */
        memset(&rs[0], 0, sizeof(rs[0]));
        rs[0].io = (struct bn_blk_io){.op = BN_BLK_IO_FLUSH, .done = on_done, .opaque = &rs[0]};
        CHECK(bn_blk_corm_submit(c, &rs[0].io) == 0);
        CHECK(run_until(c, rs, 1) == 0 && rs[0].io.result == 0);
        fd = open(path, O_RDONLY);
        CHECK(fd >= 0);
        for (uint32_t b = 0; b < NBLK; b += 17) {
                unsigned char want[BS];
                fill(want, b, 1);
                CHECK(pread(fd, chk, BS, (off_t)b * BS) == (ssize_t)BS);
                CHECK(memcmp(chk, want, BS) == 0);
        }
        close(fd);
        /* read back through the Corm */
        memset(buf, 0, (size_t)BS * NBLK);
        for (uint32_t b = 0; b < NBLK; b++) {
                struct req *r = &rs[b];
                memset(r, 0, sizeof(*r));
                r->iov[0] = (struct iovec){buf + (size_t)b * BS, BS};
                r->io = (struct bn_blk_io){.op = BN_BLK_IO_READ,
                                           .offset = (uint64_t)b * BS,
                                           .len = BS,
                                           .iov = r->iov,
                                           .niov = 1,
                                           .done = on_done,
                                           .opaque = r};
                CHECK(bn_blk_corm_submit(c, &r->io) == 0);
        }
        CHECK(run_until(c, rs, NBLK) == 0);
        for (uint32_t b = 0; b < NBLK; b++) {
                unsigned char want[BS];
                fill(want, b, 1);
                CHECK(rs[b].io.result == 0);
                CHECK(memcmp(buf + (size_t)b * BS, want, BS) == 0);
        }
        CHECK(bn_blk_corm_inflight(c) == 0);
        /* invalid: iov sum mismatch */
        rs[0].io.len = BS + 1;
        CHECK(bn_blk_corm_submit(c, &rs[0].io) == -EINVAL);
        bn_blk_corm_destroy(c);
        free(buf);
        free(chk);
}

static void test_discard_grow_ro(const char *path)
{
        struct bn_blk_corm *c = NULL;
        struct bn_blk_uring_opts o = {.direct = 0};
        struct req r;
        struct stat st0, st1;
        uint64_t sz = 0;
        unsigned char data[BS];
        off_t hole;
        int fd;

        CHECK(bn_blk_uring_open(&c, path, &o) == 0);
        if (!c)
                return;
        CHECK(stat(path, &st0) == 0);
        memset(&r, 0, sizeof(r));
        r.io = (struct bn_blk_io){.op = BN_BLK_IO_DISCARD,
                                  .offset = 64 * BS,
                                  .len = 64 * BS,
                                  .done = on_done,
                                  .opaque = &r};
        CHECK(bn_blk_corm_submit(c, &r.io) == 0);
        CHECK(run_until(c, &r, 1) == 0 && r.io.result == 0);
        CHECK(stat(path, &st1) == 0);
        CHECK(st1.st_size == st0.st_size);    /* KEEP_SIZE */
        CHECK(st1.st_blocks < st0.st_blocks); /* the hole is punched */
        fd = open(path, O_RDONLY);
        hole = lseek(fd, 0, SEEK_HOLE);
        CHECK(hole == 64 * BS);
        CHECK(pread(fd, data, BS, 70 * BS) == BS);
        for (unsigned i = 0; i < BS; i++)
                CHECK(data[i] == 0);
        close(fd);
        /* growth */
        CHECK(bn_blk_corm_size(c, &sz) == 0 && sz == DISK);
        CHECK(truncate(path, (off_t)DISK * 2) == 0);
        CHECK(bn_blk_corm_size(c, &sz) == 0 && sz == DISK * 2);
        CHECK(truncate(path, (off_t)DISK) == 0);
        bn_blk_corm_destroy(c);

        /* read-only: writes refused, reads fine */
        c = NULL;
        o.readonly = 1;
        CHECK(bn_blk_uring_open(&c, path, &o) == 0);
        if (!c)
                return;
        memset(&r, 0, sizeof(r));
        r.iov[0] = (struct iovec){data, BS};
        r.io = (struct bn_blk_io){.op = BN_BLK_IO_WRITE,
                                  .offset = 0,
                                  .len = BS,
                                  .iov = r.iov,
                                  .niov = 1,
                                  .done = on_done,
                                  .opaque = &r};
        CHECK(bn_blk_corm_submit(c, &r.io) == 0);
        CHECK(run_until(c, &r, 1) == 0 && r.io.result == -EROFS);
        r.completed = 0;
        r.io.op = BN_BLK_IO_READ;
        CHECK(bn_blk_corm_submit(c, &r.io) == 0);
        CHECK(run_until(c, &r, 1) == 0 && r.io.result == 0);
        bn_blk_corm_destroy(c);
        CHECK(bn_blk_uring_open(&c, "/nonexistent/disk", &o) == -ENOENT);
}

int main(int argc, char **argv)
{
        const char *dir = argc > 1 ? argv[1] : "/tmp";
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/bn-corm-uring-%d.img", dir, (int)getpid());
        fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)DISK) < 0) {
                perror(path);
                return 1;
        }
        close(fd);
        test_rw_flush(path, 0);
        test_discard_grow_ro(path);
        /* O_DIRECT where the file system supports it (not tmpfs) */
        fd = open(path, O_RDWR | O_DIRECT);
        if (fd >= 0) {
                close(fd);
                test_rw_flush(path, 1);
        } else {
                printf("O_DIRECT not supported in %s: skipped that part\n", dir);
        }
        unlink(path);
        if (bn_check_failures) {
                fprintf(stderr, "test_corm_uring: %d bn_check_failures\n", bn_check_failures);
                return 1;
        }
        printf("test_corm_uring: ok\n");
        return 0;
}
