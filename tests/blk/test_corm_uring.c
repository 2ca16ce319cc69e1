/* test_corm_uring.c: the io_uring Corm against a real file: many writes in
 * flight, a flush after which the bytes are in the file (read directly with
 * pread), reads back through the Corm, discard punching a hole, a file that
 * grows, a read-only disk refusing writes, O_DIRECT; the mirror provider
 * (swap-corm's copy) copying one file to another under writes in flight. */
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

/* The mirror: src filled, dst zero; 32 writes in flight to distinct blocks
 * (half at the copier's cursor) and a flush per round while the copier copies in 8 KiB chunks.
 * At the end both files hold exactly what was last written. A smaller dst
 * is refused. */
/* Write block blk, filled for generation gen, from buf through r. */
static int submit_write(struct bn_blk_corm *c, struct req *r, unsigned char *buf, uint32_t blk,
                        uint32_t gen)
{
        fill(buf, blk, gen);
        memset(r, 0, sizeof(*r));
        r->iov[0] = (struct iovec){buf, BS};
        r->io = (struct bn_blk_io){.op = BN_BLK_IO_WRITE,
                                   .offset = (uint64_t)blk * BS,
                                   .len = BS,
                                   .iov = r->iov,
                                   .niov = 1,
                                   .done = on_done,
                                   .opaque = r};
        return bn_blk_corm_submit(c, &r->io);
}

static void test_mirror(const char *src_path, const char *dir)
{
        struct bn_blk_uring_opts o = {.direct = 0};
        struct bn_blk_mirror_opts mo = {.chunk = BS};
        struct bn_blk_corm *s = NULL, *d = NULL, *m = NULL, *s2 = NULL;
        struct bn_blk_mirror_stats st;
        static uint32_t gen[NBLK];
        static struct req rs[33];
        unsigned char *bufs = malloc((size_t)BS * 32), *a = malloc(DISK), *b = malloc(DISK);
        char dst_path[4096];
        unsigned seed = 7, rounds = 0;
        int fd;

        snprintf(dst_path, sizeof(dst_path), "%s/bn-corm-mirror-%d.img", dir, (int)getpid());
        fd = open(dst_path, O_CREAT | O_RDWR | O_TRUNC, 0600);
        CHECK(fd >= 0 && ftruncate(fd, (off_t)DISK / 2) == 0);
        close(fd);
        fd = open(src_path, O_RDWR);
        CHECK(fd >= 0);
        for (uint32_t blk = 0; blk < NBLK; blk++) {
                fill(a, blk, 100);
                gen[blk] = 100;
                CHECK(pwrite(fd, a, BS, (off_t)blk * BS) == BS);
        }
        close(fd);
        CHECK(bn_blk_uring_open(&s, src_path, &o) == 0);
        CHECK(bn_blk_uring_open(&d, dst_path, &o) == 0);
        CHECK(bn_blk_mirror_open(&m, s, d, &mo) == -ENOSPC && !m);
        CHECK(truncate(dst_path, (off_t)DISK) == 0);
        CHECK(bn_blk_mirror_open(&m, s, d, &mo) == 0);
        if (!m || !bufs || !a || !b)
                goto out;
        do {
                bool used[NBLK] = {false};
                for (int i = 0; i < 32; i++) {
                        uint32_t blk, tries = 0;
                        bn_blk_mirror_stats(m, &st);
                        do /* half of them at the copier's cursor: the race it must win */
                                blk = i % 2 || tries > 16
                                          ? (uint32_t)rand_r(&seed) % NBLK
                                          : (uint32_t)((st.copied / BS +
                                                        (uint32_t)rand_r(&seed) % 8) %
                                                       NBLK);
                        while (used[blk] && ++tries < 100000);
                        used[blk] = true;
                        gen[blk]++;
                        CHECK(submit_write(m, &rs[i], bufs + (size_t)i * BS, blk, gen[blk]) == 0);
                        bn_blk_corm_kick(m);
                        bn_blk_corm_wait(m, 0); /* the copier moves between the writes */
                }
                memset(&rs[32], 0, sizeof(rs[32]));
                rs[32].io =
                    (struct bn_blk_io){.op = BN_BLK_IO_FLUSH, .done = on_done, .opaque = &rs[32]};
                CHECK(bn_blk_corm_submit(m, &rs[32].io) == 0);
                bn_blk_corm_kick(m);
                CHECK(run_until(m, rs, 33) == 0);
                for (int i = 0; i < 33; i++)
                        CHECK(rs[i].io.result == 0);
                bn_blk_mirror_stats(m, &st);
                CHECK(st.error == 0);
        } while ((st.copied < st.total || ++rounds < 4) && rounds < 1000);
        CHECK(st.copied == DISK && st.total == DISK);
        printf("mirror: %llu writes waited for a chunk\n", (unsigned long long)st.waited);
        /* ended with writes in flight: each is answered once, by src */
        for (int i = 0; i < 32; i++) {
                uint32_t blk = (uint32_t)i * 5;
                gen[blk]++;
                CHECK(submit_write(m, &rs[i], bufs + (size_t)i * BS, blk, gen[blk]) == 0);
        }
        bn_blk_corm_kick(m);
        s2 = bn_blk_mirror_end(m);
        CHECK(s2 == s);
        for (int i = 0; i < 32; i++)
                CHECK(rs[i].completed == 1 && rs[i].io.result == 0);
        bn_blk_corm_destroy(s2);
        s = d = m = NULL;
        fd = open(src_path, O_RDONLY);
        CHECK(fd >= 0 && pread(fd, a, DISK, 0) == (ssize_t)DISK);
        close(fd);
        fd = open(dst_path, O_RDONLY);
        CHECK(fd >= 0 && pread(fd, b, DISK, 0) == (ssize_t)DISK);
        close(fd);
        for (uint32_t blk = 0; blk < NBLK; blk++) {
                unsigned char want[BS];
                fill(want, blk, gen[blk]);
                CHECK(memcmp(a + (size_t)blk * BS, want, BS) == 0);
                /* dst: all but the blocks written while the mirror ended */
                CHECK(blk % 5 == 0 || memcmp(b + (size_t)blk * BS, want, BS) == 0);
        }
out:
        if (m)
                bn_blk_corm_destroy(m);
        unlink(dst_path);
        free(bufs);
        free(a);
        free(b);
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
        test_mirror(path, dir);
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
