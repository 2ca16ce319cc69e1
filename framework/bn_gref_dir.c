/* bn_gref_dir.c: mapping a guest buffer described by a grant-reference
 * directory (bn_gref_dir.h): walk the directory pages one at a time, each
 * mapped read-only and copied before use, then map every buffer page into
 * one contiguous range. */
#include "bn_gref_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_hv.h"

/* Copy the grants of one directory page: *next and up to want refs. */
static int read_dir_page(struct bn_gnt *g, uint32_t domid, uint32_t ref, uint32_t *next,
                         uint32_t *refs, uint32_t want)
{
        void *p = NULL;
        int rc = bn_gnt_map(g, domid, 1, &ref, 0, &p);
        if (rc)
                return rc;
        uint32_t page[1 + BN_GREF_DIR_PER_PAGE];
        memcpy(page, p, sizeof(page)); /* copy once, then use the copy */
        bn_gnt_unmap(g, p, 1);
        *next = page[0];
        memcpy(refs, page + 1, (size_t)want * sizeof(*refs));
        return 0;
}

int bn_gref_dir_map(struct bn_gnt *g, uint32_t domid, uint32_t dir_ref, uint64_t size,
                    uint64_t max_size, bool writable, struct bn_gref_buf *out, char *err,
                    size_t errlen)
{
        uint32_t *refs = NULL;
        int rc;
        memset(out, 0, sizeof(*out));
        if (size == 0 || size > max_size) {
                snprintf(err, errlen, "buffer size %llu is not 1..%llu", (unsigned long long)size,
                         (unsigned long long)max_size);
                rc = -EINVAL;
                goto out;
        }
        uint64_t npages = (size + BN_PAGE_SIZE - 1) / BN_PAGE_SIZE;
        refs = malloc((size_t)npages * sizeof(*refs));
        if (!refs) {
                snprintf(err, errlen, "no memory for %llu grants", (unsigned long long)npages);
                rc = -ENOMEM;
                goto out;
        }
        uint32_t ref = dir_ref, got = 0;
        for (unsigned page = 0; got < npages; page++) {
                uint32_t want = (uint32_t)(npages - got), next = 0;
                if (want > BN_GREF_DIR_PER_PAGE)
                        want = BN_GREF_DIR_PER_PAGE;
                if (page > 0 && ref == 0) {
                        snprintf(err, errlen,
                                 "the directory ends after %u page(s) (%u of %llu grants)", page,
                                 got, (unsigned long long)npages);
                        rc = -EPROTO;
                        goto out;
                }
                rc = read_dir_page(g, domid, ref, &next, refs + got, want);
                if (rc) {
                        snprintf(err, errlen, "directory page %u (grant %u): %s", page, ref,
                                 strerror(-rc));
                        goto out;
                }
                got += want;
                ref = next;
        }
        void *addr = NULL;
        rc = bn_gnt_map(g, domid, (uint32_t)npages, refs, writable, &addr);
        if (rc) {
                snprintf(err, errlen, "mapping %llu buffer page(s) (first grant %u): %s",
                         (unsigned long long)npages, refs[0], strerror(-rc));
                goto out;
        }
        out->addr = addr;
        out->npages = (uint32_t)npages;
        out->size = size;
        out->writable = writable;
out:
        free(refs);
        return rc;
}

void bn_gref_dir_unmap(struct bn_gnt *g, struct bn_gref_buf *buf)
{
        if (buf->addr)
                bn_gnt_unmap(g, buf->addr, buf->npages);
        buf->addr = NULL;
}
