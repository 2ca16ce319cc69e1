/* bn_net.h: what the NIC device class ("vif") puts on its wires, shared by
 * the vif Spike (vif*.c), the NIC Corms (corm_bridge.c) and anything else
 * that speaks to them over a wire (tests, benches).
 *
 * A frame is one wire message:
 *   type    BN_MSG_NET_FRAME
 *   hdr     a struct virtio_net_hdr (10 bytes, hdr_len >= 10; shorter: no
 *           metadata): GSO type and size, and whether the checksum is
 *           partial (csum_start / csum_offset) or already validated
 *   data    one Ethernet frame (14 .. 65535 + 18 bytes), no FCS
 * Receivers validate both before use: a frame from a wire is as untrusted
 * as one from a guest.
 */
#ifndef BN_NET_H
#define BN_NET_H

#define BN_MSG_NET_FRAME 0x0101u /* one Ethernet frame with its virtio_net_hdr */

#endif
