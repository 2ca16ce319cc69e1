/* vif_hdr.c: netif flags <-> virtio_net_hdr, L4 header location, software
 * checksum completion (see vif_hdr.h). */
#include "vif_hdr.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "vif_ring.h"

#define BN_ETH_IPV4 0x0800
#define BN_ETH_IPV6 0x86dd
#define BN_ETH_VLAN 0x8100

static uint16_t be16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

int bn_net_l4_locate(const uint8_t *frame, size_t len, struct bn_net_l4 *out)
{
        size_t off = 12, l4;
        uint16_t etype;
        uint8_t proto;
        int hops = 0;

        memset(out, 0, sizeof(*out));
        if (len < 14)
                return -EINVAL;
        etype = be16(frame + off);
        off += 2;
        if (etype == BN_ETH_VLAN) {
                if (len < off + 4)
                        return -EINVAL;
                etype = be16(frame + off + 2);
                off += 4;
        }
        out->l3_off = (uint16_t)off;
        if (etype == BN_ETH_IPV4) {
                size_t ihl;

                if (len < off + 20 || (frame[off] >> 4) != 4)
                        return -EINVAL;
                ihl = (size_t)(frame[off] & 0xf) * 4;
                if (ihl < 20 || len < off + ihl)
                        return -EINVAL;
                /* a fragment other than the first has no L4 header */
                if (be16(frame + off + 6) & 0x1fff)
                        return -EINVAL;
                proto = frame[off + 9];
                l4 = off + ihl;
        } else if (etype == BN_ETH_IPV6) {
                if (len < off + 40 || (frame[off] >> 4) != 6)
                        return -EINVAL;
                out->ipv6 = 1;
                proto = frame[off + 6];
                l4 = off + 40;
                while ((proto == 0 || proto == 43 || proto == 60) && hops++ < 8) {
                        if (len < l4 + 8)
                                return -EINVAL;
                        proto = frame[l4];
                        l4 += ((size_t)frame[l4 + 1] + 1) * 8;
                }
        } else {
                return -EINVAL;
        }
        out->proto = proto;
        if (proto == IPPROTO_TCP) {
                size_t thl;

                if (len < l4 + 20)
                        return -EINVAL;
                thl = (size_t)(frame[l4 + 12] >> 4) * 4;
                if (thl < 20 || len < l4 + thl)
                        return -EINVAL;
                out->csum_off = 16;
                out->hdr_len = (uint16_t)(l4 + thl);
        } else if (proto == IPPROTO_UDP) {
                if (len < l4 + 8)
                        return -EINVAL;
                out->csum_off = 6;
                out->hdr_len = (uint16_t)(l4 + 8);
        } else {
                return -EINVAL;
        }
        out->l4_off = (uint16_t)l4;
        return 0;
}

int bn_net_vnet_from_netif(const uint8_t *frame, size_t len, uint16_t csum_flags, uint8_t gso_type,
                           uint16_t gso_size, struct virtio_net_hdr *vh)
{
        struct bn_net_l4 l4;
        int need_l4 = (csum_flags & NETTXF_csum_blank) || gso_type != XEN_NETIF_GSO_TYPE_NONE;

        memset(vh, 0, sizeof(*vh));
        if (need_l4) {
                if (bn_net_l4_locate(frame, len, &l4) < 0)
                        return -EINVAL;
                vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                vh->csum_start = l4.l4_off;
                vh->csum_offset = l4.csum_off;
                vh->hdr_len = l4.hdr_len;
        } else if (csum_flags & NETTXF_data_validated) {
                vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
        }
        if (gso_type != XEN_NETIF_GSO_TYPE_NONE) {
                if (l4.proto != IPPROTO_TCP || gso_size == 0)
                        return -EINVAL;
                if (gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && !l4.ipv6)
                        vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
                else if (gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && l4.ipv6)
                        vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
                else
                        return -EINVAL;
                vh->gso_size = gso_size;
        }
        return 0;
}

int bn_net_netif_from_vnet(const struct virtio_net_hdr *vh, uint16_t *rx_flags, uint8_t *gso_type,
                           uint16_t *gso_size)
{
        *rx_flags = 0;
        *gso_type = XEN_NETIF_GSO_TYPE_NONE;
        *gso_size = 0;
        if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
                *rx_flags |= NETRXF_csum_blank | NETRXF_data_validated;
        else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
                *rx_flags |= NETRXF_data_validated;
        switch (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
        case VIRTIO_NET_HDR_GSO_NONE:
                return 0;
        case VIRTIO_NET_HDR_GSO_TCPV4:
                *gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
                break;
        case VIRTIO_NET_HDR_GSO_TCPV6:
                *gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
                break;
        default:
                return -EINVAL;
        }
        if (vh->gso_size == 0)
                return -EINVAL;
        *gso_size = vh->gso_size;
        return 0;
}

int bn_net_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start, uint16_t csum_offset)
{
        size_t field = (size_t)csum_start + csum_offset, i;
        uint64_t sum = 0;
        uint16_t c;

        if (field + 2 > len)
                return -EINVAL;
        /* The field holds the pseudo-header sum; it is part of the data summed. */
        for (i = csum_start; i + 1 < len; i += 2)
                sum += be16(frame + i);
        if (i < len)
                sum += (uint16_t)(frame[i] << 8);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        c = (uint16_t)~sum;
        frame[field] = (uint8_t)(c >> 8);
        frame[field + 1] = (uint8_t)c;
        return 0;
}

uint32_t bn_net_flow_hash(const uint8_t *f, uint32_t len)
{
        struct bn_net_l4 l4;
        uint32_t h = 0, i, n;

        if (bn_net_l4_locate(f, len, &l4) < 0)
                return 0;
        n = l4.ipv6 ? 32 : 8; /* source and destination addresses */
        for (i = 0; i < n; i++)
                h = h * 31 + f[l4.l3_off + (l4.ipv6 ? 8 : 12) + i];
        for (i = 0; i < 4; i++) /* source and destination ports */
                h = h * 31 + f[l4.l4_off + i];
        return h;
}
