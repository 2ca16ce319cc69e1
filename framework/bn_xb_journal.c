/* bn_xb_journal.c: ring journals, the per-device memory that outlives a
 * crash of bananad so that a class can take its rings back exactly (see
 * bn_xenbus.h). One file per device in the run directory, mapped shared:
 * a page of header, then the class's area. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bn_log.h"
#include "bn_xenbus.h"
#include "bn_xenbus_int.h"

#define JOURNAL_MAGIC 0x6c6e726a616e6162ull /* "banajrnl" */
#define JOURNAL_HDR   4096u

struct journal_hdr {
        uint64_t magic;
        uint64_t key;
        uint64_t size;
};

static int journal_path(const struct bn_xb_dev *dev, char *buf, size_t len)
{
        const char *dir = dev->xb->cfg.run_dir;
        int n;

        if (!dir || !dir[0])
                return -ENOTSUP;
        n = snprintf(buf, len, "%s/%s-%u-%u.journal", dir, dev->type, dev->fe_domid, dev->devid);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

uint64_t bn_xb_journal_key(struct bn_xb_dev *dev, unsigned nq, const char *const *keys)
{
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        char key[96], val[64];

        for (unsigned i = 0; i < nq; i++) {
                for (const char *const *k = keys; *k; k++) {
                        if (nq > 1)
                                snprintf(key, sizeof(key), "queue-%u/%s", i, *k);
                        else
                                snprintf(key, sizeof(key), "%s", *k);
                        if (bn_xb_read_fe(dev, key, val, sizeof(val)) < 0)
                                val[0] = 0;
                        for (const char *c = key; *c; c++)
                                h = (h ^ (uint8_t)*c) * 1099511628211ull;
                        h = (h ^ '=') * 1099511628211ull;
                        for (const char *c = val; *c; c++)
                                h = (h ^ (uint8_t)*c) * 1099511628211ull;
                }
        }
        return h ^ nq;
}

bool bn_xb_dev_detaching(const struct bn_xb_dev *dev)
{
        return dev->detaching;
}

int bn_xb_journal_map(struct bn_xb_dev *dev, size_t size, uint64_t key, void **addr, bool *resumed)
{
        char path[512];
        struct journal_hdr *h = MAP_FAILED;
        const char *what = NULL; /* the step that failed */
        struct stat st;
        int fd = -1, rc;
        bool old = false;

        *addr = NULL;
        *resumed = false;
        size = (size + JOURNAL_HDR - 1) / JOURNAL_HDR * JOURNAL_HDR;
        rc = journal_path(dev, path, sizeof(path));
        if (rc)
                goto out;
        if (mkdir(dev->xb->cfg.run_dir, 0700) < 0 && errno != EEXIST) {
                what = "create the directory of";
                goto fail;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || fstat(fd, &st) < 0) {
                what = "open";
                goto fail;
        }
        old = (uint64_t)st.st_size == JOURNAL_HDR + size;
        if (!old && ftruncate(fd, (off_t)(JOURNAL_HDR + size)) < 0) {
                what = "size";
                goto fail;
        }
        h = mmap(NULL, JOURNAL_HDR + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (h == MAP_FAILED) {
                what = "map";
                goto fail;
        }
        if (dev->resuming && old && h->magic == JOURNAL_MAGIC && h->key == key && h->size == size) {
                *resumed = true;
        } else {
                memset(h, 0, JOURNAL_HDR + size);
                h->key = key;
                h->size = size;
                __atomic_store_n(&h->magic, JOURNAL_MAGIC, __ATOMIC_RELEASE);
        }
        *addr = (uint8_t *)h + JOURNAL_HDR;
        h = MAP_FAILED;
        rc = 0;
        goto out;
fail:
        rc = -errno;
        bn_warn(dev->name,
                "cannot %s the ring journal %s: %s (a crash of bananad cannot be recovered "
                "exactly)",
                what, path, strerror(-rc));
out:
        if (h != MAP_FAILED)
                munmap(h, JOURNAL_HDR + size);
        if (fd >= 0)
                close(fd);
        return rc;
}

void *bn_xb_journal_open(struct bn_xb_dev *dev, size_t size, unsigned nq, const char *const *keys,
                         bool *resumed)
{
        void *addr;

        if (bn_xb_journal_map(dev, size, bn_xb_journal_key(dev, nq, keys), &addr, resumed) < 0)
                return NULL;
        return addr;
}

void bn_xb_journal_unmap(struct bn_xb_dev *dev, void *addr, size_t size)
{
        (void)dev;
        if (!addr)
                return;
        size = (size + JOURNAL_HDR - 1) / JOURNAL_HDR * JOURNAL_HDR;
        munmap((uint8_t *)addr - JOURNAL_HDR, JOURNAL_HDR + size);
}

void bn_xb_journal_remove(struct bn_xb_dev *dev)
{
        char path[512];

        if (journal_path(dev, path, sizeof(path)) == 0)
                unlink(path);
}

void bn_xb_journal_sweep(struct bn_xenbus *xb)
{
        const char *dir = xb->cfg.run_dir;
        struct dirent *de;
        DIR *d;

        if (!dir || !dir[0] || !(d = opendir(dir)))
                return;
        while ((de = readdir(d))) {
                char type[32], tail[16], be[BN_XB_PATH_MAX + 64], path[512];
                unsigned domid, devid;
                char *v;

                if (sscanf(de->d_name, "%31[a-z0-9]-%u-%u%15s", type, &domid, &devid, tail) != 4 ||
                    strcmp(tail, ".journal") != 0)
                        continue;
                snprintf(be, sizeof(be), "%s/backend/%s/%u/%u/state", xb->dom_path, type, domid,
                         devid);
                v = bn_xb_xs_read(xb, be);
                if (v) {
                        free(v);
                        continue;
                }
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                if (unlink(path) == 0)
                        bn_info("xenbus", "removed the ring journal %s: its device is gone", path);
        }
        closedir(d);
}
