/* test_corm_gso.c: software TCP segmentation and checksums (corm_gso.h):
 * 64 KiB TCPv4 and TCPv6 GSO frames are cut into MSS-sized segments whose
 * checksums verify, whose sequence numbers and payload reassemble the
 * original, with FIN/PSH only on the last; a partial checksum is completed;
 * malformed frames are refused without out-of-bounds access (run it under
 * ASan).
 */
#include "corm_gso.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_CHECK_FATAL
#include "../bn_check.h"

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Build Ethernet + IPv4/IPv6 + TCP (20 bytes) + payload; returns length and
 * fills h as Linux would for TSO with a partial checksum. */
static size_t build(uint8_t *f, int v6, size_t plen, uint16_t mss, struct virtio_net_hdr *h)
{
        size_t l3 = 14, l4 = v6 ? 54 : 34, pay = l4 + 20, i;
        uint32_t ps;

        memset(f, 0, pay);
        memset(f, 0xff, 6);
        memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
        put16(f + 12, v6 ? 0x86dd : 0x0800);
        if (v6) {
                f[l3] = 0x60;
                put16(f + l3 + 4, (uint16_t)(20 + plen));
                f[l3 + 6] = IPPROTO_TCP;
                f[l3 + 7] = 64;
                f[l3 + 8] = 0xfd;
                f[l3 + 23] = 1;
                f[l3 + 24] = 0xfd;
                f[l3 + 39] = 2;
        } else {
                f[l3] = 0x45;
                put16(f + l3 + 2, (uint16_t)(20 + 20 + plen));
                put16(f + l3 + 4, 0x1234);
                put16(f + l3 + 6, 0x4000); /* DF */
                f[l3 + 8] = 64;
                f[l3 + 9] = IPPROTO_TCP;
                memcpy(f + l3 + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
                put16(f + l3 + 10, (uint16_t)~bn_net_csum_fold(bn_net_csum_add(0, f + l3, 20)));
        }
        put16(f + l4, 40000);
        put16(f + l4 + 2, 5201);
        memcpy(f + l4 + 4, "\xff\xff\xf0\x00", 4); /* sequence wraps during the frame */
        f[l4 + 12] = 5 << 4;
        f[l4 + 13] = 0x18 | 0x01; /* PSH ACK FIN */
        put16(f + l4 + 14, 65535);
        for (i = 0; i < plen; i++)
                f[pay + i] = (uint8_t)(i * 7 + i / 251);
        /* Partial checksum: the pseudo-header sum in the field. */
        ps = v6 ? bn_net_csum_add(0, f + l3 + 8, 32) : bn_net_csum_add(0, f + l3 + 12, 8);
        ps += IPPROTO_TCP + (uint32_t)(20 + plen);
        put16(f + l4 + 16, bn_net_csum_fold(ps));
        memset(h, 0, sizeof(*h));
        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        h->hdr_len = (uint16_t)pay;
        h->gso_size = mss;
        h->csum_start = (uint16_t)l4;
        h->csum_offset = 16;
        return pay + plen;
}

struct collect {
        const uint8_t *orig;
        size_t hlen, plen, got, mss;
        int v6, n, last_flags;
        uint32_t seq0;
};

static int on_seg(void *arg, const uint8_t *f, size_t len)
{
        struct collect *c = arg;
        size_t l4 = c->v6 ? 54 : 34, seg = len - c->hlen;
        uint32_t off = get32(f + l4 + 4) - c->seq0;

        CHECK(bn_net_csum_verify(f, len) == 0);
        CHECK(seg <= c->mss && seg > 0);
        CHECK(off == c->got);
        CHECK(memcmp(f + c->hlen, c->orig + c->hlen + off, seg) == 0);
        if (!c->v6)
                CHECK((size_t)((f[16] << 8) | f[17]) == len - 14);
        if (c->got + seg < c->plen)
                CHECK((f[l4 + 13] & 0x09) == 0); /* no FIN/PSH before the end */
        c->last_flags = f[l4 + 13];
        c->got += seg;
        c->n++;
        return 0;
}

static void test_segment(int v6)
{
        static uint8_t f[70000], scratch[2000];
        struct virtio_net_hdr h;
        struct collect c = {0};
        size_t plen = v6 ? 65535 - 40 - 20 : 65535 - 40, len;
        int n;

        len = build(f, v6, plen, 1448, &h);
        c.orig = f;
        c.hlen = h.hdr_len;
        c.plen = plen;
        c.mss = 1448;
        c.v6 = v6;
        c.seq0 = 0xfffff000u;
        n = bn_net_gso_segment(&h, f, len, scratch, sizeof(scratch), on_seg, &c);
        CHECK(n == (int)((plen + 1447) / 1448));
        CHECK(c.got == plen && c.n == n);
        CHECK((c.last_flags & 0x09) == 0x09);
        printf("TCPv%d: %zu payload bytes -> %d segments, checksums valid\n", v6 ? 6 : 4, plen, n);
        /* scratch too small for a segment */
        CHECK(bn_net_gso_segment(&h, f, len, scratch, 100, on_seg, &c) == -EMSGSIZE);
}

static void test_csum_complete(void)
{
        static uint8_t f[2000];
        struct virtio_net_hdr h;
        size_t len = build(f, 0, 1000, 0, &h);

        CHECK(bn_net_csum_verify(f, len) == -EBADMSG); /* partial only */
        h.gso_type = 0;
        CHECK(bn_net_gso_csum_complete(&h, f, len) == 0);
        CHECK(bn_net_csum_verify(f, len) == 0);
        f[100] ^= 1;
        CHECK(bn_net_csum_verify(f, len) == -EBADMSG);
        h.csum_start = 1990;
        CHECK(bn_net_gso_csum_complete(&h, f, len) == -EINVAL);
        printf("partial checksum completed and verified\n");
}

static int count(void *arg, const uint8_t *f, size_t len)
{
        (void)f;
        (void)len;
        ++*(int *)arg;
        return 0;
}

static void test_hostile(void)
{
        static uint8_t f[70000], m[70000], scratch[70000];
        struct virtio_net_hdr h, hm;
        size_t len = build(f, 0, 30000, 1000, &h);
        uint64_t s = 1;
        int i, n;

        /* Truncations and random corruptions: refused or segmented, never a crash. */
        for (i = 0; i < 20000; i++) {
                size_t l = len, k;

                memcpy(m, f, len);
                hm = h;
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                switch ((s >> 40) % 4) {
                case 0:
                        l = (s >> 20) % len;
                        break;
                case 1:
                        for (k = 0; k < 4; k++)
                                m[(s >> (k * 8)) % 80] ^= (uint8_t)(s >> 50);
                        break;
                case 2:
                        hm.gso_size = (uint16_t)(s >> 30);
                        hm.csum_start = (uint16_t)(s >> 20);
                        hm.csum_offset = (uint16_t)(s >> 10);
                        break;
                default:
                        hm.gso_type = (uint8_t)(s >> 33);
                        break;
                }
                n = 0;
                (void)bn_net_gso_segment(&hm, m, l, scratch, sizeof(scratch), count, &n);
                (void)bn_net_csum_verify(m, l);
        }
        CHECK(bn_net_gso_segment(&h, f, 20, scratch, sizeof(scratch), count, &n) == -EINVAL);
        h.gso_size = 0;
        CHECK(bn_net_gso_segment(&h, f, len, scratch, sizeof(scratch), count, &n) == -EINVAL);
        printf("hostile frames: refused without crash\n");
}

int main(void)
{
        test_segment(0);
        test_segment(1);
        test_csum_complete();
        test_hostile();
        printf("test_corm_gso: all passed\n");
        return 0;
}
