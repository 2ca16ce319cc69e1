/* tap_dev.c: TAP devices with virtio-net headers (open, offloads, carrier,
 * frame read/write) and the netlink operations on links and bridges, with
 * libnl-route-3. See tap_dev.h.
 */
#include "tap_dev.h"
#include "bn_log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef TUNSETCARRIER
#define TUNSETCARRIER _IOW('T', 226, int)
#endif

int bn_net_tap_create(const char *ifname, bool offload)
{
        struct ifreq ifr;
        int fd, rc = 0, hdrsz = (int)BN_NET_VNET_HDR_LEN;
        unsigned off = offload ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0;

        if (strlen(ifname) >= IFNAMSIZ)
                return -ENAMETOOLONG;
        if (bn_net_link_exists(ifname, NULL) == 1)
                return -EEXIST;
        fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                rc = -errno;
                bn_err(ifname, "open /dev/net/tun: %s", strerror(errno));
                return rc;
        }
        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        memcpy(ifr.ifr_name, ifname, strlen(ifname));
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                rc = -errno;
                bn_err(ifname, "TUNSETIFF: %s", strerror(errno));
                goto out;
        }
        if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
                rc = -errno;
                bn_err(ifname, "TUNSETVNETHDRSZ %d: %s", hdrsz, strerror(errno));
                goto out;
        }
        if (ioctl(fd, TUNSETOFFLOAD, off) < 0) {
                rc = -errno;
                bn_err(ifname, "TUNSETOFFLOAD 0x%x: %s", off, strerror(errno));
                goto out;
        }
out:
        if (rc < 0) {
                close(fd);
                return rc;
        }
        return fd;
}

int bn_net_tap_set_carrier(int fd, const char *ifname, bool on)
{
        int v = on;

        if (ioctl(fd, TUNSETCARRIER, &v) < 0) {
                bn_warn(ifname, "TUNSETCARRIER %d: %s", v, strerror(errno));
                return -errno;
        }
        return 0;
}

int bn_net_tap_read(int fd, struct virtio_net_hdr *hdr, void *buf, size_t len)
{
        struct iovec iov[2] = {{hdr, sizeof(*hdr)}, {buf, len}};
        ssize_t n = readv(fd, iov, 2);

        if (n < 0)
                return -errno;
        if ((size_t)n < sizeof(*hdr))
                return -EIO;
        return (int)(n - (ssize_t)sizeof(*hdr));
}

int bn_net_tap_write(int fd, const struct virtio_net_hdr *hdr, const void *frame, size_t len)
{
        static const struct virtio_net_hdr none;
        struct iovec iov[2] = {{(void *)(hdr ? hdr : &none), sizeof(*hdr)}, {(void *)frame, len}};
        ssize_t n = writev(fd, iov, 2);

        if (n < 0)
                return -errno;
        return 0;
}

/* ---- netlink ---------------------------------------------------------- */

static int nl_to_errno(int nlerr)
{
        switch (-nlerr) {
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                return -ENODEV;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_INVAL:
                return -EINVAL;
        default:
                return -EIO;
        }
}

static int nl_open(struct nl_sock **out)
{
        struct nl_sock *sk = nl_socket_alloc();
        int rc;

        if (!sk)
                return -ENOMEM;
        rc = nl_connect(sk, NETLINK_ROUTE);
        if (rc < 0) {
                bn_err("netlink", "connect: %s", nl_geterror(rc));
                nl_socket_free(sk);
                return nl_to_errno(rc);
        }
        *out = sk;
        return 0;
}

/* Get link ifname; 0, or -ENODEV / -errno. */
static int get_link(struct nl_sock *sk, const char *ifname, struct rtnl_link **out)
{
        int rc = rtnl_link_get_kernel(sk, 0, ifname, out);

        return rc < 0 ? nl_to_errno(rc) : 0;
}

int bn_net_link_exists(const char *ifname, int *ifindex)
{
        struct nl_sock *sk = NULL;
        struct rtnl_link *l = NULL;
        int rc;

        rc = nl_open(&sk);
        if (rc < 0)
                return rc;
        rc = get_link(sk, ifname, &l);
        if (rc == 0) {
                if (ifindex)
                        *ifindex = rtnl_link_get_ifindex(l);
                rtnl_link_put(l);
                rc = 1;
        } else if (rc == -ENODEV) {
                rc = 0;
        }
        nl_socket_free(sk);
        return rc;
}

static int change_link(struct nl_sock *sk, const char *ifname, int up, unsigned mtu)
{
        struct rtnl_link *l = NULL, *chg = NULL;
        int rc;

        rc = get_link(sk, ifname, &l);
        if (rc < 0)
                goto out;
        chg = rtnl_link_alloc();
        if (!chg) {
                rc = -ENOMEM;
                goto out;
        }
        if (up > 0)
                rtnl_link_set_flags(chg, IFF_UP);
        else if (up == 0)
                rtnl_link_unset_flags(chg, IFF_UP);
        if (mtu)
                rtnl_link_set_mtu(chg, mtu);
        rc = rtnl_link_change(sk, l, chg, 0);
        if (rc < 0) {
                bn_err(ifname, "netlink link change (up=%d mtu=%u): %s", up, mtu, nl_geterror(rc));
                rc = nl_to_errno(rc);
        }
out:
        if (chg)
                rtnl_link_put(chg);
        if (l)
                rtnl_link_put(l);
        return rc;
}

/* change_link on a netlink socket of its own. */
static int change_link_once(const char *ifname, int up, unsigned mtu)
{
        struct nl_sock *sk = NULL;
        int rc = nl_open(&sk);

        if (rc < 0)
                return rc;
        rc = change_link(sk, ifname, up, mtu);
        nl_socket_free(sk);
        return rc;
}

int bn_net_link_set_up(const char *ifname, bool up)
{
        return change_link_once(ifname, up, 0);
}

int bn_net_link_set_mtu(const char *ifname, unsigned mtu)
{
        return change_link_once(ifname, -1, mtu);
}

int bn_net_bridge_ensure(const char *brname, bool create, bool *created)
{
        struct nl_sock *sk = NULL;
        struct rtnl_link *l = NULL;
        int rc;

        *created = false;
        if (strlen(brname) == 0 || strlen(brname) >= IFNAMSIZ)
                return -EINVAL;
        rc = nl_open(&sk);
        if (rc < 0)
                return rc;
        rc = get_link(sk, brname, &l);
        if (rc == 0) {
                const char *type = rtnl_link_get_type(l);

                if (!type || strcmp(type, "bridge") != 0) {
                        bn_err(brname, "link exists but is not a bridge (%s)",
                               type ? type : "no type");
                        rc = -ENOTSUP;
                        goto out;
                }
        } else if (rc == -ENODEV && create) {
                l = rtnl_link_bridge_alloc();
                if (!l) {
                        rc = -ENOMEM;
                        goto out;
                }
                rtnl_link_set_name(l, brname);
                rc = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
                if (rc < 0) {
                        bn_err(brname, "creating the bridge: %s", nl_geterror(rc));
                        rc = nl_to_errno(rc);
                        goto out;
                }
                *created = true;
                bn_info(brname, "bridge created");
        } else {
                if (rc == -ENODEV)
                        bn_err(brname, "bridge does not exist (and create is off)");
                goto out;
        }
        rc = change_link(sk, brname, 1, 0);
out:
        if (l)
                rtnl_link_put(l);
        nl_socket_free(sk);
        return rc;
}

int bn_net_link_enslave(const char *ifname, const char *brname)
{
        struct nl_sock *sk = NULL;
        struct rtnl_link *br = NULL, *port = NULL;
        int rc;

        rc = nl_open(&sk);
        if (rc < 0)
                return rc;
        if ((rc = get_link(sk, brname, &br)) < 0 || (rc = get_link(sk, ifname, &port)) < 0) {
                bn_err(ifname, "enslaving to %s: %s", brname, strerror(-rc));
                goto out;
        }
        rc = rtnl_link_enslave(sk, br, port);
        if (rc < 0) {
                bn_err(ifname, "enslaving to %s: %s", brname, nl_geterror(rc));
                rc = nl_to_errno(rc);
                goto out;
        }
        rc = change_link(sk, ifname, 1, 0);
out:
        if (br)
                rtnl_link_put(br);
        if (port)
                rtnl_link_put(port);
        nl_socket_free(sk);
        return rc;
}

int bn_net_link_delete(const char *ifname)
{
        struct nl_sock *sk = NULL;
        struct rtnl_link *l = NULL;
        int rc;

        rc = nl_open(&sk);
        if (rc < 0)
                return rc;
        rc = get_link(sk, ifname, &l);
        if (rc == 0) {
                rc = rtnl_link_delete(sk, l);
                if (rc < 0) {
                        bn_err(ifname, "deleting the link: %s", nl_geterror(rc));
                        rc = nl_to_errno(rc);
                }
        }
        if (l)
                rtnl_link_put(l);
        nl_socket_free(sk);
        return rc;
}

int bn_net_link_master(const char *ifname, char *master)
{
        struct nl_sock *sk = NULL;
        struct rtnl_link *l = NULL;
        int rc, m;

        master[0] = '\0';
        rc = nl_open(&sk);
        if (rc < 0)
                return rc;
        rc = get_link(sk, ifname, &l);
        if (rc == 0) {
                m = rtnl_link_get_master(l);
                if (m > 0 && !if_indextoname((unsigned)m, master))
                        rc = -errno;
        }
        if (l)
                rtnl_link_put(l);
        nl_socket_free(sk);
        return rc;
}
