/* test_vbd_parse.c: unit tests of the blkif request parser (devices/blk/vbd_parse.c):
 * every verdict reached by a hand-built ring slot, indirect requests of 256
 * segments, the protocol key. */
#include "devices/blk/vbd_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/blkif.h>

#include "../bn_check.h"

static struct bn_blk_geom geom(void)
{
        struct bn_blk_geom g = {.sectors = 2048,
                                .max_indirect_segs = 256,
                                .flush = true,
                                .barrier = false,
                                .discard = true,
                                .discard_secure = false};
        return g;
}

static struct bn_blk_req req;

/* A ring slot is BN_BLK_SLOT_SIZE bytes whatever the request type: copy the
 * (possibly smaller) request struct into a zeroed slot before parsing. */
static enum bn_blk_verdict parse_sized(const void *r, size_t n, const struct bn_blk_geom *g,
                                       const char **why)
{
        unsigned char slot[BN_BLK_SLOT_SIZE] = {0};

        memcpy(slot, r, n < sizeof(slot) ? n : sizeof(slot));
        return bn_blk_parse_slot(slot, BN_BLK_SLOT_SIZE, g, &req, why);
}
#define parse(r, g, why) parse_sized((r), sizeof(*(r)), (g), (why))

static void test_rw(void)
{
        struct bn_blk_geom g = geom();
        struct blkif_request r;
        const char *why;

        memset(&r, 0, sizeof(r));
        r.operation = BLKIF_OP_READ;
        r.nr_segments = 2;
        r.id = 0x1122334455667788ull;
        r.sector_number = 100;
        r.seg[0] = (struct blkif_request_segment){.gref = 9, .first_sect = 0, .last_sect = 7};
        r.seg[1] = (struct blkif_request_segment){.gref = 10, .first_sect = 2, .last_sect = 3};
        CHECK(parse(&r, &g, &why) == BN_BLK_V_OK);
        CHECK(req.id == 0x1122334455667788ull);
        CHECK(req.op == BN_BLK_OP_READ && req.nr_segs == 2 && req.nr_sectors == 10);
        CHECK(req.seg[1].gref == 10 && req.seg[1].first_sect == 2);

        r.seg[1].last_sect = 8; /* outside the page */
        CHECK(parse(&r, &g, &why) == BN_BLK_V_DISCONNECT);
        r.seg[1].last_sect = 1; /* first > last */
        CHECK(parse(&r, &g, &why) == BN_BLK_V_DISCONNECT);
        r.seg[1].last_sect = 3;
        r.nr_segments = 0;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_DISCONNECT);
        r.nr_segments = 12;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_DISCONNECT);
        r.nr_segments = 2;

        /* the range: last sector of the disk ok, one past it not */
        r.sector_number = 2048 - 10;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_OK);
        r.sector_number = 2048 - 9;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_RSP_ERROR);
        r.sector_number = UINT64_MAX - 3; /* overflow */
        CHECK(parse(&r, &g, &why) == BN_BLK_V_RSP_ERROR);
        CHECK(req.id == 0x1122334455667788ull && req.ring_op == BLKIF_OP_READ);

        /* read-only disk: reads fine, writes refused */
        r.sector_number = 0;
        g.readonly = true;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_OK);
        r.operation = BLKIF_OP_WRITE;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_RSP_ERROR);
        CHECK(strstr(why, "read-only") != NULL);
        g.readonly = false;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_OK && req.op == BN_BLK_OP_WRITE);
}

static void test_flush_discard_unknown(void)
{
        struct bn_blk_geom g = geom();
        struct blkif_request r;
        struct blkif_request_discard d;
        const char *why;

        memset(&r, 0, sizeof(r));
        r.operation = BLKIF_OP_FLUSH_DISKCACHE;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_OK && req.op == BN_BLK_OP_FLUSH && req.nr_segs == 0);
        /* a FUA write: flush carrying a segment */
        r.nr_segments = 1;
        r.seg[0] = (struct blkif_request_segment){.gref = 3, .first_sect = 0, .last_sect = 7};
        CHECK(parse(&r, &g, &why) == BN_BLK_V_OK && req.op == BN_BLK_OP_FLUSH && req.nr_segs == 1 &&
              req.nr_sectors == 8);
        g.flush = false;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_RSP_EOPNOTSUPP);
        r.operation = BLKIF_OP_WRITE_BARRIER; /* not advertised */
        CHECK(parse(&r, &g, &why) == BN_BLK_V_RSP_EOPNOTSUPP);
        r.operation = 4; /* reserved */
        CHECK(parse(&r, &g, &why) == BN_BLK_V_RSP_EOPNOTSUPP);
        r.operation = 200;
        CHECK(parse(&r, &g, &why) == BN_BLK_V_RSP_EOPNOTSUPP);
        CHECK(bn_blk_verdict_status(BN_BLK_V_RSP_EOPNOTSUPP) == BLKIF_RSP_EOPNOTSUPP);
        CHECK(bn_blk_verdict_status(BN_BLK_V_RSP_ERROR) == BLKIF_RSP_ERROR);
        CHECK(bn_blk_verdict_status(BN_BLK_V_OK) == BLKIF_RSP_OKAY);

        memset(&d, 0, sizeof(d));
        d.operation = BLKIF_OP_DISCARD;
        d.flag = BLKIF_DISCARD_SECURE;
        d.id = 77;
        d.sector_number = 1000;
        d.nr_sectors = 1048;
        CHECK(parse(&d, &g, &why) == BN_BLK_V_OK && req.op == BN_BLK_OP_DISCARD &&
              req.nr_sectors == 1048 && !req.secure && req.id == 77);
        g.discard_secure = true;
        CHECK(parse(&d, &g, &why) == BN_BLK_V_OK && req.secure);
        d.nr_sectors = 1049;
        CHECK(parse(&d, &g, &why) == BN_BLK_V_RSP_ERROR);
        d.nr_sectors = 8;
        g.discard = false;
        CHECK(parse(&d, &g, &why) == BN_BLK_V_RSP_EOPNOTSUPP);
        g.discard = true;
        g.readonly = true;
        CHECK(parse(&d, &g, &why) == BN_BLK_V_RSP_ERROR);
}

static void test_indirect(void)
{
        struct bn_blk_geom g = geom();
        struct blkif_request_indirect ind;
        static struct blkif_request_segment page[512];
        const void *pages[1] = {page};
        const char *why;

        memset(&ind, 0, sizeof(ind));
        ind.operation = BLKIF_OP_INDIRECT;
        ind.indirect_op = BLKIF_OP_WRITE;
        ind.nr_segments = 256;
        ind.id = 5;
        ind.sector_number = 0;
        ind.indirect_grefs[0] = 42;
        for (int i = 0; i < 256; i++)
                page[i] = (struct blkif_request_segment){
                    .gref = 100 + i, .first_sect = 0, .last_sect = 7};
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_OK);
        CHECK(req.indirect && req.nr_indirect == 1 && req.indirect_gref[0] == 42);
        CHECK(bn_blk_parse_indirect(&req, pages, &g, &why) == BN_BLK_V_OK);
        CHECK(req.nr_sectors == 2048 && req.seg[255].gref == 355 && req.op == BN_BLK_OP_WRITE);

        ind.sector_number = 1; /* one sector past the end */
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_OK);
        CHECK(bn_blk_parse_indirect(&req, pages, &g, &why) == BN_BLK_V_RSP_ERROR);
        ind.sector_number = 0;
        page[17].first_sect = 5;
        page[17].last_sect = 4;
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_OK);
        CHECK(bn_blk_parse_indirect(&req, pages, &g, &why) == BN_BLK_V_DISCONNECT);
        page[17].first_sect = 0;

        ind.nr_segments = 257; /* more than advertised */
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_DISCONNECT);
        ind.nr_segments = 0;
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_DISCONNECT);
        ind.nr_segments = 4;
        ind.indirect_op = BLKIF_OP_FLUSH_DISKCACHE;
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_DISCONNECT);
        ind.indirect_op = BLKIF_OP_READ;
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_OK && req.op == BN_BLK_OP_READ);
        g.max_indirect_segs = 0;
        CHECK(parse(&ind, &g, &why) == BN_BLK_V_DISCONNECT);
        /* second step without a first step */
        memset(&req, 0, sizeof(req));
        CHECK(bn_blk_parse_indirect(&req, pages, &g, &why) == BN_BLK_V_DISCONNECT);
}

static void test_misc(void)
{
        struct bn_blk_geom g = geom();
        unsigned char slot[BN_BLK_SLOT_SIZE] = {0};
        const char *why;

        CHECK(bn_blk_parse_slot(slot, BN_BLK_SLOT_SIZE - 1, &g, &req, &why) == BN_BLK_V_DISCONNECT);
        CHECK(bn_blk_parse_slot(NULL, BN_BLK_SLOT_SIZE, &g, &req, &why) == BN_BLK_V_DISCONNECT);
        CHECK(bn_blk_protocol_check(NULL) == 0);
        CHECK(bn_blk_protocol_check("x86_64-abi") == 0);
        CHECK(bn_blk_protocol_check("x86_32-abi") == -EPROTONOSUPPORT);
        CHECK(bn_blk_protocol_check("arm-abi") == -EPROTONOSUPPORT);
        CHECK(bn_blk_protocol_check("bogus") == -EPROTONOSUPPORT);
}

int main(void)
{
        test_rw();
        test_flush_discard_unknown();
        test_indirect();
        test_misc();
        if (bn_check_failures) {
                fprintf(stderr, "test_vbd_parse: %d bn_check_failures\n", bn_check_failures);
                return 1;
        }
        printf("test_vbd_parse: ok\n");
        return 0;
}
