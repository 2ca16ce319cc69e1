/* vbd_parse.c: blkif request parsing and validation (see vbd_parse.h).
 * Input is a private copy of one ring slot; every field is read once from
 * that copy and checked before it is used. */
#include "vbd_parse.h"

#include <errno.h>
#include <string.h>

#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

_Static_assert(sizeof(struct blkif_request) == BN_BLK_SLOT_SIZE, "blkif slot size");
_Static_assert(sizeof(struct blkif_request_discard) <= BN_BLK_SLOT_SIZE, "discard slot");
_Static_assert(sizeof(struct blkif_request_indirect) <= BN_BLK_SLOT_SIZE, "indirect slot");
_Static_assert(sizeof(struct blkif_request_segment) * BN_BLK_SEGS_PER_INDIRECT_PAGE == 4096,
               "indirect page");

static enum bn_blk_verdict fail(enum bn_blk_verdict v, const char *msg, const char **why)
{
        if (why)
                *why = msg;
        return v;
}

/* Validate segs [0, n) of req, sum their sectors, check the disk range. */
static enum bn_blk_verdict check_segs_and_range(struct bn_blk_req *req,
                                                const struct bn_blk_geom *geom, const char **why)
{
        uint64_t total = 0;

        for (uint32_t i = 0; i < req->nr_segs; i++) {
                const struct bn_blk_seg *s = &req->seg[i];
                if (s->last_sect >= BN_BLK_SECTORS_PER_PAGE)
                        return fail(BN_BLK_V_DISCONNECT, "segment last_sect beyond the page", why);
                if (s->first_sect > s->last_sect)
                        return fail(BN_BLK_V_DISCONNECT, "segment first_sect > last_sect", why);
                total += (uint64_t)(s->last_sect - s->first_sect) + 1;
        }
        req->nr_sectors = total;
        if (req->op != BN_BLK_OP_READ && geom->readonly)
                return fail(BN_BLK_V_RSP_ERROR, "write to a read-only disk", why);
        if (req->sector > geom->sectors || total > geom->sectors - req->sector)
                return fail(BN_BLK_V_RSP_ERROR, "access beyond the end of the disk", why);
        return BN_BLK_V_OK;
}

static enum bn_blk_verdict parse_rw(const struct blkif_request *r, const struct bn_blk_geom *geom,
                                    struct bn_blk_req *req, const char **why)
{
        uint8_t nseg = r->nr_segments;

        req->handle = r->handle;
        req->sector = r->sector_number;
        if (nseg == 0 || nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
                return fail(BN_BLK_V_DISCONNECT, "bad number of segments", why);
        req->nr_segs = nseg;
        for (uint32_t i = 0; i < nseg; i++) {
                req->seg[i].gref = r->seg[i].gref;
                req->seg[i].first_sect = r->seg[i].first_sect;
                req->seg[i].last_sect = r->seg[i].last_sect;
        }
        return check_segs_and_range(req, geom, why);
}

static enum bn_blk_verdict parse_flush(const struct blkif_request *r, bool advertised,
                                       const struct bn_blk_geom *geom, struct bn_blk_req *req,
                                       const char **why)
{
        req->handle = r->handle;
        req->sector = r->sector_number;
        if (!advertised)
                return fail(BN_BLK_V_RSP_EOPNOTSUPP, "flush/barrier not advertised", why);
        /* Linux blkfront sends FUA writes as a flush carrying data: the
         * segments are then validated like a write's and the Spike writes
         * them, then flushes. */
        if (r->nr_segments != 0)
                return parse_rw(r, geom, req, why);
        if (geom->readonly)
                return fail(BN_BLK_V_RSP_ERROR, "flush on a read-only disk", why);
        return BN_BLK_V_OK;
}

static enum bn_blk_verdict parse_discard(const struct blkif_request_discard *d,
                                         const struct bn_blk_geom *geom, struct bn_blk_req *req,
                                         const char **why)
{
        req->handle = d->handle;
        req->sector = d->sector_number;
        req->nr_sectors = d->nr_sectors;
        if (!geom->discard)
                return fail(BN_BLK_V_RSP_EOPNOTSUPP, "discard not advertised", why);
        req->secure = (d->flag & BLKIF_DISCARD_SECURE) && geom->discard_secure;
        if (geom->readonly)
                return fail(BN_BLK_V_RSP_ERROR, "discard on a read-only disk", why);
        if (req->sector > geom->sectors || req->nr_sectors > geom->sectors - req->sector)
                return fail(BN_BLK_V_RSP_ERROR, "discard beyond the end of the disk", why);
        return BN_BLK_V_OK;
}

static enum bn_blk_verdict parse_indirect_slot(const struct blkif_request_indirect *ind,
                                               const struct bn_blk_geom *geom,
                                               struct bn_blk_req *req, const char **why)
{
        uint16_t nseg = ind->nr_segments;
        uint32_t pages;

        req->handle = ind->handle;
        req->sector = ind->sector_number;
        req->indirect = true;
        if (geom->max_indirect_segs == 0)
                return fail(BN_BLK_V_DISCONNECT, "indirect request but indirect not advertised",
                            why);
        switch (ind->indirect_op) {
        case BLKIF_OP_READ:
                req->op = BN_BLK_OP_READ;
                break;
        case BLKIF_OP_WRITE:
                req->op = BN_BLK_OP_WRITE;
                break;
        default:
                return fail(BN_BLK_V_DISCONNECT, "bad indirect_op", why);
        }
        /* The response carries the inner operation, as blkback answers:
         * Linux's blkfront rejects BLKIF_OP_INDIRECT in a response. */
        req->ring_op = ind->indirect_op;
        if (nseg == 0 || nseg > geom->max_indirect_segs || nseg > BN_BLK_SEGS_MAX)
                return fail(BN_BLK_V_DISCONNECT, "bad number of indirect segments", why);
        pages = (nseg + BN_BLK_SEGS_PER_INDIRECT_PAGE - 1) / BN_BLK_SEGS_PER_INDIRECT_PAGE;
        req->nr_segs = nseg;
        req->nr_indirect = pages;
        for (uint32_t i = 0; i < pages; i++)
                req->indirect_gref[i] = ind->indirect_grefs[i];
        if (req->op == BN_BLK_OP_WRITE && geom->readonly)
                return fail(BN_BLK_V_RSP_ERROR, "write to a read-only disk", why);
        return BN_BLK_V_OK;
}

enum bn_blk_verdict bn_blk_parse_slot(const void *slot, size_t len, const struct bn_blk_geom *geom,
                                      struct bn_blk_req *req, const char **why)
{
        union {
                struct blkif_request rw;
                struct blkif_request_discard discard;
                struct blkif_request_indirect indirect;
                unsigned char raw[BN_BLK_SLOT_SIZE];
        } u;

        memset(req, 0, offsetof(struct bn_blk_req, seg));
        if (why)
                *why = "ok";
        if (!slot || len != BN_BLK_SLOT_SIZE)
                return fail(BN_BLK_V_DISCONNECT, "bad slot size", why);
        memcpy(u.raw, slot, BN_BLK_SLOT_SIZE);
        /* id sits at the same offset in all three layouts. */
        req->id = u.rw.id;
        req->ring_op = u.rw.operation;

        switch (u.rw.operation) {
        case BLKIF_OP_READ:
                req->op = BN_BLK_OP_READ;
                return parse_rw(&u.rw, geom, req, why);
        case BLKIF_OP_WRITE:
                req->op = BN_BLK_OP_WRITE;
                return parse_rw(&u.rw, geom, req, why);
        case BLKIF_OP_FLUSH_DISKCACHE:
                req->op = BN_BLK_OP_FLUSH;
                return parse_flush(&u.rw, geom->flush, geom, req, why);
        case BLKIF_OP_WRITE_BARRIER:
                req->op = BN_BLK_OP_BARRIER;
                return parse_flush(&u.rw, geom->barrier, geom, req, why);
        case BLKIF_OP_DISCARD:
                req->op = BN_BLK_OP_DISCARD;
                return parse_discard(&u.discard, geom, req, why);
        case BLKIF_OP_INDIRECT:
                return parse_indirect_slot(&u.indirect, geom, req, why);
        default:
                return fail(BN_BLK_V_RSP_EOPNOTSUPP, "unknown operation", why);
        }
}

enum bn_blk_verdict bn_blk_parse_indirect(struct bn_blk_req *req, const void *const *pages,
                                          const struct bn_blk_geom *geom, const char **why)
{
        if (!req->indirect || req->nr_segs == 0 || req->nr_segs > BN_BLK_SEGS_MAX ||
            req->nr_indirect == 0 || req->nr_indirect > BN_BLK_INDIRECT_PAGES_MAX || !pages)
                return fail(BN_BLK_V_DISCONNECT, "not a parsed indirect request", why);
        for (uint32_t i = 0; i < req->nr_segs; i++) {
                struct blkif_request_segment s;
                const unsigned char *page = pages[i / BN_BLK_SEGS_PER_INDIRECT_PAGE];
                if (!page)
                        return fail(BN_BLK_V_DISCONNECT, "missing indirect page", why);
                memcpy(&s, page + (i % BN_BLK_SEGS_PER_INDIRECT_PAGE) * sizeof(s), sizeof(s));
                req->seg[i].gref = s.gref;
                req->seg[i].first_sect = s.first_sect;
                req->seg[i].last_sect = s.last_sect;
        }
        return check_segs_and_range(req, geom, why);
}

int bn_blk_protocol_check(const char *protocol)
{
        if (!protocol || !*protocol || strcmp(protocol, XEN_IO_PROTO_ABI_NATIVE) == 0)
                return 0;
        return -EPROTONOSUPPORT;
}

int16_t bn_blk_verdict_status(enum bn_blk_verdict v)
{
        switch (v) {
        case BN_BLK_V_OK:
                return BLKIF_RSP_OKAY;
        case BN_BLK_V_RSP_EOPNOTSUPP:
                return BLKIF_RSP_EOPNOTSUPP;
        default:
                return BLKIF_RSP_ERROR;
        }
}
