/* vif_parse.h: the netif TX request parser and validator of the vif Spike,
 * and the ring-index checks. A pure module: no I/O, no allocation, no
 * global state, so it can be unit-tested and fuzzed on its own.
 *
 * The caller copies the slots the guest published (between its private
 * req_cons and a copied req_prod) out of the shared ring into a local array
 * (the guest may rewrite shared memory at any moment, so the parser never
 * sees the ring itself), then calls bn_net_tx_parse() once per packet.
 *
 * A verdict tells the caller what to do:
 *  - BN_NET_TX_OK:         pkt describes a valid packet; consume pkt->nslots.
 *  - BN_NET_TX_ERROR:      the packet is malformed but well delimited;
 *                          consume pkt->nslots and answer each request slot
 *                          with NETIF_RSP_ERROR (extra slots: NETIF_RSP_NULL).
 *  - BN_NET_TX_INCOMPLETE: the chain continues past the last available slot.
 *                          A netfront publishes whole packets, so a Spike that
 *                          has done RING_FINAL_CHECK treats this as hostile.
 *  - BN_NET_TX_FATAL:      the guest clearly misbehaves (a fragment crossing
 *                          its page, more fragments or extras than allowed,
 *                          an unknown extra type, a zero GSO size ...):
 *                          disconnect the vif with a fatal error.
 * For every verdict but OK, err says which slot (relative to the first
 * slot handed in) and what is wrong.
 */
#ifndef BN_NET_VIF_PARSE_H
#define BN_NET_VIF_PARSE_H

#include <stdint.h>

#include "vif_ring.h"

/* Fragments (request slots) a packet may use: netif.h's minimum that every
 * back-end supports; more, up to BN_NET_TX_FATAL_FRAGS, is answered with an
 * error; beyond that the guest is disconnected (as Linux netback does). */
#define BN_NET_TX_MAX_FRAGS   XEN_NETIF_NR_SLOTS_MIN
#define BN_NET_TX_FATAL_FRAGS (XEN_NETIF_NR_SLOTS_MIN + 2)
/* Extra-info slots: at most one of each type. */
#define BN_NET_TX_MAX_EXTRAS (XEN_NETIF_EXTRA_TYPE_MAX - 1)
#define BN_NET_TX_MAX_SLOTS  (BN_NET_TX_FATAL_FRAGS + BN_NET_TX_MAX_EXTRAS)
#define BN_NET_ETH_HLEN      14u
#define BN_NET_PAGE_SIZE     4096u

/* One ring slot as copied out of the shared TX ring. */
union bn_net_tx_slot {
        struct netif_tx_request req;
        struct netif_extra_info extra;
};

/* One piece of guest memory to grant-copy from. */
struct bn_net_tx_seg {
        uint32_t gref;
        uint16_t offset;
        uint16_t len; /* > 0, offset + len <= BN_NET_PAGE_SIZE */
};

enum bn_net_tx_verdict {
        BN_NET_TX_OK = 0,
        BN_NET_TX_ERROR,
        BN_NET_TX_INCOMPLETE,
        BN_NET_TX_FATAL,
};

/* What to do with a well-formed packet. */
enum bn_net_tx_kind {
        BN_NET_TX_FRAME = 0, /* a frame to send */
        BN_NET_TX_MCAST_ADD, /* control request: add mcast_addr to the filter */
        BN_NET_TX_MCAST_DEL, /* control request: remove it */
};

struct bn_net_tx_pkt {
        uint32_t nslots; /* slots this packet occupies (requests + extras) */
        /* Per slot: 1 if it is an extra-info slot (answered NETIF_RSP_NULL),
         * else 0 and ids[i] is the request id to echo. */
        uint8_t is_extra[BN_NET_TX_MAX_SLOTS];
        uint16_t ids[BN_NET_TX_MAX_SLOTS];

        enum bn_net_tx_kind kind;
        uint32_t nsegs;
        struct bn_net_tx_seg segs[BN_NET_TX_FATAL_FRAGS];
        uint32_t total_len; /* sum of segs[].len == size of the first slot */

        uint16_t csum_flags; /* NETTXF_csum_blank | NETTXF_data_validated */
        uint8_t gso_type;    /* XEN_NETIF_GSO_TYPE_NONE/TCPV4/TCPV6 */
        uint16_t gso_size;   /* MSS, > 0 when gso_type != NONE */
        uint8_t mcast_addr[6];
        uint8_t has_hash;
        uint8_t hash_type;
        uint32_t hash_value;
};

struct bn_net_tx_err {
        uint32_t slot;    /* index of the offending slot in the array */
        const char *what; /* static string: what is wrong */
};

/* Limits negotiated for this vif. Zero-initialised means: default
 * (max_len 65535, GSO TCPv4 and TCPv6 allowed, no grant-ref bound). */
struct bn_net_tx_limits {
        uint32_t max_len;  /* largest total packet, <= XEN_NETIF_MAX_TX_SIZE */
        uint32_t gso_mask; /* bit (1 << XEN_NETIF_GSO_TYPE_x) allowed; 0 = v4|v6 */
        uint32_t max_gref; /* refs >= max_gref are refused; 0 = no bound */
        uint8_t no_gso;    /* 1: any GSO extra is an error */
};

/* Parse the packet starting at slots[0]; avail slots are available (>= 1).
 * Returns the verdict; fills pkt (always nslots/ids/is_extra for
 * OK and ERROR) and err (for every verdict other than OK). lim may be NULL. */
enum bn_net_tx_verdict bn_net_tx_parse(const union bn_net_tx_slot *slots, uint32_t avail,
                                       const struct bn_net_tx_limits *lim,
                                       struct bn_net_tx_pkt *pkt, struct bn_net_tx_err *err);

/* Requests published by the guest and not yet consumed: prod - cons, as
 * ring indexes wrap. Returns the count (0 .. ring_size) or -EPROTO when the
 * producer is further ahead than the ring holds (hostile). */
int bn_net_ring_pending(uint32_t prod, uint32_t cons, uint32_t ring_size);

/* Check an RX request's grant ref against the limits: 0 if usable,
 * -EINVAL if not (ref 0 is never handed out by a front-end). */
int bn_net_rx_gref_ok(uint32_t gref, const struct bn_net_tx_limits *lim);

const char *bn_net_tx_verdict_name(enum bn_net_tx_verdict v);

#endif
