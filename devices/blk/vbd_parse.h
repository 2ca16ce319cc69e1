/* vbd_parse.h: the blkif request parser and validator of the vbd Spike.
 *
 * The Spike copies one ring slot out of shared memory (never reads it twice)
 * and hands the copy to bn_blk_parse_slot() together with the disk geometry.
 * The result is either a request description (struct bn_blk_req) or a
 * verdict saying how to answer:
 *
 *   BN_BLK_V_RSP_ERROR       answer BLKIF_RSP_ERROR (a well-formed request
 *                            that cannot be served: past the end of the disk,
 *                            a write to a read-only disk — as Linux blkback)
 *   BN_BLK_V_RSP_EOPNOTSUPP  answer BLKIF_RSP_EOPNOTSUPP (an operation this
 *                            vbd does not offer: unknown op, discard or
 *                            barrier or flush not advertised)
 *   BN_BLK_V_DISCONNECT      the request breaks the protocol (zero or too
 *                            many segments, first_sect > last_sect, a sector
 *                            outside the page, a bad indirect_op, an indirect
 *                            request without feature-max-indirect-segments):
 *                            the vbd is disconnected with a fatal error.
 *
 * Indirect requests are parsed in two steps: bn_blk_parse_slot() validates
 * the slot and says which indirect pages are needed (req->nr_indirect,
 * req->indirect_gref[]); the Spike copies those pages (grant copy) and calls
 * bn_blk_parse_indirect() which reads the segments out of the copies and
 * validates them and the sector range.
 *
 * Sector numbers and first/last_sect are always in 512-byte units (blkif.h);
 * this back-end advertises sector-size 512.
 *
 * Pure functions: no I/O, no allocation, no global state; safe on any input
 * (they are fuzzed by tests/blk/fuzz_vbd_req.c).
 */
#ifndef BN_BLK_VBD_PARSE_H
#define BN_BLK_VBD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BN_BLK_SECTOR_SHIFT     9
#define BN_BLK_SECTOR_SIZE      512u
#define BN_BLK_SECTORS_PER_PAGE 8u
/* Hard cap on segments per request (one indirect page holds 512). */
#define BN_BLK_SEGS_MAX 512u
/* The size of one ring slot (sizeof(union blkif_sring_entry) on x86_64). */
#define BN_BLK_SLOT_SIZE 112u
/* Segments per indirect page and indirect pages per request (blkif.h). */
#define BN_BLK_SEGS_PER_INDIRECT_PAGE 512u
#define BN_BLK_INDIRECT_PAGES_MAX     8u

/* What the disk and the advertised features allow. */
struct bn_blk_geom {
        uint64_t sectors;           /* disk size in 512-byte sectors */
        uint32_t max_indirect_segs; /* 0: indirect not advertised; else <= BN_BLK_SEGS_MAX */
        bool readonly;
        bool flush;          /* feature-flush-cache advertised */
        bool barrier;        /* feature-barrier advertised */
        bool discard;        /* feature-discard advertised */
        bool discard_secure; /* discard-secure advertised */
};

enum bn_blk_verdict {
        BN_BLK_V_OK = 0,
        BN_BLK_V_RSP_ERROR,
        BN_BLK_V_RSP_EOPNOTSUPP,
        BN_BLK_V_DISCONNECT,
};

/* The effective operation (indirect requests carry READ or WRITE). */
enum bn_blk_op {
        BN_BLK_OP_READ = 0,
        BN_BLK_OP_WRITE,
        BN_BLK_OP_FLUSH,   /* FLUSH_DISKCACHE; with segments: write them, then flush */
        BN_BLK_OP_BARRIER, /* WRITE_BARRIER: handled like FLUSH (drain, write, flush) */
        BN_BLK_OP_DISCARD,
};

struct bn_blk_seg {
        uint32_t gref;
        uint8_t first_sect, last_sect;
};

struct bn_blk_req {
        uint64_t id;       /* echoed in the response */
        uint8_t ring_op;   /* operation as written on the ring, echoed */
        enum bn_blk_op op; /* effective operation */
        uint16_t handle;
        uint64_t sector;     /* first sector (512-byte units) */
        uint64_t nr_sectors; /* total sectors (r/w: sum of segments; discard: asked) */
        bool secure;         /* discard with BLKIF_DISCARD_SECURE (and advertised) */
        bool indirect;
        uint32_t nr_segs;
        uint32_t nr_indirect; /* indirect pages to fetch (indirect only) */
        uint32_t indirect_gref[BN_BLK_INDIRECT_PAGES_MAX];
        struct bn_blk_seg seg[BN_BLK_SEGS_MAX];
};

/* Parse and validate one copied ring slot of len bytes (must be
 * BN_BLK_SLOT_SIZE, else DISCONNECT). On BN_BLK_V_OK, req describes the
 * request; for an indirect request the segments are still to be read with
 * bn_blk_parse_indirect(). On any other verdict req->id and req->ring_op are
 * still set (for the response) and *why (if why) points to a static message. */
enum bn_blk_verdict bn_blk_parse_slot(const void *slot, size_t len, const struct bn_blk_geom *geom,
                                      struct bn_blk_req *req, const char **why);

/* Second step for indirect requests: pages[i] is a private copy of the
 * i-th indirect page (4096 bytes each, req->nr_indirect of them). Fills
 * req->seg[], validates them, sums req->nr_sectors and checks the range. */
enum bn_blk_verdict bn_blk_parse_indirect(struct bn_blk_req *req, const void *const *pages,
                                          const struct bn_blk_geom *geom, const char **why);

/* Is the front-end's "protocol" key acceptable? NULL (absent) means native.
 * Only the native x86_64 ABI is served: returns 0, or -EPROTONOSUPPORT. */
int bn_blk_protocol_check(const char *protocol);

/* BLKIF_RSP_* status for a verdict (BN_BLK_V_DISCONNECT gives ERROR). */
int16_t bn_blk_verdict_status(enum bn_blk_verdict v);

#endif
