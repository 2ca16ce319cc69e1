/* vxlan_proto.h: the VXLAN header (RFC 7348) as the vxlan wire reads and
 * writes it: 8 bytes before the inner Ethernet frame,
 *
 *     flags (1 byte: 0x08, the I bit: the VNI is valid), 3 reserved bytes,
 *     VNI (3 bytes, network order), 1 reserved byte.
 *
 * Pure functions, no I/O: the wire's receive path and its fuzz target
 * (tests/net/fuzz_vxlan_rx.c) use the same parser.
 */
#ifndef BN_WIRE_VXLAN_PROTO_H
#define BN_WIRE_VXLAN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define BN_VXLAN_HLEN     8
#define BN_VXLAN_FLAG_I   0x08u
#define BN_VXLAN_PORT     4789
#define BN_VXLAN_VNI_MAX  0xffffffu
#define BN_VXLAN_ETH_HLEN 14
/* underlay IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) */
#define BN_VXLAN_OVERHEAD 50

/* Why a datagram was refused. */
enum bn_vxlan_bad {
        BN_VXLAN_OK = 0,
        BN_VXLAN_SHORT, /* shorter than the header and an Ethernet header */
        BN_VXLAN_FLAGS, /* the I flag is not set, or a reserved flag is */
        BN_VXLAN_BAD_MAX
};

/* Check a received datagram of len bytes: BN_VXLAN_OK with *vni and the
 * inner frame's offset (BN_VXLAN_HLEN) filled, or the reason. Reads only
 * inside buf[0..len). */
enum bn_vxlan_bad bn_vxlan_parse(const uint8_t *buf, size_t len, uint32_t *vni);

/* Write the 8-byte header for vni (<= BN_VXLAN_VNI_MAX) at h. */
void bn_vxlan_header(uint8_t h[BN_VXLAN_HLEN], uint32_t vni);

#endif
