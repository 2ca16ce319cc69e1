/* fuzz_vbd_req.c: libFuzzer target over the blkif request parser. The input
 * is a geometry byte string, one ring slot and up to one indirect page; the
 * parser must never crash, read out of bounds or accept an inconsistent
 * request (checked by asserting invariants on what it accepted). */
#include "devices/blk/vbd_parse.h"

#include <stdlib.h>
#include <string.h>

static void check_invariants(const struct bn_blk_req *r, const struct bn_blk_geom *g)
{
        if (r->op == BN_BLK_OP_READ || r->op == BN_BLK_OP_WRITE || r->nr_segs) {
                uint64_t total = 0;
                if (r->nr_segs > BN_BLK_SEGS_MAX)
                        abort();
                for (uint32_t i = 0; i < r->nr_segs; i++) {
                        if (r->seg[i].first_sect > r->seg[i].last_sect || r->seg[i].last_sect > 7)
                                abort();
                        total += r->seg[i].last_sect - r->seg[i].first_sect + 1u;
                }
                if (total != r->nr_sectors)
                        abort();
        }
        if ((r->op != BN_BLK_OP_FLUSH && r->op != BN_BLK_OP_BARRIER) || r->nr_segs) {
                if (r->sector > g->sectors || r->nr_sectors > g->sectors - r->sector)
                        abort();
        }
        if (g->readonly && r->op != BN_BLK_OP_READ)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct bn_blk_req req;
        static unsigned char page[4096];
        struct bn_blk_geom g;
        const void *pages[BN_BLK_INDIRECT_PAGES_MAX];
        enum bn_blk_verdict v;
        const char *why = NULL;

        if (size < 4 + BN_BLK_SLOT_SIZE)
                return 0;
        memset(&g, 0, sizeof(g));
        g.sectors = (uint64_t)data[0] << (data[1] % 40);
        g.max_indirect_segs = (data[2] & 1) ? 256 : ((data[2] & 2) ? BN_BLK_SEGS_MAX : 0);
        g.readonly = data[3] & 1;
        g.flush = data[3] & 2;
        g.barrier = data[3] & 4;
        g.discard = data[3] & 8;
        g.discard_secure = data[3] & 16;
        data += 4;
        size -= 4;
        v = bn_blk_parse_slot(data, BN_BLK_SLOT_SIZE, &g, &req, &why);
        if (!why)
                abort();
        data += BN_BLK_SLOT_SIZE;
        size -= BN_BLK_SLOT_SIZE;
        if (v == BN_BLK_V_OK && req.indirect) {
                memset(page, 0, sizeof(page));
                memcpy(page, data, size < sizeof(page) ? size : sizeof(page));
                for (uint32_t i = 0; i < BN_BLK_INDIRECT_PAGES_MAX; i++)
                        pages[i] = page;
                v = bn_blk_parse_indirect(&req, pages, &g, &why);
        }
        if (v == BN_BLK_V_OK)
                check_invariants(&req, &g);
        return 0;
}
