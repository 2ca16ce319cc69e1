/* corm_gso.c: software TCP segmentation and checksums (see corm_gso.h).
 * Every offset is derived from the frame and checked against its length.
 */
#include "corm_gso.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#define ETH_HLEN_    14
#define ETHTYPE_IP   0x0800
#define ETHTYPE_IPV6 0x86dd
#define ETHTYPE_VLAN 0x8100
#define TCP_FIN      0x01
#define TCP_PSH      0x08
#define TCP_CWR      0x80

uint32_t bn_net_csum_add(uint32_t sum, const void *p, size_t len)
{
        const uint8_t *b = p;
        uint64_t s = sum;

        while (len >= 2) {
                s += (uint32_t)b[0] << 8 | b[1];
                b += 2;
                len -= 2;
        }
        if (len)
                s += (uint32_t)b[0] << 8;
        while (s >> 32)
                s = (s & 0xffffffffu) + (s >> 32);
        return (uint32_t)s;
}

uint16_t bn_net_csum_fold(uint32_t sum)
{
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)sum;
}

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

/* Parsed layout of a frame. */
struct layout {
        size_t l3, l4, payload; /* offsets */
        int v6;                 /* 0: IPv4, 1: IPv6 */
        uint8_t proto;          /* IPPROTO_TCP / IPPROTO_UDP */
        size_t end;             /* end of the IP packet (<= frame length) */
};

static int parse(const uint8_t *f, size_t len, struct layout *L)
{
        size_t off = ETH_HLEN_;
        uint16_t et;

        if (len < ETH_HLEN_)
                return -EINVAL;
        et = get16(f + 12);
        if (et == ETHTYPE_VLAN) {
                if (len < ETH_HLEN_ + 4)
                        return -EINVAL;
                et = get16(f + 16);
                off += 4;
        }
        L->l3 = off;
        if (et == ETHTYPE_IP) {
                size_t ihl, tot;

                if (len < off + 20 || (f[off] >> 4) != 4)
                        return -EINVAL;
                ihl = (size_t)(f[off] & 15) * 4;
                tot = get16(f + off + 2);
                if (ihl < 20 || tot < ihl || off + tot > len)
                        return -EINVAL;
                if (get16(f + off + 6) & 0x3fff) /* a fragment */
                        return -ENOTSUP;
                L->v6 = 0;
                L->proto = f[off + 9];
                L->l4 = off + ihl;
                L->end = off + tot;
        } else if (et == ETHTYPE_IPV6) {
                size_t plen;

                if (len < off + 40 || (f[off] >> 4) != 6)
                        return -EINVAL;
                plen = get16(f + off + 4);
                if (off + 40 + plen > len)
                        return -EINVAL;
                L->v6 = 1;
                L->proto = f[off + 6];
                L->l4 = off + 40;
                L->end = off + 40 + plen;
        } else {
                return -ENOTSUP;
        }
        if (L->proto == IPPROTO_TCP) {
                size_t doff;

                if (L->end < L->l4 + 20)
                        return -EINVAL;
                doff = (size_t)(f[L->l4 + 12] >> 4) * 4;
                if (doff < 20 || L->l4 + doff > L->end)
                        return -EINVAL;
                L->payload = L->l4 + doff;
        } else if (L->proto == IPPROTO_UDP) {
                if (L->end < L->l4 + 8)
                        return -EINVAL;
                L->payload = L->l4 + 8;
        } else {
                return -ENOTSUP;
        }
        return 0;
}

/* Pseudo-header sum for an L4 segment of l4len bytes. */
static uint32_t pseudo(const uint8_t *f, const struct layout *L, size_t l4len)
{
        uint32_t s;

        if (L->v6) {
                s = bn_net_csum_add(0, f + L->l3 + 8, 32);
                s += (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
        } else {
                s = bn_net_csum_add(0, f + L->l3 + 12, 8);
                s += (uint32_t)l4len;
        }
        return s + L->proto;
}

/* Fill the IPv4 header checksum and the full L4 checksum of a parsed frame. */
static void fill_csums(uint8_t *f, const struct layout *L)
{
        size_t l4len = L->end - L->l4;
        size_t coff = L->l4 + (L->proto == IPPROTO_TCP ? 16 : 6);
        uint16_t c;

        if (!L->v6) {
                put16(f + L->l3 + 10, 0);
                put16(f + L->l3 + 10,
                      (uint16_t)~bn_net_csum_fold(bn_net_csum_add(0, f + L->l3, L->l4 - L->l3)));
        }
        put16(f + coff, 0);
        c = (uint16_t)~bn_net_csum_fold(bn_net_csum_add(pseudo(f, L, l4len), f + L->l4, l4len));
        if (L->proto == IPPROTO_UDP && c == 0)
                c = 0xffff;
        put16(f + coff, c);
}

int bn_net_gso_csum_complete(const struct virtio_net_hdr *h, uint8_t *frame, size_t len)
{
        size_t start = h->csum_start, off = h->csum_offset;
        struct layout L;

        if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
                return 0;
        /* Sum up to the end of the IP packet, not Ethernet padding. */
        if (parse(frame, len, &L) == 0 && L.end > start)
                len = L.end;
        if (start >= len || off + 2 > len - start)
                return -EINVAL;
        /* The field holds the pseudo-header sum already (as Linux leaves it). */
        put16(frame + start + off,
              (uint16_t)~bn_net_csum_fold(bn_net_csum_add(0, frame + start, len - start)));
        return 0;
}

int bn_net_gso_segment(const struct virtio_net_hdr *h, const uint8_t *frame, size_t len,
                       uint8_t *scratch, size_t scratch_len, bn_net_seg_fn fn, void *arg)
{
        uint8_t gt = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
        struct layout L;
        size_t mss = h->gso_size, hlen, plen, done;
        uint32_t seq;
        uint16_t id;
        int rc, n = 0;

        if (gt == VIRTIO_NET_HDR_GSO_NONE) {
                if (len > scratch_len)
                        return -EMSGSIZE;
                memcpy(scratch, frame, len);
                rc = bn_net_gso_csum_complete(h, scratch, len);
                if (rc < 0)
                        return rc;
                rc = fn(arg, scratch, len);
                return rc ? rc : 1;
        }
        if (gt != VIRTIO_NET_HDR_GSO_TCPV4 && gt != VIRTIO_NET_HDR_GSO_TCPV6)
                return -ENOTSUP;
        rc = parse(frame, len, &L);
        if (rc < 0)
                return rc;
        if (L.proto != IPPROTO_TCP || L.v6 != (gt == VIRTIO_NET_HDR_GSO_TCPV6) || mss == 0)
                return -EINVAL;
        hlen = L.payload;
        plen = L.end - L.payload;
        if (hlen + (plen < mss ? plen : mss) > scratch_len)
                return -EMSGSIZE;
        seq = (uint32_t)get16(frame + L.l4 + 4) << 16 | get16(frame + L.l4 + 6);
        id = L.v6 ? 0 : get16(frame + L.l3 + 4);
        done = 0;
        do {
                size_t seg = plen - done < mss ? plen - done : mss;
                bool last = done + seg >= plen;
                struct layout S = L;
                uint8_t flags = frame[L.l4 + 13];
                uint32_t sq = seq + (uint32_t)done;

                memcpy(scratch, frame, hlen);
                memcpy(scratch + hlen, frame + hlen + done, seg);
                S.end = hlen + seg;
                if (L.v6) {
                        put16(scratch + L.l3 + 4, (uint16_t)(S.end - L.l3 - 40));
                } else {
                        put16(scratch + L.l3 + 2, (uint16_t)(S.end - L.l3));
                        put16(scratch + L.l3 + 4, (uint16_t)(id + n));
                }
                put16(scratch + L.l4 + 4, (uint16_t)(sq >> 16));
                put16(scratch + L.l4 + 6, (uint16_t)sq);
                if (!last)
                        flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
                if (n > 0)
                        flags &= (uint8_t)~TCP_CWR;
                scratch[L.l4 + 13] = flags;
                fill_csums(scratch, &S);
                rc = fn(arg, scratch, S.end);
                if (rc)
                        return rc;
                n++;
                done += seg;
        } while (done < plen);
        return n;
}

int bn_net_csum_verify(const uint8_t *frame, size_t len)
{
        struct layout L;
        int rc = parse(frame, len, &L);

        if (rc < 0)
                return rc;
        if (!L.v6 && bn_net_csum_fold(bn_net_csum_add(0, frame + L.l3, L.l4 - L.l3)) != 0xffff)
                return -EBADMSG;
        if (L.proto == IPPROTO_UDP && get16(frame + L.l4 + 6) == 0 && !L.v6)
                return 0; /* no UDP checksum */
        if (bn_net_csum_fold(bn_net_csum_add(pseudo(frame, &L, L.end - L.l4), frame + L.l4,
                                             L.end - L.l4)) != 0xffff)
                return -EBADMSG;
        return 0;
}
