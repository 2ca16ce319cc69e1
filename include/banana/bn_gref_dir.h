/* bn_gref_dir.h: mapping a large guest buffer given by a grant-reference
 * directory, the layout displif's DBUF_CREATE and GET_EDID use (and
 * sndif's, cameraif's): the guest grants one or more directory pages, each
 *     uint32_t next;        grant of the next directory page, 0 at the end
 *     uint32_t gref[1023];  grants of the buffer's pages, in order
 * and the number of buffer pages follows from the buffer's size.
 *
 * The guest is hostile: each directory page is mapped read-only, copied,
 * and unmapped before its values are used; the walk reads exactly the
 * pages the size needs (a loop in the chain cannot make it run longer), a
 * chain that ends early is an error, and the buffer's size is bounded by
 * the caller. Offsets into the mapped buffer are checked with
 * bn_gref_buf_check before use.
 *
 * Threads: like the grant handle it is given (one thread at a time).
 */
#ifndef BN_GREF_DIR_H
#define BN_GREF_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bn_gnt;

/* Buffer grants one directory page holds. */
#define BN_GREF_DIR_PER_PAGE ((4096u - 4u) / 4u)

struct bn_gref_buf {
        void *addr;      /* npages contiguous pages, NULL when not mapped */
        uint32_t npages; /* ceil(size / page) */
        uint64_t size;   /* bytes the guest said the buffer has */
        bool writable;
};

/* Map the size-byte buffer of domain domid whose directory starts at grant
 * dir_ref, read-only or writable. 0 < size <= max_size, else -EINVAL (a
 * caller's bound: what one buffer may cost). -ENOENT / -EPERM as
 * bn_gnt_map for a bad directory or buffer grant, -EPROTO for a directory
 * that ends before the buffer does. err gets the reason (which directory
 * page, which grant). */
int bn_gref_dir_map(struct bn_gnt *g, uint32_t domid, uint32_t dir_ref, uint64_t size,
                    uint64_t max_size, bool writable, struct bn_gref_buf *out, char *err,
                    size_t errlen);
void bn_gref_dir_unmap(struct bn_gnt *g, struct bn_gref_buf *buf);

/* 0 when [off, off + len) lies inside the guest's size, else -ERANGE. */
static inline int bn_gref_buf_check(const struct bn_gref_buf *buf, uint64_t off, uint64_t len)
{
        return off <= buf->size && len <= buf->size - off ? 0 : -34 /* ERANGE */;
}

#endif
