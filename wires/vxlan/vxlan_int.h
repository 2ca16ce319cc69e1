/* vxlan_int.h: what the vxlan wire's files share (vxlan_wire.c: the
 * class, its sockets, the receive loop, ports; vxlan_tx.c: sending): the
 * socket, class context and port structures and their owners.
 */
#ifndef BN_WIRE_VXLAN_INT_H
#define BN_WIRE_VXLAN_INT_H

#include "bn_loop.h"
#include "bn_wire.h"
#include "vxlan_proto.h"
#include "vxlan_wire.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define VX_BATCH     32          /* datagrams per recvmmsg / sendmmsg */
#define VX_RXQ_BYTES (8u << 20)  /* a port's hand-off queue: slots in this many bytes, */
#define VX_RXQ_MIN   1024u       /* as a power of two from this many */
#define VX_RXQ_MAX   8192u       /* to this many frames */
#define VX_DGRAM_MAX 9216        /* the largest datagram read */
#define VX_FRAME_MAX (9000 + 18) /* the largest inner frame (MTU 9000, VLAN tag) */
#define VX_GSO_MAX   (64 * 1024 + 256)
#define VX_GRO_MAX   65536 /* a datagram read with UDP_GRO: many back to back */
#define VX_GSO_SEGS  64    /* datagrams in one UDP_SEGMENT send (the kernel's UDP_MAX_SEGMENTS) */
#define VX_UDP_MAX   65507 /* the largest UDP payload over IPv4 */
#define VX_STALL_MS  100   /* the longest the receive loop waits for a full port */
#define VX_SGRO_BUFS 4     /* merged frames per recv (software GRO) */
#define VX_SGRO_BUF  (65535u + 18u) /* one merged frame: an IP packet of 64 KiB */
/* one GSO frame's datagrams, each after its header, back to back */
#define VX_GBUF (VX_GSO_MAX + 2 * VX_GSO_SEGS * (BN_VXLAN_HLEN + 64))

struct vx_port;

/* One UDP socket, its buffers (the receive loop's) and its ports. */
struct vx_sock {
        struct vx_sock *next;
        struct vx_ctx *ctx;
        struct sockaddr_in bind;
        int fd;
        unsigned refs;
        struct vx_port *ports; /* under ctx->mu */
        /* datagrams of no port (the receive loop counts, ports read) */
        atomic_uint_fast64_t bad[BN_VXLAN_BAD_MAX], unknown_vni;
        bool gso, gro; /* the kernel has UDP_SEGMENT, and UDP_GRO is on */
        size_t bufsz;  /* bytes of each of the VX_BATCH receive buffers */
        uint8_t *buf;
        /* the receive loop's last batch: messages [pi, pn) are still to hand
         * out, message pi from byte poff (a UDP_GRO message is many) */
        struct mmsghdr mm[VX_BATCH];
        struct iovec iov[VX_BATCH];
        struct sockaddr_in src[VX_BATCH];
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } ctl[VX_BATCH];
        unsigned pi, pn;
        size_t poff;
        /* back-pressure: a port's hand-off queue was full, so the receive
         * loop stopped reading (the kernel's socket buffer holds the rest)
         * until a port frees slots (vx_release queues sock_resume) or
         * VX_STALL_MS pass (then what waits for a full queue is dropped) */
        atomic_bool stalled, resume_queued; /* stalled: set under a port's qmu */
        bool unpolled, force;               /* the receive loop's */
        struct bn_timer *stall_t;
};

struct vx_ctx {
        pthread_mutex_t mu;
        struct bn_workers *rx; /* the receive loop */
        struct vx_sock *socks;
};

struct vx_port {
        struct vx_ctx *ctx;
        struct vx_sock *sock;
        struct bn_wire_port *port;
        struct vx_port *next; /* in sock->ports */
        uint32_t vni, mtu;
        struct sockaddr_in peer;
        int efd;
        /* hand-off queue: the receive loop fills [head], the port's loop
         * takes from [rpos] and frees up to [tail] at release */
        pthread_mutex_t qmu;
        uint8_t *q; /* nq slots of slot bytes (the MTU's frame) */
        uint32_t slot;
        uint32_t *qlen, nq; /* nq: a power of two (head, tail wrap) */
        unsigned head, rpos, tail;
        atomic_uint_fast64_t rx_frames, rx_bytes, rx_full, rx_too_big;
        atomic_uint_fast64_t rx_short, rx_flags, rx_foreign; /* malformed, by reason */
        unsigned rel;  /* rpos at the last recv: what release frees */
        uint8_t *sgro; /* VX_SGRO_BUFS merged frames (software GRO; NULL: off) */
        uint64_t rx_gro_frames, rx_gro_segs; /* frames merged, datagrams in them */
        /* the port's loop's */
        uint64_t tx_frames, tx_bytes, tx_too_big, tx_full, tx_bad;
        uint8_t *scratch; /* one segment of a GSO frame */
        uint8_t *gbuf;    /* segments of GSO frames after their headers (VX_GBUF) */
        size_t glen;
        uint8_t hdr[VX_BATCH][BN_VXLAN_HLEN];
        struct iovec iov[VX_BATCH][2];
        struct mmsghdr mm[VX_BATCH];
        uint16_t nseg[VX_BATCH]; /* datagrams in each message (> 1: UDP_SEGMENT) */
        uint16_t gsz[VX_BATCH];  /* the size of each but the last */
        bool gclosed[VX_BATCH];  /* a shorter datagram ended it */
        union {
                char buf[CMSG_SPACE(sizeof(uint16_t))];
                struct cmsghdr align;
        } ctl[VX_BATCH];
        unsigned nb;
        bool gso_off;          /* a UDP_SEGMENT send failed: one datagram per message */
        int wfd;               /* a dup of the socket, polled for EPOLLOUT on the port's loop */
        bool full, wfd_polled; /* the socket buffer was full: wait for room */
};

_Static_assert(sizeof(struct vx_port) <= BN_WIRE_VXLAN_PRIV_SIZE, "see vxlan_wire.h");

/* vxlan_tx.c: the class's send callback (on the port's loop). */
int bn_vx_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n);

#endif
