/* test_corm_gso.c: software TCP segmentation and checksums (corm_gso.h):
 * 64 KiB TCPv4 and TCPv6 GSO frames are cut into MSS-sized segments whose
 * checksums verify, whose sequence numbers and payload reassemble the
 * original, with FIN/PSH only on the last; the checksum summed by words
 * equals the 16-bit definition; a partial checksum is completed;
 * malformed frames are refused without out-of-bounds access (run it under
 * ASan). Software GRO: the segments of a 64 KiB frame merge back into it,
 * byte for byte, with the right GSO header; out-of-order segments, another
 * flow, SYN/CWR, a bad checksum, segments after a PSH, a pure ACK and a full
 * buffer are not merged; a lone segment comes back as it was; corrupted
 * segments never crash it.
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

/* bn_net_csum_add (words at a time) against the definition: 16-bit
 * network-order words, the odd last byte as a high byte, end-around carry;
 * every length and alignment up to 300 bytes, all-ones data, long ones. */
static uint16_t csum_ref(uint32_t sum, const uint8_t *b, size_t len)
{
        uint64_t s = sum;

        for (size_t i = 0; i + 1 < len; i += 2)
                s += (uint32_t)b[i] << 8 | b[i + 1];
        if (len & 1)
                s += (uint32_t)b[len - 1] << 8;
        while (s >> 16)
                s = (s & 0xffff) + (s >> 16);
        return (uint16_t)s;
}

static void test_csum_words(void)
{
        static uint8_t d[70000];
        uint64_t r = 3;
        size_t off, len;

        for (size_t i = 0; i < sizeof(d); i++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                d[i] = (uint8_t)(r >> 56);
        }
        for (off = 0; off < 8; off++)
                for (len = 0; len < 300; len++)
                        CHECK(
                            bn_net_csum_fold(bn_net_csum_add((uint32_t)len * 977u, d + off, len)) ==
                            csum_ref((uint32_t)len * 977u, d + off, len));
        CHECK(bn_net_csum_fold(bn_net_csum_add(0xffffffffu, d + 3, 65535)) ==
              csum_ref(0xffffffffu, d + 3, 65535));
        memset(d, 0xff, 65536);
        CHECK(bn_net_csum_fold(bn_net_csum_add(0, d, 65536)) == csum_ref(0, d, 65536));
        CHECK(bn_net_csum_fold(bn_net_csum_add(0, d + 1, 65533)) == csum_ref(0, d + 1, 65533));
        printf("checksum by words equals the 16-bit definition\n");
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

/* ---- software GRO ---- */
static uint8_t *scratch_of(void)
{
        static uint8_t scratch[2000];

        return scratch;
}

#define GRO_SEGS 48

struct segs {
        uint8_t f[GRO_SEGS][1600];
        size_t len[GRO_SEGS];
        int n;
};

static int keep_seg(void *arg, const uint8_t *f, size_t len)
{
        struct segs *s = arg;

        CHECK(s->n < GRO_SEGS && len <= sizeof(s->f[0]));
        memcpy(s->f[s->n], f, len);
        s->len[s->n++] = len;
        return 0;
}

/* Recompute a plain segment's checksums after the test changed it. */
static void refix(uint8_t *f, size_t len, int v6)
{
        struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM};
        size_t l4 = v6 ? 54 : 34;
        uint32_t ps = v6 ? bn_net_csum_add(0, f + 22, 32) : bn_net_csum_add(0, f + 26, 8);

        if (!v6) {
                put16(f + 24, 0);
                put16(f + 24, (uint16_t)~bn_net_csum_fold(bn_net_csum_add(0, f + 14, 20)));
        }
        ps += IPPROTO_TCP + (uint32_t)(len - l4);
        put16(f + l4 + 16, bn_net_csum_fold(ps));
        h.csum_start = (uint16_t)l4;
        h.csum_offset = 16;
        CHECK(bn_net_gso_csum_complete(&h, f, len) == 0);
        CHECK(bn_net_csum_verify(f, len) == 0);
}

static size_t gro_one(struct bn_net_gro *g, const uint8_t *f, size_t len)
{
        return (size_t)bn_net_gro_add(g, f, len);
}

static void test_gro(int v6)
{
        static uint8_t f[70000], buf[65535 + 18], m[1600], mm[2][1600];
        static struct segs s;
        struct virtio_net_hdr h, hg;
        struct bn_net_gro g;
        size_t plen = v6 ? 65535 - 40 - 20 : 65535 - 40, len, l4 = v6 ? 54 : 34, glen;
        const uint8_t *out;
        unsigned nsegs;
        int i;

        len = build(f, v6, plen, 1448, &h);
        f[l4 + 13] = 0x18; /* PSH ACK: no FIN, which GRO leaves alone */
        s.n = 0;
        CHECK(bn_net_gso_segment(&h, f, len, scratch_of(), 2000, keep_seg, &s) == 46);

        /* all in order: one frame, the original byte for byte */
        bn_net_gro_init(&g, buf, sizeof(buf));
        for (i = 0; i < s.n; i++)
                CHECK(gro_one(&g, s.f[i], s.len[i]) == 1);
        glen = bn_net_gro_flush(&g, &hg, &out, &nsegs);
        CHECK(glen == len && nsegs == 46 && out == buf);
        CHECK(memcmp(out, f, len) == 0); /* lengths, IPv4 id and checksum, PSH, partial csum */
        CHECK(hg.gso_type == (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4));
        CHECK(hg.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && hg.gso_size == 1448);
        CHECK(hg.hdr_len == h.hdr_len && hg.csum_start == l4 && hg.csum_offset == 16);
        CHECK(bn_net_gro_flush(&g, &hg, &out, &nsegs) == 0); /* empty now */

        /* a lone segment comes back as it was, with no metadata */
        CHECK(gro_one(&g, s.f[3], s.len[3]) == 1);
        CHECK(bn_net_gro_flush(&g, &hg, &out, &nsegs) == s.len[3] && out == s.f[3] && nsegs == 1);
        CHECK(hg.gso_type == 0 && hg.flags == 0);

        /* out of order, a gap: not merged */
        CHECK(gro_one(&g, s.f[0], s.len[0]) == 1);
        CHECK(gro_one(&g, s.f[2], s.len[2]) == 0);
        CHECK(gro_one(&g, s.f[1], s.len[1]) == 1);
        CHECK(gro_one(&g, s.f[1], s.len[1]) == 0); /* a duplicate */
        CHECK(bn_net_gro_flush(&g, &hg, &out, &nsegs) == s.len[0] + s.len[1] - h.hdr_len &&
              nsegs == 2);

        /* another flow (destination port), SYN, CWR, a bad checksum: not merged */
        for (i = 0; i < 4; i++) {
                memcpy(m, s.f[1], s.len[1]);
                if (i == 0)
                        put16(m + l4 + 2, 5202);
                else
                        m[l4 + 13] |= i == 1 ? 0x02 : 0x80;
                if (i < 3)
                        refix(m, s.len[1], v6);
                else
                        m[l4 + 30] ^= 0x10;
                CHECK(gro_one(&g, s.f[0], s.len[0]) == 1);
                CHECK(gro_one(&g, m, s.len[1]) == 0);
                CHECK(bn_net_gro_flush(&g, &hg, &out, &nsegs) == s.len[0] && nsegs == 1);
                CHECK(gro_one(&g, m, s.len[1]) == (i == 0)); /* alone: only the other flow */
                bn_net_gro_flush(&g, &hg, &out, &nsegs);
        }

        /* a PSH ends the frame; a pure ACK is never held */
        memcpy(m, s.f[0], s.len[0]);
        m[l4 + 13] |= 0x08;
        refix(m, s.len[0], v6);
        CHECK(gro_one(&g, m, s.len[0]) == 1);
        CHECK(gro_one(&g, s.f[1], s.len[1]) == 0);
        bn_net_gro_flush(&g, &hg, &out, &nsegs);
        memcpy(m, s.f[0], h.hdr_len);
        if (v6)
                put16(m + 18, 20);
        else
                put16(m + 16, 40);
        refix(m, h.hdr_len, v6);
        CHECK(gro_one(&g, m, h.hdr_len) == 0);

        /* a buffer of two segments takes no third */
        bn_net_gro_init(&g, buf, s.len[0] + 1448);
        CHECK(gro_one(&g, s.f[0], s.len[0]) == 1 && gro_one(&g, s.f[1], s.len[1]) == 1);
        CHECK(gro_one(&g, s.f[2], s.len[2]) == 0);
        bn_net_gro_flush(&g, &hg, &out, &nsegs);
        CHECK(nsegs == 2);

        /* corrupted segments: merged or not, never out of bounds (ASan);
         * two buffers in turn, since a lone segment held is not copied */
        uint64_t r = 7;
        unsigned merged = 0;
        bn_net_gro_init(&g, buf, sizeof(buf));
        for (i = 0; i < 20000; i++) {
                size_t k = (size_t)i % (size_t)s.n, l = s.len[k];
                uint8_t *c = mm[i % 2];

                memcpy(c, s.f[k], l);
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                if ((r >> 40) % 4 == 0)
                        l = (r >> 20) % (l + 1);
                else if ((r >> 40) % 4 == 1)
                        c[(r >> 8) % 80] ^= (uint8_t)(r >> 50);
                if (!bn_net_gro_add(&g, c, l)) {
                        bn_net_gro_flush(&g, &hg, &out, &nsegs);
                        merged += nsegs > 1;
                        (void)bn_net_gro_add(&g, c, l);
                }
        }
        bn_net_gro_flush(&g, &hg, &out, &nsegs);
        CHECK(merged > 0); /* the intact ones still merged */
        printf("GRO TCPv%d: %d segments merged back byte for byte; gaps, other flows, SYN, CWR, "
               "bad checksums, PSH, pure ACKs, a full buffer not merged\n",
               v6 ? 6 : 4, s.n);
}

int main(void)
{
        test_segment(0);
        test_segment(1);
        test_csum_words();
        test_csum_complete();
        test_hostile();
        test_gro(0);
        test_gro(1);
        printf("test_corm_gso: all passed\n");
        return 0;
}
