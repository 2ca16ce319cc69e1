/* netguest.h: state of sim-netguest, a simulated DomU with one vif over
 * xensim: netguest.c (options, xenbus handshake, TAP in a netns, main
 * loop, generator, hostile modes) and nf_ring.c (the netfront rings).
 */
#ifndef BN_NETGUEST_H
#define BN_NETGUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "bn_guest.h"
#include "bn_hv.h"
#include "devices/net/vif_ring.h"

#define NG_MAX_QUEUES 4
#define NG_RING       BN_NET_TX_RING_SIZE /* 256 slots, one buffer page each */
#define NG_FRAME_MAX  (65536 + 64)

struct ng;

struct ng_queue {
        struct ng *ng;
        unsigned idx;
        uint32_t tx_ring_pfn, rx_ring_pfn;
        int tx_ring_ref, rx_ring_ref;
        netif_tx_front_ring_t tx;
        netif_rx_front_ring_t rx;
        int tx_port, rx_port;            /* equal without split channels */
        uint32_t tx_buf_pfn, rx_buf_pfn; /* NG_RING pages each */
        uint32_t tx_gref[NG_RING], rx_gref[NG_RING];
        uint16_t tx_free[NG_RING]; /* free TX buffer ids (stack) */
        unsigned ntx_free;
        uint8_t rxframe[NG_FRAME_MAX];
};

struct ng_stats {
        uint64_t tx_frames, tx_bytes, tx_errors, tx_busy;
        uint64_t rx_frames, rx_bytes, rx_bad;
        uint64_t gen_good, gen_bad;
        /* monotonic us of the first and the last good generator frame
         * received (gen_usec = their difference: the receive rate without
         * the start-up), and the bytes of those after the first */
        uint64_t gen_first_us, gen_last_us, gen_bytes_after_first;
};

struct ng {
        struct bn_guest *g;
        struct bn_guest_fe fe; /* paths, back-end domain, toolstack entry */
        unsigned nq;
        bool split;
        struct ng_queue q[NG_MAX_QUEUES];
        int tap_fd; /* -1 in generator mode */
        struct ng_stats st;
        /* generator / verifier */
        uint64_t gen_seq;
        uint64_t seen_max;
};

/* netguest.c */
uint64_t ng_now_us(void);

/* nf_ring.c */
/* Grant rings and buffers, post RX buffers. */
int ng_queue_init(struct ng *ng, struct ng_queue *q, unsigned idx);
/* Put one frame (with its virtio_net_hdr metadata) on a TX ring.
 * -EAGAIN when the ring or buffers are full (try after responses). */
int ng_tx_frame(struct ng *ng, const struct virtio_net_hdr *vh, const uint8_t *frame, uint32_t len);
/* Reap TX responses and RX frames of every queue; calls deliver for each
 * received frame. Returns the number of frames delivered, or -errno. */
int ng_poll(struct ng *ng, void (*deliver)(struct ng *ng, const struct virtio_net_hdr *vh,
                                           const uint8_t *frame, uint32_t len));
/* Queue a flow hashes to. */
unsigned ng_pick_queue(struct ng *ng, const uint8_t *frame, uint32_t len);

#endif
