/* test_blk_msg.c: the block wire messages (devices/blk/bn_blk_msg.h):
 * round trips, and every malformed header a peer could send refused. */
#include "devices/blk/bn_blk_corm.h"
#include "devices/blk/bn_blk_msg.h"
#include "bn_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../bn_check.h"

static unsigned char data[8192];

static int req_rt(struct bn_blk_msg_req r, uint32_t force_len)
{
        struct bn_wire_msg m;
        struct bn_blk_msg_req out;
        const char *why = NULL;
        if (bn_blk_msg_req_encode(&m, &r, data) < 0)
                return -EINVAL;
        if (force_len != UINT32_MAX) {
                m.len = force_len;
                m.data = data;
        }
        int rc = bn_blk_msg_req_decode(&m, &out, &why);
        if (rc == 0 && memcmp(&out, &r, sizeof(r)) != 0)
                return -EFAULT;
        return rc;
}

int main(void)
{
        struct bn_blk_msg_req w = {.tag = 7, .offset = 4096, .len = 4096, .op = BN_BLK_IO_WRITE};
        struct bn_blk_msg_req rd = {.tag = 8, .offset = 512, .len = 1024, .op = BN_BLK_IO_READ};
        struct bn_blk_msg_req fl = {.tag = 9, .op = BN_BLK_IO_FLUSH};
        struct bn_blk_msg_req ds = {.tag = 10,
                                    .offset = 0,
                                    .len = 1u << 30,
                                    .op = BN_BLK_IO_DISCARD,
                                    .flags = BN_BLK_MSG_F_SECURE};
        struct bn_blk_msg_rsp rs = {.tag = 8, .status = 0, .len = 1024}, ro;
        struct bn_wire_msg m;
        const char *why;

        CHECK(req_rt(w, UINT32_MAX) == 0);
        CHECK(req_rt(rd, UINT32_MAX) == 0);
        CHECK(req_rt(fl, UINT32_MAX) == 0);
        CHECK(req_rt(ds, UINT32_MAX) == 0);
        /* malformed from a peer */
        CHECK(req_rt(w, 512) == -EPROTO);  /* data shorter than len */
        CHECK(req_rt(rd, 512) == -EPROTO); /* read carrying data */
        CHECK(req_rt(fl, 512) == -EPROTO);
        bn_blk_msg_req_encode(&m, &w, data);
        ((struct bn_blk_msg_req *)m.hdr)->offset = 100; /* unaligned */
        CHECK(bn_blk_msg_req_decode(&m, &w, &why) == -EPROTO);
        bn_blk_msg_req_encode(&m, &rd, data);
        ((struct bn_blk_msg_req *)m.hdr)->op = 9;
        CHECK(bn_blk_msg_req_decode(&m, &rd, &why) == -EPROTO && strstr(why, "operation"));
        bn_blk_msg_req_encode(&m, &rd, data);
        ((struct bn_blk_msg_req *)m.hdr)->len = BN_WIRE_DATA_MAX + 512;
        CHECK(bn_blk_msg_req_decode(&m, &rd, &why) == -EPROTO);
        bn_blk_msg_req_encode(&m, &rd, data);
        ((struct bn_blk_msg_req *)m.hdr)->offset = UINT64_MAX - 511;
        CHECK(bn_blk_msg_req_decode(&m, &rd, &why) == -EPROTO);
        bn_blk_msg_req_encode(&m, &rd, data);
        m.hdr_len = 31;
        CHECK(bn_blk_msg_req_decode(&m, &rd, &why) == -EPROTO);
        m.hdr_len = 32;
        m.type = BN_MSG_BLK_RSP;
        CHECK(bn_blk_msg_req_decode(&m, &rd, &why) == -EPROTO);
        /* encode refuses what decode would refuse */
        w.len = 0;
        CHECK(bn_blk_msg_req_encode(&m, &w, data) == -EINVAL);

        CHECK(bn_blk_msg_rsp_encode(&m, &rs, data) == 0);
        CHECK(bn_blk_msg_rsp_decode(&m, &ro, &why) == 0 && ro.tag == 8 && ro.len == 1024);
        m.len = 512;
        CHECK(bn_blk_msg_rsp_decode(&m, &ro, &why) == -EPROTO);
        rs.status = -EIO;
        CHECK(bn_blk_msg_rsp_encode(&m, &rs, data) == -EINVAL); /* error with data */
        rs.len = 0;
        CHECK(bn_blk_msg_rsp_encode(&m, &rs, data) == 0);
        CHECK(bn_blk_msg_rsp_decode(&m, &ro, &why) == 0 && ro.status == -EIO);
        ((struct bn_blk_msg_rsp *)m.hdr)->status = 5;
        CHECK(bn_blk_msg_rsp_decode(&m, &ro, &why) == -EPROTO);
        /* HELLO and INFO (disk size and properties, Corm -> Spike) */
        {
                struct bn_blk_msg_info in = {.size = 1u << 30,
                                             .flags = BN_BLK_INFO_F_READONLY,
                                             .sector_size = 512},
                                       io;
                bn_blk_msg_hello_encode(&m);
                CHECK(m.type == BN_MSG_BLK_HELLO && m.hdr_len == 0 && m.len == 0);
                CHECK(bn_blk_msg_info_decode(&m, &io, &why) == -EPROTO); /* not an INFO */
                bn_blk_msg_info_encode(&m, &in);
                CHECK(bn_blk_msg_info_decode(&m, &io, &why) == 0 && io.size == in.size &&
                      io.flags == BN_BLK_INFO_F_READONLY && io.sector_size == 512);
                ((struct bn_blk_msg_info *)m.hdr)->size = 1000; /* not a multiple of 512 */
                CHECK(bn_blk_msg_info_decode(&m, &io, &why) == -EPROTO);
                bn_blk_msg_info_encode(&m, &in);
                ((struct bn_blk_msg_info *)m.hdr)->flags = 1u << 7;
                CHECK(bn_blk_msg_info_decode(&m, &io, &why) == -EPROTO);
                bn_blk_msg_info_encode(&m, &in);
                ((struct bn_blk_msg_info *)m.hdr)->sector_size = 1024;
                CHECK(bn_blk_msg_info_decode(&m, &io, &why) == -EPROTO);
                bn_blk_msg_info_encode(&m, &in);
                m.len = 512;
                m.data = data;
                CHECK(bn_blk_msg_info_decode(&m, &io, &why) == -EPROTO); /* with data */
                bn_blk_msg_info_encode(&m, &in);
                m.hdr_len = 8;
                CHECK(bn_blk_msg_info_decode(&m, &io, &why) == -EPROTO);
        }
        if (bn_check_failures) {
                fprintf(stderr, "test_blk_msg: %d bn_check_failures\n", bn_check_failures);
                return 1;
        }
        printf("test_blk_msg: ok\n");
        return 0;
}
