/* blk_msg.c: encoding and validation of the block wire messages
 * (bn_blk_msg.h). */
#include "bn_blk_msg.h"

#include "bn_blk_corm.h"
#include "bn_wire.h"

#include <errno.h>
#include <string.h>

_Static_assert(sizeof(struct bn_blk_msg_req) == 32, "req header size");
_Static_assert(sizeof(struct bn_blk_msg_rsp) == 16, "rsp header size");
_Static_assert(sizeof(struct bn_blk_msg_req) <= BN_WIRE_HDR_MAX, "req header fits");

static int bad(const char *msg, const char **why)
{
        if (why)
                *why = msg;
        return -EPROTO;
}

static int check_req(const struct bn_blk_msg_req *r, uint32_t data_len, const char **why)
{
        if (r->reserved0 || r->reserved1)
                return bad("reserved fields not zero", why);
        if (r->offset % 512 || r->len % 512)
                return bad("offset or length not a multiple of 512", why);
        if (r->offset + r->len < r->offset)
                return bad("offset + length overflows", why);
        if (r->flags & ~BN_BLK_MSG_F_SECURE)
                return bad("unknown flags", why);
        switch (r->op) {
        case BN_BLK_IO_READ:
        case BN_BLK_IO_WRITE:
                if (r->len == 0 || r->len > BN_WIRE_DATA_MAX)
                        return bad("read/write length out of range", why);
                if (data_len != (r->op == BN_BLK_IO_WRITE ? r->len : 0))
                        return bad("data length does not match the request", why);
                return 0;
        case BN_BLK_IO_FLUSH:
                if (r->len || r->offset || data_len)
                        return bad("flush with a range or data", why);
                return 0;
        case BN_BLK_IO_DISCARD:
                if (data_len)
                        return bad("discard with data", why);
                return 0;
        default:
                return bad("unknown operation", why);
        }
}

int bn_blk_msg_req_encode(struct bn_wire_msg *m, const struct bn_blk_msg_req *r, void *data)
{
        uint32_t len = r->op == BN_BLK_IO_WRITE ? (uint32_t)r->len : 0;

        if (check_req(r, len, NULL) < 0)
                return -EINVAL;
        memset(m, 0, sizeof(*m));
        m->type = BN_MSG_BLK_REQ;
        m->hdr_len = sizeof(*r);
        memcpy(m->hdr, r, sizeof(*r));
        m->len = len;
        m->data = len ? data : NULL;
        return 0;
}

int bn_blk_msg_req_decode(const struct bn_wire_msg *m, struct bn_blk_msg_req *r, const char **why)
{
        if (m->type != BN_MSG_BLK_REQ)
                return bad("not a block request", why);
        if (m->hdr_len != sizeof(*r))
                return bad("bad request header length", why);
        if (m->len > BN_WIRE_DATA_MAX || (m->len && !m->data))
                return bad("bad data length", why);
        memcpy(r, m->hdr, sizeof(*r));
        return check_req(r, m->len, why);
}

static int check_rsp(const struct bn_blk_msg_rsp *r, uint32_t data_len, const char **why)
{
        if (r->status > 0 || r->status < -4095)
                return bad("status out of range", why);
        if (r->len != data_len)
                return bad("data length does not match the response", why);
        if (r->status && r->len)
                return bad("failed response with data", why);
        if (r->len % 512 || r->len > BN_WIRE_DATA_MAX)
                return bad("response length out of range", why);
        return 0;
}

int bn_blk_msg_rsp_encode(struct bn_wire_msg *m, const struct bn_blk_msg_rsp *r, void *data)
{
        if (check_rsp(r, r->len, NULL) < 0)
                return -EINVAL;
        memset(m, 0, sizeof(*m));
        m->type = BN_MSG_BLK_RSP;
        m->hdr_len = sizeof(*r);
        memcpy(m->hdr, r, sizeof(*r));
        m->len = r->len;
        m->data = r->len ? data : NULL;
        return 0;
}

int bn_blk_msg_rsp_decode(const struct bn_wire_msg *m, struct bn_blk_msg_rsp *r, const char **why)
{
        if (m->type != BN_MSG_BLK_RSP)
                return bad("not a block response", why);
        if (m->hdr_len != sizeof(*r))
                return bad("bad response header length", why);
        if (m->len > BN_WIRE_DATA_MAX || (m->len && !m->data))
                return bad("bad data length", why);
        memcpy(r, m->hdr, sizeof(*r));
        return check_rsp(r, m->len, why);
}

void bn_blk_msg_hello_encode(struct bn_wire_msg *m)
{
        memset(m, 0, sizeof(*m));
        m->type = BN_MSG_BLK_HELLO;
}

void bn_blk_msg_info_encode(struct bn_wire_msg *m, const struct bn_blk_msg_info *i)
{
        memset(m, 0, sizeof(*m));
        m->type = BN_MSG_BLK_INFO;
        m->hdr_len = sizeof(*i);
        memcpy(m->hdr, i, sizeof(*i));
}

int bn_blk_msg_info_decode(const struct bn_wire_msg *m, struct bn_blk_msg_info *i, const char **why)
{
        if (m->type != BN_MSG_BLK_INFO)
                return bad("not a block info message", why);
        if (m->hdr_len != sizeof(*i) || m->len)
                return bad("bad info header or data length", why);
        memcpy(i, m->hdr, sizeof(*i));
        if (i->size % 512)
                return bad("disk size not a multiple of 512", why);
        if (i->flags & ~(BN_BLK_INFO_F_READONLY | BN_BLK_INFO_F_DISCARD | BN_BLK_INFO_F_FLUSH))
                return bad("unknown info flags", why);
        if (i->sector_size != 512 && i->sector_size != 4096)
                return bad("sector size not 512 or 4096", why);
        return 0;
}
