/* corm_gso.h: software segmentation and checksums for Ethernet frames
 * described by a struct virtio_net_hdr, for an end that cannot carry GSO
 * or partial-checksum metadata (a front-end without feature-gso-tcpv4, a
 * wire that carries bare frames, a TAP without offloads); and its reverse,
 * software GRO: consecutive TCP segments of one flow merged back into one
 * GSO frame (a wire that received plain frames, the vxlan wire), so that
 * the hops after it handle one 64 KiB frame instead of 45.
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
#include <stdbool.h>
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

/* Software GRO, as Linux's napi_gro does for TCP: a segment is merged into
 * the frame held when it is of the same flow (its Ethernet and IP headers
 * equal but for the lengths, IPv4 id and checksum; its TCP header equal but
 * for the sequence number, the checksum and PSH), its sequence number
 * follows the held payload, its payload is no longer than the first's
 * (the MSS), the held frame was not ended by a shorter segment or a PSH,
 * and the merged IP packet stays within 64 KiB and buf. A segment is
 * eligible at all when it parses (IPv4 without fragments, or IPv6, then
 * TCP), carries payload, has ACK set and none of SYN, FIN, RST, URG, CWR
 * or ECE, has no bytes after its IP packet and its checksums verify (a
 * merged frame's checksum is recomputed by whoever takes it, so a
 * corrupted segment must not hide in one). Nothing in a frame is trusted. */
struct bn_net_gro {
        uint8_t *buf;         /* where segments are merged (the caller's) */
        size_t cap;           /* bytes of buf */
        const uint8_t *first; /* the held segment while it is alone (not copied) */
        size_t len;           /* bytes held: 0 when empty */
        size_t l3, l4, hlen;  /* offsets of the IP and TCP headers; headers' length */
        uint32_t seq;         /* the sequence number the next segment must have */
        uint16_t mss;         /* the first segment's payload */
        unsigned segs;
        bool v6, closed; /* closed: a short segment or a PSH ended it */
};

/* Start empty, merging into buf (cap bytes: 65535 + 18 holds any). */
void bn_net_gro_init(struct bn_net_gro *g, uint8_t *buf, size_t cap);

/* Offer a frame. 1: taken (held or merged; frame must stay valid until the
 * next flush, since a segment held alone is not copied); 0: not taken
 * (not eligible, or not mergeable with what is held: flush and offer it
 * again, or pass it on as it is). */
int bn_net_gro_add(struct bn_net_gro *g, const uint8_t *frame, size_t len);

/* What is held, as a frame and its virtio_net_hdr, and empty g. One
 * segment: the frame offered (*frame points to it), a zero header. Several:
 * *frame = g->buf, a GSO_TCPV4/V6 header (gso_size the MSS, hdr_len the
 * headers' length) with NEEDS_CSUM (csum_start/offset at the TCP checksum,
 * which holds the pseudo-header sum, as Linux's TSO frames do), the IP
 * lengths and IPv4 header checksum right, PSH as the last segment's.
 * Returns the frame's length, 0 when nothing was held; *segs gets the
 * number of segments (may be NULL). */
size_t bn_net_gro_flush(struct bn_net_gro *g, struct virtio_net_hdr *h, const uint8_t **frame,
                        unsigned *segs);

#endif
