/* vif_hdr.h: GSO / checksum metadata between netif flags and the wire's
 * struct virtio_net_hdr, and the frame-header parsing that needs (where the
 * L4 checksum starts and lies, how long the headers are), plus software
 * checksum completion for an end that cannot take a blank checksum.
 * Pure functions over a frame in local memory (already copied out of the
 * guest); they never read past len. Shared by the vif Spike and
 * sim-netguest.
 */
#ifndef BN_NET_VIF_HDR_H
#define BN_NET_VIF_HDR_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

/* Where the L4 header of an Ethernet frame is (after an optional 802.1Q
 * tag, an IPv4 header with options, or an IPv6 header and its hop-by-hop /
 * routing / destination-options extension headers). */
struct bn_net_l4 {
        uint16_t l3_off;   /* start of the IP header */
        uint16_t l4_off;   /* start of the TCP / UDP header */
        uint8_t ipv6;      /* 1 for IPv6 */
        uint8_t proto;     /* IPPROTO_TCP / IPPROTO_UDP / other */
        uint16_t csum_off; /* offset of the checksum field from l4_off (16 TCP, 6 UDP) */
        uint16_t hdr_len;  /* l4_off + TCP header length (TCP) or + 8 (UDP) */
};

/* 0, or -EINVAL when the frame is not IPv4/IPv6 TCP/UDP or is truncated. */
int bn_net_l4_locate(const uint8_t *frame, size_t len, struct bn_net_l4 *out);
/* A hash of the frame's IP addresses and L4 ports, so that one flow always
 * picks the same queue; 0 for a frame that is not TCP/UDP over IP. */
uint32_t bn_net_flow_hash(const uint8_t *f, uint32_t len);

/* Build the virtio_net_hdr for a frame a guest transmitted with netif flags
 * (NETTXF_csum_blank / NETTXF_data_validated) and an optional GSO extra.
 * 0, or -EINVAL when csum_blank or GSO is set on a frame that is not TCP/UDP
 * over IP (the caller drops it and counts). */
int bn_net_vnet_from_netif(const uint8_t *frame, size_t len, uint16_t csum_flags, uint8_t gso_type,
                           uint16_t gso_size, struct virtio_net_hdr *vh);

/* The other way, for a frame going to a guest: NETRXF_* flags and the GSO
 * extra (gso_type XEN_NETIF_GSO_TYPE_*; NONE when not GSO). -EINVAL for a
 * GSO type netif cannot carry (UDP, ...). */
int bn_net_netif_from_vnet(const struct virtio_net_hdr *vh, uint16_t *rx_flags, uint8_t *gso_type,
                           uint16_t *gso_size);

/* Complete a blank checksum in software: the 16-bit one's complement of the
 * bytes from csum_start to len is folded into the field at
 * csum_start + csum_offset (which holds the pseudo-header sum, as with
 * CHECKSUM_PARTIAL). -EINVAL when the field lies past len. */
int bn_net_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start, uint16_t csum_offset);

#endif
