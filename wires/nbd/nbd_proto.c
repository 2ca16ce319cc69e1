/* nbd_proto.c: the NBD protocol's parsers (server side: client flags,
 * options, requests; client side: greeting, option replies, simple and
 * structured replies) and encoders, over byte buffers (nbd_proto.h). */
#include "nbd_proto.h"

#include <errno.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get64(const uint8_t *p)
{
        return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
        put16(p, (uint16_t)(v >> 16));
        put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
        put32(p, (uint32_t)(v >> 32));
        put32(p + 4, (uint32_t)v);
}

/* ---- server side ------------------------------------------------------ */

void bn_nbd_srv_init(struct bn_nbd_srv_state *s, const struct bn_nbd_export *exp)
{
        memset(s, 0, sizeof(*s));
        s->phase = BN_NBD_SRV_CLIENT_FLAGS;
        if (exp)
                s->exp = *exp;
}

/* The error a well framed request is answered with, 0 when it is valid. */
static uint32_t srv_check_request(const struct bn_nbd_srv_state *s, const struct bn_nbd_srv_ev *ev)
{
        const struct bn_nbd_export *e = &s->exp;
        uint16_t allowed = 0;
        bool ranged = true;

        switch (ev->type) {
        case BN_NBD_CMD_READ:
                allowed = BN_NBD_CMD_FLAG_FUA | BN_NBD_CMD_FLAG_DF;
                break;
        case BN_NBD_CMD_WRITE:
                allowed = BN_NBD_CMD_FLAG_FUA;
                break;
        case BN_NBD_CMD_FLUSH:
                if (!(e->tflags & BN_NBD_FLAG_SEND_FLUSH))
                        return BN_NBD_EINVAL;
                ranged = false;
                break;
        case BN_NBD_CMD_TRIM:
                if (!(e->tflags & BN_NBD_FLAG_SEND_TRIM))
                        return BN_NBD_EINVAL;
                allowed = BN_NBD_CMD_FLAG_FUA;
                break;
        case BN_NBD_CMD_WRITE_ZEROES:
                if (!(e->tflags & BN_NBD_FLAG_SEND_WRITE_ZEROES))
                        return BN_NBD_EINVAL;
                allowed = BN_NBD_CMD_FLAG_FUA | BN_NBD_CMD_FLAG_NO_HOLE;
                break;
        default:
                return BN_NBD_EINVAL;
        }
        if (ev->flags & ~allowed)
                return BN_NBD_EINVAL;
        if ((ev->flags & BN_NBD_CMD_FLAG_FUA) && !(e->tflags & BN_NBD_FLAG_SEND_FUA) &&
            ev->type != BN_NBD_CMD_READ)
                return BN_NBD_EINVAL;
        if ((ev->flags & BN_NBD_CMD_FLAG_DF) && !s->structured)
                return BN_NBD_EINVAL;
        if (ranged) {
                if (ev->length == 0)
                        return BN_NBD_EINVAL;
                if (ev->offset > e->size || ev->length > e->size - ev->offset)
                        return ev->type == BN_NBD_CMD_WRITE ? BN_NBD_ENOSPC : BN_NBD_EINVAL;
                if ((ev->type == BN_NBD_CMD_READ || ev->type == BN_NBD_CMD_WRITE) &&
                    ev->length > e->max_block)
                        return BN_NBD_EOVERFLOW;
        } else if (ev->offset != 0 || ev->length != 0) {
                return BN_NBD_EINVAL;
        }
        if ((e->tflags & BN_NBD_FLAG_READ_ONLY) &&
            (ev->type == BN_NBD_CMD_WRITE || ev->type == BN_NBD_CMD_TRIM ||
             ev->type == BN_NBD_CMD_WRITE_ZEROES))
                return BN_NBD_EPERM;
        return 0;
}

static ssize_t srv_parse_request(struct bn_nbd_srv_state *s, const uint8_t *buf, size_t len,
                                 struct bn_nbd_srv_ev *ev, size_t *need)
{
        size_t total = BN_NBD_REQ_LEN;

        if (len < BN_NBD_REQ_LEN) {
                *need = BN_NBD_REQ_LEN;
                return 0;
        }
        if (get32(buf) != BN_NBD_REQUEST_MAGIC)
                return -EPROTO;
        ev->kind = BN_NBD_SRV_EV_REQUEST;
        ev->flags = get16(buf + 4);
        ev->type = get16(buf + 6);
        ev->handle = get64(buf + 8);
        ev->offset = get64(buf + 16);
        ev->length = get32(buf + 24);
        ev->data = NULL;
        if (ev->type == BN_NBD_CMD_DISC) {
                s->phase = BN_NBD_SRV_DONE;
                ev->err = 0;
                return BN_NBD_REQ_LEN;
        }
        if (ev->type == BN_NBD_CMD_WRITE) {
                /* The payload follows whatever we think of the request: past
                 * what we accept, the framing cannot be trusted. */
                if (ev->length > BN_NBD_MAX_PAYLOAD)
                        return -EMSGSIZE;
                total += ev->length;
                if (len < total) {
                        *need = total;
                        return 0;
                }
                ev->data = buf + BN_NBD_REQ_LEN;
        }
        ev->err = srv_check_request(s, ev);
        return (ssize_t)total;
}

ssize_t bn_nbd_srv_parse(struct bn_nbd_srv_state *s, const uint8_t *buf, size_t len,
                         struct bn_nbd_srv_ev *ev, size_t *need)
{
        memset(ev, 0, sizeof(*ev));
        *need = 0;
        switch (s->phase) {
        case BN_NBD_SRV_CLIENT_FLAGS:
                if (len < 4) {
                        *need = 4;
                        return 0;
                }
                ev->kind = BN_NBD_SRV_EV_FLAGS;
                ev->client_flags = get32(buf);
                /* Only fixed newstyle is served, and no flag we do not know. */
                if (!(ev->client_flags & BN_NBD_FLAG_C_FIXED_NEWSTYLE) ||
                    (ev->client_flags & ~(BN_NBD_FLAG_C_FIXED_NEWSTYLE | BN_NBD_FLAG_C_NO_ZEROES)))
                        return -EPROTO;
                s->client_flags = ev->client_flags;
                s->phase = BN_NBD_SRV_OPTIONS;
                return 4;
        case BN_NBD_SRV_OPTIONS:
                if (len < 16) {
                        *need = 16;
                        return 0;
                }
                if (get64(buf) != BN_NBD_OPTS_MAGIC)
                        return -EPROTO;
                ev->kind = BN_NBD_SRV_EV_OPTION;
                ev->opt = get32(buf + 8);
                ev->opt_len = get32(buf + 12);
                if (ev->opt_len > BN_NBD_MAX_OPT)
                        return -EMSGSIZE;
                if (len < 16 + (size_t)ev->opt_len) {
                        *need = 16 + (size_t)ev->opt_len;
                        return 0;
                }
                ev->opt_data = buf + 16;
                return 16 + (ssize_t)ev->opt_len;
        case BN_NBD_SRV_TRANSMIT:
                return srv_parse_request(s, buf, len, ev, need);
        case BN_NBD_SRV_DONE:
        default:
                return -ESHUTDOWN;
        }
}

int bn_nbd_opt_parse_name(const struct bn_nbd_srv_ev *ev, struct bn_nbd_name *name, uint16_t *info,
                          unsigned max_info, unsigned *n_info)
{
        const uint8_t *d = ev->opt_data;
        uint32_t len = ev->opt_len, nlen;
        unsigned n, i;

        if (n_info)
                *n_info = 0;
        if (ev->kind != BN_NBD_SRV_EV_OPTION)
                return -EINVAL;
        if (ev->opt == BN_NBD_OPT_EXPORT_NAME) {
                if (len > BN_NBD_MAX_NAME || memchr(d, 0, len))
                        return -EINVAL;
                memcpy(name->s, d, len);
                name->s[len] = 0;
                return 0;
        }
        if (ev->opt != BN_NBD_OPT_INFO && ev->opt != BN_NBD_OPT_GO)
                return -EINVAL;
        if (len < 6)
                return -EINVAL;
        nlen = get32(d);
        if (nlen > BN_NBD_MAX_NAME || nlen > len - 6 || memchr(d + 4, 0, nlen))
                return -EINVAL;
        memcpy(name->s, d + 4, nlen);
        name->s[nlen] = 0;
        n = get16(d + 4 + nlen);
        if ((size_t)len != 6 + (size_t)nlen + 2 * (size_t)n)
                return -EINVAL;
        for (i = 0; i < n && info && i < max_info; i++)
                info[i] = get16(d + 6 + nlen + 2 * i);
        if (n_info)
                *n_info = i;
        return 0;
}

/* ---- encoders --------------------------------------------------------- */

size_t bn_nbd_put_hello(uint8_t out[BN_NBD_HELLO_LEN], uint16_t hs_flags)
{
        put64(out, BN_NBD_MAGIC);
        put64(out + 8, BN_NBD_OPTS_MAGIC);
        put16(out + 16, hs_flags);
        return BN_NBD_HELLO_LEN;
}

size_t bn_nbd_put_optrep(uint8_t out[BN_NBD_OPTREP_LEN], uint32_t opt, uint32_t type, uint32_t len)
{
        put64(out, BN_NBD_REP_MAGIC);
        put32(out + 8, opt);
        put32(out + 12, type);
        put32(out + 16, len);
        return BN_NBD_OPTREP_LEN;
}

size_t bn_nbd_put_info_export(uint8_t out[32], uint32_t opt, const struct bn_nbd_export *e)
{
        bn_nbd_put_optrep(out, opt, BN_NBD_REP_INFO, 12);
        put16(out + 20, BN_NBD_INFO_EXPORT);
        put64(out + 22, e->size);
        put16(out + 30, e->tflags);
        return 32;
}

size_t bn_nbd_put_info_block(uint8_t out[38], uint32_t opt, const struct bn_nbd_export *e)
{
        bn_nbd_put_optrep(out, opt, BN_NBD_REP_INFO, 14);
        put16(out + 20, BN_NBD_INFO_BLOCK_SIZE);
        put32(out + 22, e->min_block);
        put32(out + 26, e->pref_block);
        put32(out + 30, e->max_block);
        return 34;
}

size_t bn_nbd_put_export_name_reply(uint8_t out[134], const struct bn_nbd_export *e, bool no_zeroes)
{
        put64(out, e->size);
        put16(out + 8, e->tflags);
        if (no_zeroes)
                return 10;
        memset(out + 10, 0, 124);
        return 134;
}

size_t bn_nbd_put_simple(uint8_t out[BN_NBD_SIMPLE_LEN], uint32_t err, uint64_t handle)
{
        put32(out, BN_NBD_SIMPLE_MAGIC);
        put32(out + 4, err);
        put64(out + 8, handle);
        return BN_NBD_SIMPLE_LEN;
}

size_t bn_nbd_put_chunk(uint8_t out[BN_NBD_CHUNK_LEN], uint16_t flags, uint16_t type,
                        uint64_t handle, uint32_t len)
{
        put32(out, BN_NBD_STRUCT_MAGIC);
        put16(out + 4, flags);
        put16(out + 6, type);
        put64(out + 8, handle);
        put32(out + 16, len);
        return BN_NBD_CHUNK_LEN;
}

size_t bn_nbd_put_request(uint8_t out[BN_NBD_REQ_LEN], uint16_t flags, uint16_t type,
                          uint64_t handle, uint64_t offset, uint32_t length)
{
        put32(out, BN_NBD_REQUEST_MAGIC);
        put16(out + 4, flags);
        put16(out + 6, type);
        put64(out + 8, handle);
        put64(out + 16, offset);
        put32(out + 24, length);
        return BN_NBD_REQ_LEN;
}

size_t bn_nbd_put_option(uint8_t out[16], uint32_t opt, uint32_t len)
{
        put64(out, BN_NBD_OPTS_MAGIC);
        put32(out + 8, opt);
        put32(out + 12, len);
        return 16;
}

/* ---- client side ------------------------------------------------------ */

void bn_nbd_cli_init(struct bn_nbd_cli_state *c, bn_nbd_read_len_fn read_len, void *arg)
{
        memset(c, 0, sizeof(*c));
        c->phase = BN_NBD_CLI_HELLO;
        c->read_len = read_len;
        c->read_len_arg = arg;
}

static ssize_t cli_parse_simple(struct bn_nbd_cli_state *c, const uint8_t *buf, size_t len,
                                struct bn_nbd_cli_ev *ev, size_t *need)
{
        uint32_t rlen = 0;
        uint64_t off = 0;

        ev->kind = BN_NBD_CLI_EV_REPLY;
        ev->err = get32(buf + 4);
        ev->handle = get64(buf + 8);
        ev->done = true;
        ev->chunk_type = BN_NBD_REPLY_NONE;
        /* A successful simple reply to a read carries the data; only the
         * request says how long it is. An unknown handle breaks framing. */
        if (!c->read_len || c->read_len(c->read_len_arg, ev->handle, &rlen, &off) < 0)
                return -EPROTO;
        if (ev->err || rlen == 0)
                return BN_NBD_SIMPLE_LEN;
        if (c->structured)
                return -EPROTO; /* reads must be answered structured */
        if (rlen > BN_NBD_MAX_PAYLOAD)
                return -EMSGSIZE;
        if (len < BN_NBD_SIMPLE_LEN + (size_t)rlen) {
                *need = BN_NBD_SIMPLE_LEN + (size_t)rlen;
                return 0;
        }
        ev->chunk_type = BN_NBD_REPLY_OFFSET_DATA;
        ev->offset = off;
        ev->data = buf + BN_NBD_SIMPLE_LEN;
        ev->len = rlen;
        return BN_NBD_SIMPLE_LEN + (ssize_t)rlen;
}

static ssize_t cli_parse_chunk(struct bn_nbd_cli_state *c, const uint8_t *buf, size_t len,
                               struct bn_nbd_cli_ev *ev, size_t *need)
{
        uint16_t flags = get16(buf + 4);
        uint32_t plen = get32(buf + 16), rlen = 0, mlen;
        uint64_t roff = 0;
        const uint8_t *p = buf + BN_NBD_CHUNK_LEN;

        if (!c->structured || (flags & ~BN_NBD_REPLY_FLAG_DONE))
                return -EPROTO;
        if (plen > BN_NBD_MAX_PAYLOAD + 8)
                return -EMSGSIZE;
        if (len < BN_NBD_CHUNK_LEN + (size_t)plen) {
                *need = BN_NBD_CHUNK_LEN + (size_t)plen;
                return 0;
        }
        ev->kind = BN_NBD_CLI_EV_REPLY;
        ev->done = flags & BN_NBD_REPLY_FLAG_DONE;
        ev->chunk_type = get16(buf + 6);
        ev->handle = get64(buf + 8);
        if (!c->read_len || c->read_len(c->read_len_arg, ev->handle, &rlen, &roff) < 0)
                return -EPROTO;
        switch (ev->chunk_type) {
        case BN_NBD_REPLY_NONE:
                if (plen != 0 || !ev->done)
                        return -EPROTO;
                break;
        case BN_NBD_REPLY_OFFSET_DATA:
                if (plen <= 8)
                        return -EPROTO;
                ev->offset = get64(p);
                ev->data = p + 8;
                ev->len = plen - 8;
                /* within the read that was asked for */
                if (ev->offset < roff || ev->offset - roff > rlen ||
                    ev->len > rlen - (ev->offset - roff))
                        return -EPROTO;
                break;
        case BN_NBD_REPLY_OFFSET_HOLE:
                if (plen != 12)
                        return -EPROTO;
                ev->offset = get64(p);
                ev->len = get32(p + 8);
                if (ev->len == 0 || ev->offset < roff || ev->offset - roff > rlen ||
                    ev->len > rlen - (ev->offset - roff))
                        return -EPROTO;
                break;
        case BN_NBD_REPLY_ERROR:
        case BN_NBD_REPLY_ERROR_OFFSET:
                if (plen < 6)
                        return -EPROTO;
                ev->err = get32(p);
                mlen = get16(p + 4);
                if (ev->err == 0 ||
                    (size_t)mlen + 6 + (ev->chunk_type == BN_NBD_REPLY_ERROR_OFFSET ? 8 : 0) !=
                        plen)
                        return -EPROTO;
                ev->data = p + 6;
                ev->len = mlen;
                if (ev->chunk_type == BN_NBD_REPLY_ERROR_OFFSET)
                        ev->offset = get64(p + 6 + mlen);
                break;
        default:
                /* unknown error types are still errors; others break us */
                if (!(ev->chunk_type & (1U << 15)) || plen < 6)
                        return -EPROTO;
                ev->err = get32(p);
                if (ev->err == 0)
                        return -EPROTO;
                break;
        }
        return BN_NBD_CHUNK_LEN + (ssize_t)plen;
}

ssize_t bn_nbd_cli_parse(struct bn_nbd_cli_state *c, const uint8_t *buf, size_t len,
                         struct bn_nbd_cli_ev *ev, size_t *need)
{
        uint32_t magic;
        size_t n;

        memset(ev, 0, sizeof(*ev));
        *need = 0;
        switch (c->phase) {
        case BN_NBD_CLI_HELLO:
                if (len < BN_NBD_HELLO_LEN) {
                        *need = BN_NBD_HELLO_LEN;
                        return 0;
                }
                if (get64(buf) != BN_NBD_MAGIC || get64(buf + 8) != BN_NBD_OPTS_MAGIC)
                        return -EPROTO; /* oldstyle is not spoken */
                ev->kind = BN_NBD_CLI_EV_HELLO;
                ev->hs_flags = get16(buf + 16);
                if (!(ev->hs_flags & BN_NBD_FLAG_FIXED_NEWSTYLE))
                        return -EPROTO;
                c->hs_flags = ev->hs_flags;
                c->phase = BN_NBD_CLI_OPTIONS;
                return BN_NBD_HELLO_LEN;
        case BN_NBD_CLI_OPTIONS:
                if (len < BN_NBD_OPTREP_LEN) {
                        *need = BN_NBD_OPTREP_LEN;
                        return 0;
                }
                if (get64(buf) != BN_NBD_REP_MAGIC)
                        return -EPROTO;
                ev->kind = BN_NBD_CLI_EV_OPTREP;
                ev->opt = get32(buf + 8);
                ev->rep_type = get32(buf + 12);
                ev->len = get32(buf + 16);
                if (ev->len > BN_NBD_MAX_OPT)
                        return -EMSGSIZE;
                if (len < BN_NBD_OPTREP_LEN + (size_t)ev->len) {
                        *need = BN_NBD_OPTREP_LEN + (size_t)ev->len;
                        return 0;
                }
                ev->data = buf + BN_NBD_OPTREP_LEN;
                if (ev->rep_type == BN_NBD_REP_ACK && ev->len != 0)
                        return -EPROTO;
                if (ev->rep_type == BN_NBD_REP_ACK && ev->opt == BN_NBD_OPT_STRUCTURED_REPLY)
                        c->structured = true;
                if (ev->rep_type == BN_NBD_REP_ACK && ev->opt == BN_NBD_OPT_GO)
                        c->phase = BN_NBD_CLI_TRANSMIT;
                return BN_NBD_OPTREP_LEN + (ssize_t)ev->len;
        case BN_NBD_CLI_EXPORT_NAME:
                n = c->no_zeroes ? 10 : 134;
                if (len < n) {
                        *need = n;
                        return 0;
                }
                ev->kind = BN_NBD_CLI_EV_EXPORT;
                ev->size = get64(buf);
                ev->tflags = get16(buf + 8);
                if (!(ev->tflags & BN_NBD_FLAG_HAS_FLAGS))
                        return -EPROTO;
                c->phase = BN_NBD_CLI_TRANSMIT;
                return (ssize_t)n;
        case BN_NBD_CLI_TRANSMIT:
        default:
                if (len < BN_NBD_SIMPLE_LEN) {
                        *need = BN_NBD_SIMPLE_LEN;
                        return 0;
                }
                magic = get32(buf);
                if (magic == BN_NBD_SIMPLE_MAGIC)
                        return cli_parse_simple(c, buf, len, ev, need);
                if (magic != BN_NBD_STRUCT_MAGIC)
                        return -EPROTO;
                if (len < BN_NBD_CHUNK_LEN) {
                        *need = BN_NBD_CHUNK_LEN;
                        return 0;
                }
                return cli_parse_chunk(c, buf, len, ev, need);
        }
}

int bn_nbd_cli_info_export(const struct bn_nbd_cli_ev *ev, struct bn_nbd_export *e)
{
        if (ev->kind != BN_NBD_CLI_EV_OPTREP || ev->rep_type != BN_NBD_REP_INFO || ev->len < 2 ||
            get16(ev->data) != BN_NBD_INFO_EXPORT)
                return -EINVAL;
        if (ev->len != 12)
                return -EINVAL;
        e->size = get64(ev->data + 2);
        e->tflags = get16(ev->data + 10);
        if (!(e->tflags & BN_NBD_FLAG_HAS_FLAGS))
                return -EINVAL;
        return 0;
}

/* ---- errors ----------------------------------------------------------- */

uint32_t bn_nbd_err_from_errno(int err)
{
        switch (err < 0 ? -err : err) {
        case 0:
                return 0;
        case EPERM:
        case EROFS:
        case EACCES:
                return BN_NBD_EPERM;
        case ENOMEM:
                return BN_NBD_ENOMEM;
        case EINVAL:
                return BN_NBD_EINVAL;
        case ENOSPC:
        case EFBIG:
                return BN_NBD_ENOSPC;
        case EOVERFLOW:
                return BN_NBD_EOVERFLOW;
        case ENOTSUP:
                return BN_NBD_ENOTSUP;
        case ESHUTDOWN:
                return BN_NBD_ESHUTDOWN;
        default:
                return BN_NBD_EIO;
        }
}

int bn_nbd_err_to_errno(uint32_t nbd_err)
{
        switch (nbd_err) {
        case 0:
                return 0;
        case BN_NBD_EPERM:
                return -EPERM;
        case BN_NBD_ENOMEM:
                return -ENOMEM;
        case BN_NBD_EINVAL:
                return -EINVAL;
        case BN_NBD_ENOSPC:
                return -ENOSPC;
        case BN_NBD_EOVERFLOW:
                return -EOVERFLOW;
        case BN_NBD_ENOTSUP:
                return -ENOTSUP;
        case BN_NBD_ESHUTDOWN:
                return -ESHUTDOWN;
        default:
                return -EIO;
        }
}

const char *bn_nbd_cmd_name(uint16_t type)
{
        switch (type) {
        case BN_NBD_CMD_READ:
                return "READ";
        case BN_NBD_CMD_WRITE:
                return "WRITE";
        case BN_NBD_CMD_DISC:
                return "DISC";
        case BN_NBD_CMD_FLUSH:
                return "FLUSH";
        case BN_NBD_CMD_TRIM:
                return "TRIM";
        case BN_NBD_CMD_WRITE_ZEROES:
                return "WRITE_ZEROES";
        default:
                return "unknown";
        }
}
