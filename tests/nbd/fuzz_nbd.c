/* fuzz_nbd.c: libFuzzer targets for wires/nbd's parsers. Built twice:
 * with -DFUZZ_SERVER the server's side (client flags, options, requests: what
 * a hostile client sends), else the client's side (what a hostile server
 * sends). The input's first bytes choose the export (size, read-only,
 * offered commands); the rest arrives in pieces of varying size, as from a
 * socket. Checked besides memory safety: a parser never consumes more than
 * it was given, and "incomplete" always names more bytes than it had. */
#include "nbd_proto.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
        do {                                                                                       \
                if (!(x))                                                                          \
                        abort();                                                                   \
        } while (0)

#ifdef FUZZ_SERVER
static void act(struct bn_nbd_srv_state *s, const struct bn_nbd_srv_ev *ev,
                const struct bn_nbd_export *e)
{
        struct bn_nbd_name name;
        uint16_t info[8];
        unsigned n;

        if (ev->kind == BN_NBD_SRV_EV_OPTION) {
                if (ev->opt == BN_NBD_OPT_STRUCTURED_REPLY)
                        s->structured = true;
                if ((ev->opt == BN_NBD_OPT_GO || ev->opt == BN_NBD_OPT_EXPORT_NAME) &&
                    bn_nbd_opt_parse_name(ev, &name, info, 8, &n) == 0) {
                        CHECK(strlen(name.s) <= BN_NBD_MAX_NAME);
                        s->exp = *e;
                        s->phase = BN_NBD_SRV_TRANSMIT;
                }
                if (ev->opt == BN_NBD_OPT_ABORT)
                        s->phase = BN_NBD_SRV_DONE;
        } else if (ev->kind == BN_NBD_SRV_EV_REQUEST && ev->err == 0 &&
                   ev->type != BN_NBD_CMD_DISC) {
                /* what the server then trusts */
                if (ev->type != BN_NBD_CMD_FLUSH) {
                        CHECK(ev->length > 0 && ev->offset <= e->size &&
                              ev->length <= e->size - ev->offset);
                }
                if (ev->type == BN_NBD_CMD_WRITE)
                        CHECK(ev->data && !(e->tflags & BN_NBD_FLAG_READ_ONLY));
        }
}
#else
static int read_len(void *arg, uint64_t handle, uint32_t *len, uint64_t *offset)
{
        (void)arg;
        /* handles 0..15 are outstanding reads of 4 KiB * handle at 512 * handle */
        if (handle > 15)
                return -1;
        *len = 4096 * (uint32_t)handle;
        *offset = 512 * handle;
        return 0;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bn_nbd_export e = {0};
        uint8_t *buf;
        size_t have = 0, used = 0, need, step;
        ssize_t n;
        unsigned k = 0;

        if (size < 3)
                return 0;
        e.size = (uint64_t)data[0] << 16;
        e.tflags = (uint16_t)(BN_NBD_FLAG_HAS_FLAGS | (data[1] & 0x7e));
        e.min_block = 1;
        e.pref_block = 4096;
        e.max_block = BN_NBD_MAX_PAYLOAD;
        step = 1 + data[2] % 64;
        data += 3;
        size -= 3;
        buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
#ifdef FUZZ_SERVER
        struct bn_nbd_srv_state st;
        struct bn_nbd_srv_ev ev;

        bn_nbd_srv_init(&st, NULL);
#else
        struct bn_nbd_cli_state st;
        struct bn_nbd_cli_ev ev;

        bn_nbd_cli_init(&st, read_len, NULL);
        st.no_zeroes = e.tflags & 2;
#endif
        /* bytes arrive step at a time; the parser sees buf[used..have) */
        while (used < size) {
                if (have < size)
                        have = have + step > size ? size : have + step;
#ifdef FUZZ_SERVER
                n = bn_nbd_srv_parse(&st, buf + used, 0, &ev, &need); /* nothing yet */
                CHECK(n <= 0);
                memcpy(buf, data, have);
                n = bn_nbd_srv_parse(&st, buf + used, have - used, &ev, &need);
#else
                memcpy(buf, data, have);
                n = bn_nbd_cli_parse(&st, buf + used, have - used, &ev, &need);
#endif
                if (n < 0)
                        break;
                if (n == 0) {
                        CHECK(need > have - used);
                        if (have == size)
                                break;
                        continue;
                }
                CHECK((size_t)n <= have - used);
#ifdef FUZZ_SERVER
                act(&st, &ev, &e);
#else
                if (ev.kind == BN_NBD_CLI_EV_OPTREP) {
                        struct bn_nbd_export got;

                        if (bn_nbd_cli_info_export(&ev, &got) == 0)
                                CHECK(got.tflags & BN_NBD_FLAG_HAS_FLAGS);
                        /* after a while, pretend EXPORT_NAME was sent */
                        if (++k == 3 && st.phase == BN_NBD_CLI_OPTIONS)
                                st.phase = BN_NBD_CLI_EXPORT_NAME;
                } else if (ev.kind == BN_NBD_CLI_EV_REPLY && ev.data && ev.len) {
                        CHECK(ev.data >= buf + used && ev.data + ev.len <= buf + used + n);
                }
#endif
                used += (size_t)n;
        }
        (void)k;
        free(buf);
        return 0;
}
