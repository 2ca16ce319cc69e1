/* blk_pattern.h: the self-describing data pattern of the block verify mode.
 * Every 512-byte sector written carries a header (magic, block number,
 * sector index, generation, checksum of the payload) and a payload derived
 * from (block, sector, generation); a read is checked byte for byte against
 * what the expected generation produces, and a mismatch says what was found
 * instead (zeroes, another block, another generation, garbage). */
#ifndef BN_BLK_PATTERN_H
#define BN_BLK_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* Fill bs bytes (a multiple of 512) for block blk, generation gen. */
void bn_blk_pattern_fill(void *buf, size_t bs, uint64_t blk, uint32_t gen);

enum bn_blk_pattern_res {
        BN_BLK_PAT_OK = 0,    /* exactly blk at gen */
        BN_BLK_PAT_ZERO,      /* all zero (never written / discarded) */
        BN_BLK_PAT_OTHER_GEN, /* a valid pattern of blk, another generation */
        BN_BLK_PAT_BAD,       /* anything else (another block, torn, garbage) */
};
/* Check bs bytes against block blk, generation gen. *found_gen (if not
 * NULL) gets the generation found in the first sector's header. */
enum bn_blk_pattern_res bn_blk_pattern_check(const void *buf, size_t bs, uint64_t blk, uint32_t gen,
                                             uint32_t *found_gen);

#endif
