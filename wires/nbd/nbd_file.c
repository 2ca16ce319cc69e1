/* nbd_file.c: the NBD server's back-end over a file or block device
 * (pread/pwrite, fdatasync, fallocate), completing every io inline; for
 * tests and bn-nbd-serve until the disk Corm is plugged in. */
#include "nbd_server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bn_nbd_file {
        int fd;
        bool read_only;
        uint64_t size;
};

int bn_nbd_file_open(struct bn_nbd_file **out, const char *path, bool read_only)
{
        struct bn_nbd_file *f;
        off_t end;
        int r;

        *out = NULL;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->read_only = read_only;
        f->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (f->fd < 0) {
                r = -errno;
                goto fail;
        }
        end = lseek(f->fd, 0, SEEK_END); /* files and block devices alike */
        if (end < 0) {
                r = -errno;
                goto fail;
        }
        f->size = (uint64_t)end;
        *out = f;
        return 0;
fail:
        if (f->fd >= 0)
                close(f->fd);
        free(f);
        return r;
}

void bn_nbd_file_close(struct bn_nbd_file *f)
{
        if (!f)
                return;
        close(f->fd);
        free(f);
}

static int file_size(void *be, uint64_t *size, bool *read_only)
{
        struct bn_nbd_file *f = be;

        *size = f->size;
        *read_only = f->read_only;
        return 0;
}

static int file_sync_if_fua(struct bn_nbd_file *f, const struct bn_nbd_io *io)
{
        if ((io->flags & BN_NBD_CMD_FLAG_FUA) && fdatasync(f->fd) < 0)
                return -errno;
        return 0;
}

static int file_read(void *be, struct bn_nbd_io *io)
{
        struct bn_nbd_file *f = be;
        size_t done = 0;
        ssize_t n;
        int r = 0;

        while (done < io->length) {
                n = pread(f->fd, io->buf + done, io->length - done, (off_t)(io->offset + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0) { /* the file shrank under us: zeroes */
                        memset(io->buf + done, 0, io->length - done);
                        break;
                }
                done += (size_t)n;
        }
        bn_nbd_io_done(io, r);
        return 0;
}

static int file_pwrite_all(struct bn_nbd_file *f, const uint8_t *p, size_t len, uint64_t off)
{
        ssize_t n;

        while (len) {
                n = pwrite(f->fd, p, len, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                off += (uint64_t)n;
                len -= (size_t)n;
        }
        return 0;
}

static int file_write(void *be, struct bn_nbd_io *io)
{
        struct bn_nbd_file *f = be;
        int r;

        r = file_pwrite_all(f, io->buf, io->length, io->offset);
        if (r == 0)
                r = file_sync_if_fua(f, io);
        bn_nbd_io_done(io, r);
        return 0;
}

static int file_flush(void *be, struct bn_nbd_io *io)
{
        struct bn_nbd_file *f = be;

        bn_nbd_io_done(io, fdatasync(f->fd) < 0 ? -errno : 0);
        return 0;
}

static int file_trim(void *be, struct bn_nbd_io *io)
{
        struct bn_nbd_file *f = be;
        int r = 0;

        /* TRIM is advisory: where holes cannot be punched it does nothing. */
        if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)io->offset,
                      (off_t)io->length) < 0 &&
            errno != EOPNOTSUPP)
                r = -errno;
        if (r == 0)
                r = file_sync_if_fua(f, io);
        bn_nbd_io_done(io, r);
        return 0;
}

static int file_zero(void *be, struct bn_nbd_io *io)
{
        static const uint8_t zeroes[65536];
        struct bn_nbd_file *f = be;
        uint64_t off = io->offset, left = io->length;
        size_t n;
        int r = 0;

        if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)left) <
            0) {
                /* no ZERO_RANGE here: write them */
                while (left && r == 0) {
                        n = left < sizeof(zeroes) ? (size_t)left : sizeof(zeroes);
                        r = file_pwrite_all(f, zeroes, n, off);
                        off += n;
                        left -= n;
                }
        }
        if (r == 0)
                r = file_sync_if_fua(f, io);
        bn_nbd_io_done(io, r);
        return 0;
}

const struct bn_nbd_backend_ops bn_nbd_file_ops = {
    .name = "file",
    .get_size = file_size,
    .read = file_read,
    .write = file_write,
    .flush = file_flush,
    .trim = file_trim,
    .zero = file_zero,
};
