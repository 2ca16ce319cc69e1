/* tap_dev.h: TAP devices with virtio-net headers, and the netlink
 * operations on links and bridges that a NIC Corm needs (libnl-route-3).
 *
 * A TAP is opened IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with a 10-byte
 * struct virtio_net_hdr before every frame (TUNSETVNETHDRSZ), non-blocking.
 * With offloads (TUNSETOFFLOAD TUN_F_CSUM | TSO4 | TSO6 | TSO_ECN) the
 * kernel hands us 64 KiB TCP segments and partial checksums, described by
 * the header, and takes the same from us; without, it segments and
 * checksums itself before we read. Writing GSO frames works either way.
 *
 * Functions return 0 (or a documented non-negative value) or -errno, and
 * log what failed with the interface name.
 */
#ifndef BN_NET_TAP_DEV_H
#define BN_NET_TAP_DEV_H

#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define BN_NET_VNET_HDR_LEN ((unsigned)sizeof(struct virtio_net_hdr)) /* 10 */
/* Largest frame a TAP with TSO hands us: 64 KiB IP packet + Ethernet/VLAN. */
#define BN_NET_TAP_FRAME_MAX (65535u + 18u)

/* Create TAP ifname and return its fd (>= 0). The TAP is not persistent:
 * it disappears when the fd is closed (or the process dies). offload:
 * accept GSO/partial-checksum frames from the kernel. -EEXIST when a link
 * of that name exists. */
int bn_net_tap_create(const char *ifname, bool offload);
/* Carrier on/off (TUNSETCARRIER): the link state the bridge sees. */
int bn_net_tap_set_carrier(int fd, const char *ifname, bool on);
/* Read one frame: hdr gets its virtio_net_hdr, buf (len >= TAP_FRAME_MAX)
 * the Ethernet frame. Returns the frame length, or -EAGAIN when none. */
int bn_net_tap_read(int fd, struct virtio_net_hdr *hdr, void *buf, size_t len);
/* Write one frame with its header (hdr NULL: no offload metadata). Returns
 * 0, -EAGAIN (queue full) or -EINVAL (the kernel refused the header). */
int bn_net_tap_write(int fd, const struct virtio_net_hdr *hdr, const void *frame, size_t len);

/* ---- netlink (libnl-route-3) ----------------------------------------- */

/* 1 when the link exists, 0 when not, -errno. *ifindex may be NULL. */
int bn_net_link_exists(const char *ifname, int *ifindex);
/* Make sure bridge brname exists and is up; *created says whether we made
 * it (create false: -ENODEV when missing). */
int bn_net_bridge_ensure(const char *brname, bool create, bool *created);
/* Enslave ifname to bridge brname and bring ifname up. */
int bn_net_link_enslave(const char *ifname, const char *brname);
int bn_net_link_set_up(const char *ifname, bool up);
int bn_net_link_set_mtu(const char *ifname, unsigned mtu);
/* Delete a link (TAP, bridge, veth); -ENODEV when absent. */
int bn_net_link_delete(const char *ifname);
/* The master's name of ifname into master (IFNAMSIZ), "" when none. */
int bn_net_link_master(const char *ifname, char *master);

#endif
