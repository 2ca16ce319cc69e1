/* corm_gso.h: software segmentation and checksums for Ethernet frames
 * described by a struct virtio_net_hdr, for an end that cannot carry GSO
 * or partial-checksum metadata (a front-end without feature-gso-tcpv4, a
 * wire that carries bare frames, a TAP without offloads).
 *
 * Frames: Ethernet, optionally one 802.1Q tag, then IPv4 (with options) or
 * IPv6 (no extension headers), then TCP or UDP. Nothing in the header or the
 * frame is trusted: offsets are re-derived from the frame itself and every
 * length is checked; a frame that does not parse gives -EINVAL (or
 * -ENOTSUP for what is valid but not handled, e.g. UFO), never an
 * out-of-bounds access.
 */
#ifndef BN_NET_CORM_GSO_H
#define BN_NET_CORM_GSO_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

/* The Internet checksum of len bytes, folded into 16 bits, starting from
 * sum (a partial 32-bit sum; 0 to start). Not complemented. */
uint32_t bn_net_csum_add(uint32_t sum, const void *p, size_t len);
uint16_t bn_net_csum_fold(uint32_t sum);

/* Fill the checksum a NEEDS_CSUM header asks for (csum_start/offset,
 * bounds-checked against len). A header without NEEDS_CSUM: nothing to do. */
int bn_net_gso_csum_complete(const struct virtio_net_hdr *h, uint8_t *frame, size_t len);

/* Called once per segment; frame is valid during the call only. Non-zero
 * stops segmentation and is returned. */
typedef int (*bn_net_seg_fn)(void *arg, const uint8_t *frame, size_t len);

/* Cut a GSO_TCPV4 / GSO_TCPV6 frame into segments of at most gso_size
 * payload bytes, each with its own IP length, IPv4 id and checksum, TCP
 * sequence number, flags (FIN/PSH only on the last, CWR only on the first)
 * and full TCP checksum. A frame that is not GSO is only checksummed (as
 * bn_net_gso_csum_complete) and emitted once. scratch must hold the largest
 * segment (headers + gso_size). Returns the number of segments, or -errno. */
int bn_net_gso_segment(const struct virtio_net_hdr *h, const uint8_t *frame, size_t len,
                       uint8_t *scratch, size_t scratch_len, bn_net_seg_fn fn, void *arg);

/* Verify a frame's IPv4 header checksum and TCP/UDP checksum. 0 when valid,
 * -EBADMSG when a checksum is wrong, -EINVAL when it does not parse. */
int bn_net_csum_verify(const uint8_t *frame, size_t len);

#endif
