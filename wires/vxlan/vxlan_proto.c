/* vxlan_proto.c: parsing and writing the VXLAN header (vxlan_proto.h). */
#include "vxlan_proto.h"

#include <string.h>

enum bn_vxlan_bad bn_vxlan_parse(const uint8_t *buf, size_t len, uint32_t *vni)
{
        if (len < BN_VXLAN_HLEN + BN_VXLAN_ETH_HLEN)
                return BN_VXLAN_SHORT;
        /* RFC 7348: the I flag must be set; the other flag bits are
         * reserved, zero when sent. Linux sends exactly 0x08 without its
         * extensions (GBP, GPE), which a plain VXLAN end must not accept. */
        if (buf[0] != BN_VXLAN_FLAG_I)
                return BN_VXLAN_FLAGS;
        *vni = (uint32_t)buf[4] << 16 | (uint32_t)buf[5] << 8 | buf[6];
        return BN_VXLAN_OK;
}

void bn_vxlan_header(uint8_t h[BN_VXLAN_HLEN], uint32_t vni)
{
        memset(h, 0, BN_VXLAN_HLEN);
        h[0] = BN_VXLAN_FLAG_I;
        h[4] = (uint8_t)(vni >> 16);
        h[5] = (uint8_t)(vni >> 8);
        h[6] = (uint8_t)vni;
}
