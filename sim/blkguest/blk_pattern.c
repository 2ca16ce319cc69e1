/* blk_pattern.c: the self-describing verify pattern (see blk_pattern.h). */
#include "blk_pattern.h"

#include <string.h>

#define PAT_MAGIC 0x424e414e41424c4bull /* "BNANABLK" */

struct sect_hdr {
        uint64_t magic;
        uint64_t blk;
        uint32_t sect;
        uint32_t gen;
        uint64_t sum;
};

static uint64_t mix(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ull;
        x ^= x >> 33;
        return x;
}

static uint64_t payload(unsigned char *p, size_t n, uint64_t seed)
{
        uint64_t s = mix(seed), sum = 0;
        for (size_t i = 0; i + 8 <= n; i += 8) {
                s = mix(s + 0x9e3779b97f4a7c15ull);
                memcpy(p + i, &s, 8);
                sum = sum * 31 + s;
        }
        return sum;
}

static void fill_sector(unsigned char *p, uint64_t blk, uint32_t sect, uint32_t gen)
{
        struct sect_hdr h = {.magic = PAT_MAGIC, .blk = blk, .sect = sect, .gen = gen};
        h.sum = payload(p + sizeof(h), 512 - sizeof(h),
                        blk * 0x10001ull + sect + ((uint64_t)gen << 40));
        memcpy(p, &h, sizeof(h));
}

void bn_blk_pattern_fill(void *buf, size_t bs, uint64_t blk, uint32_t gen)
{
        for (size_t s = 0; s < bs / 512; s++)
                fill_sector((unsigned char *)buf + s * 512, blk, (uint32_t)s, gen);
}

enum bn_blk_pattern_res bn_blk_pattern_check(const void *buf, size_t bs, uint64_t blk, uint32_t gen,
                                             uint32_t *found_gen)
{
        const unsigned char *p = buf;
        unsigned char want[512];
        struct sect_hdr h;
        int zero = 1;

        memcpy(&h, p, sizeof(h));
        if (found_gen)
                *found_gen = h.gen;
        for (size_t i = 0; i < bs && zero; i++)
                zero = p[i] == 0;
        if (zero)
                return BN_BLK_PAT_ZERO;
        for (size_t s = 0; s < bs / 512; s++) {
                fill_sector(want, blk, (uint32_t)s, gen);
                if (memcmp(want, p + s * 512, 512) != 0)
                        goto other;
        }
        return BN_BLK_PAT_OK;
other:
        if (h.magic == PAT_MAGIC && h.blk == blk && h.gen != gen) {
                /* a whole, consistent block of another generation? */
                for (size_t s = 0; s < bs / 512; s++) {
                        fill_sector(want, blk, (uint32_t)s, h.gen);
                        if (memcmp(want, p + s * 512, 512) != 0)
                                return BN_BLK_PAT_BAD;
                }
                return BN_BLK_PAT_OTHER_GEN;
        }
        return BN_BLK_PAT_BAD;
}
