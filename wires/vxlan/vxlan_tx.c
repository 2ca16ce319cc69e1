/* vxlan_tx.c: the vxlan wire's sending, on the port's loop. Each plain
 * frame becomes one message of a sendmmsg batch (its VXLAN header and the
 * frame as two iovecs, no copy). A GSO or partial-checksum frame is first
 * segmented and checksummed in software (corm_gso.c: the peer may be
 * Linux, which carries plain Ethernet), and its datagrams are copied back
 * to back, each after its header, into the port's gbuf; where the kernel
 * has UDP_SEGMENT they leave as few messages as the kernel allows (up to 64
 * datagrams of one size, the last may be shorter, at most 64 KiB), each
 * with a UDP_SEGMENT control message, so that a guest's 64 KiB TCP frame
 * costs one system call and one trip down the stack. A UDP_SEGMENT send the
 * kernel refuses (EIO: no checksum offload on the route; EINVAL) is sent
 * again one datagram per message, and the port stops asking for it.
 */
#include "bn_log.h"
#include "bn_net.h"
#include "corm_gso.h"
#include "vxlan_int.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

/* Count message i sent (len bytes on the wire). */
static void sent(struct vx_port *p, unsigned i, size_t len)
{
        p->tx_frames += p->nseg[i];
        p->tx_bytes += len - (size_t)p->nseg[i] * BN_VXLAN_HLEN;
}

/* Message i again, one datagram at a time; false when the socket is full. */
static bool send_split(struct vx_port *p, unsigned i)
{
        uint8_t *d = p->iov[i][0].iov_base;
        size_t left = p->iov[i][0].iov_len, g = p->gsz[i];

        for (unsigned k = 0; left; k++) {
                size_t l = left < g ? left : g;
                if (sendto(p->sock->fd, d, l, MSG_DONTWAIT, (const struct sockaddr *)&p->peer,
                           sizeof(p->peer)) < 0) {
                        p->nseg[i] = (uint16_t)(p->nseg[i] - k); /* the caller counts these */
                        return false;
                }
                p->tx_frames++;
                p->tx_bytes += l - BN_VXLAN_HLEN;
                d += l;
                left -= l;
        }
        return true;
}

static void flush(struct vx_port *p)
{
        unsigned done = 0;

        for (unsigned i = 0; i < p->nb; i++) {
                struct msghdr *h = &p->mm[i].msg_hdr;
                h->msg_control = NULL;
                h->msg_controllen = 0;
                if (p->nseg[i] > 1) {
                        struct cmsghdr *cm;
                        h->msg_control = p->ctl[i].buf;
                        h->msg_controllen = sizeof(p->ctl[i].buf);
                        cm = CMSG_FIRSTHDR(h);
                        cm->cmsg_level = SOL_UDP;
                        cm->cmsg_type = UDP_SEGMENT;
                        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                        memcpy(CMSG_DATA(cm), &p->gsz[i], sizeof(uint16_t));
                }
        }
        while (done < p->nb) {
                int rc = sendmmsg(p->sock->fd, p->mm + done, p->nb - done, MSG_DONTWAIT);
                if (rc < 0 && errno == EINTR)
                        continue;
                if (rc < 0 && (errno == EIO || errno == EINVAL) && p->nseg[done] > 1) {
                        if (!p->gso_off)
                                bn_warn(p->port->wire,
                                        "vxlan: UDP_SEGMENT refused (%s): one datagram per "
                                        "message from now on",
                                        strerror(errno));
                        p->gso_off = true;
                        if (!send_split(p, done)) {
                                rc = -1;
                                errno = EAGAIN;
                        } else {
                                done++;
                                continue;
                        }
                }
                if (rc < 0) {
                        /* socket buffer full: what is left of the batch is dropped
                         * (UDP would drop it further on anyway), and the port
                         * takes nothing more until the socket has room */
                        for (unsigned i = done; i < p->nb; i++)
                                p->tx_full += p->nseg[i];
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                                p->full = true;
                        break;
                }
                for (int i = 0; i < rc; i++)
                        sent(p, done + (unsigned)i, p->mm[done + (unsigned)i].msg_len);
                done += (unsigned)rc;
        }
        p->nb = 0;
        p->glen = 0;
}

static struct mmsghdr *new_msg(struct vx_port *p, unsigned niov)
{
        struct mmsghdr *m = &p->mm[p->nb];

        memset(m, 0, sizeof(*m));
        m->msg_hdr.msg_name = &p->peer;
        m->msg_hdr.msg_namelen = sizeof(p->peer);
        m->msg_hdr.msg_iov = p->iov[p->nb];
        m->msg_hdr.msg_iovlen = niov;
        p->nseg[p->nb] = 1;
        p->gclosed[p->nb] = false;
        return m;
}

/* Is the frame one the wire carries? (counts it when not) */
static bool fits(struct vx_port *p, const uint8_t *frame, size_t len)
{
        size_t l2 = BN_VXLAN_ETH_HLEN;

        if (len >= 16 && frame[12] == 0x81 && frame[13] == 0x00)
                l2 += 4; /* 802.1Q */
        if (len < BN_VXLAN_ETH_HLEN || len - l2 > p->mtu || len > VX_FRAME_MAX) {
                p->tx_too_big++;
                return false;
        }
        return true;
}

/* A plain frame: its own message, not copied (the caller's until send returns). */
static void queue_frame(struct vx_port *p, const uint8_t *frame, size_t len)
{
        if (!fits(p, frame, len))
                return;
        if (p->nb == VX_BATCH)
                flush(p);
        bn_vxlan_header(p->hdr[p->nb], p->vni);
        p->iov[p->nb][0] = (struct iovec){p->hdr[p->nb], BN_VXLAN_HLEN};
        p->iov[p->nb][1] = (struct iovec){(void *)frame, len};
        new_msg(p, 2);
        p->nb++;
}

/* One segment of a GSO frame (in p->scratch until the next one): copied
 * after its header into gbuf, joining the previous message when UDP_SEGMENT
 * can carry them together. */
static int queue_segment(void *arg, const uint8_t *frame, size_t len)
{
        struct vx_port *p = arg;
        size_t dlen = BN_VXLAN_HLEN + len;
        unsigned last = p->nb - 1;
        uint8_t *d;

        if (!fits(p, frame, len))
                return 0;
        if (p->glen + dlen > VX_GBUF || (p->nb == VX_BATCH && (p->gclosed[last] || !p->sock->gso)))
                flush(p);
        last = p->nb - 1;
        d = p->gbuf + p->glen;
        bn_vxlan_header(d, p->vni);
        memcpy(d + BN_VXLAN_HLEN, frame, len);
        p->glen += dlen;
        if (p->nb && p->sock->gso && !p->gso_off && p->mm[last].msg_hdr.msg_iovlen == 1 &&
            !p->gclosed[last] && dlen <= p->gsz[last] && p->nseg[last] < VX_GSO_SEGS &&
            p->iov[last][0].iov_len + dlen <= VX_UDP_MAX &&
            (uint8_t *)p->iov[last][0].iov_base + p->iov[last][0].iov_len == d) {
                p->iov[last][0].iov_len += dlen;
                p->nseg[last]++;
                p->gclosed[last] = dlen < p->gsz[last]; /* a shorter one is the last */
                return 0;
        }
        if (p->nb == VX_BATCH) {
                p->glen -= dlen; /* flush the batch, then this one alone */
                flush(p);
                d = p->gbuf;
                bn_vxlan_header(d, p->vni);
                memcpy(d + BN_VXLAN_HLEN, frame, len);
                p->glen = dlen;
        }
        p->iov[p->nb][0] = (struct iovec){d, dlen};
        new_msg(p, 1);
        p->gsz[p->nb] = (uint16_t)dlen;
        p->nb++;
        return 0;
}

/* On the port's loop: the socket has room again (writability without a
 * read: bn_wire_port_writable). */
static void room_again(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct bn_wire_port *port = arg;
        struct vx_port *p = port->priv;

        (void)fd;
        (void)events;
        bn_loop_del_fd(loop, p->wfd);
        p->wfd_polled = false;
        p->full = false;
        bn_wire_port_writable(port);
}

/* The socket was full: take nothing until it has room. */
static void wait_room(struct bn_wire_port *port, struct vx_port *p)
{
        if (p->wfd_polled || p->wfd < 0)
                return;
        if (bn_loop_add_fd(port->loop, p->wfd, EPOLLOUT, room_again, port) == 0)
                p->wfd_polled = true;
        else
                p->full = false; /* cannot wait: drop (counted) rather than stall */
}

int bn_vx_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n)
{
        struct vx_port *p = port->priv;

        if (p->full)
                return 0;
        for (unsigned i = 0; i < n; i++) {
                const struct bn_wire_msg *m = &msgs[i];
                struct virtio_net_hdr h = {0};

                if (m->type != BN_MSG_NET_FRAME) {
                        p->tx_bad++; /* not a frame: nothing a VXLAN peer could take */
                        continue;
                }
                if (m->hdr_len >= sizeof(h))
                        memcpy(&h, m->hdr, sizeof(h));
                if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
                    (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
                        /* the peer may be Linux: plain, checksummed frames only */
                        if (bn_net_gso_segment(&h, m->data, m->len, p->scratch, VX_GSO_MAX,
                                               queue_segment, p) < 0)
                                p->tx_bad++;
                } else {
                        queue_frame(p, m->data, m->len);
                }
                if (p->full) { /* a batch met a full socket: this one is taken, no more */
                        p->nb = 0;
                        p->glen = 0;
                        wait_room(port, p);
                        return (int)i + 1;
                }
        }
        flush(p); /* before we return: the caller keeps its buffers */
        if (p->full)
                wait_room(port, p);
        return (int)n;
}
