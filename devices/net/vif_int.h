/* vif_int.h: state of the vif Spike shared by its files: vif.c (the device
 * class: xenbus probe / connect / disconnect, feature negotiation, rate
 * limit), vif_tx.c (guest TX ring -> wire), vif_rx.c (wire -> guest RX
 * ring). Not a public interface.
 *
 * Threads: probe/connect/disconnect/remove run on the main thread; all ring
 * work runs on ep->loop (the event-channel fd, the rate timer, port_rx and
 * port_writable). connect hands the rings over to ep->loop with
 * bn_loop_call_wait and disconnect takes them back the same way.
 */
#ifndef BN_NET_VIF_INT_H
#define BN_NET_VIF_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bn_hv.h"
#include "bn_txq.h"
#include "bn_wire.h"
#include "bn_net.h"
#include "bn_xenbus.h"
#include "vif_parse.h"

#define BN_VIF_MAX_QUEUES 4
#define BN_VIF_TX_BATCH   64             /* packets per grant-copy batch */
#define BN_VIF_TX_BUF     (512u * 1024u) /* local bytes per TX batch */
#define BN_VIF_RX_BATCH   64             /* frames per RX grant-copy batch */
#define BN_VIF_RX_SEGS    (BN_VIF_RX_BATCH * 18)
/* Frames from the wire held while the guest has no RX buffers posted (as
 * netback's queue): beyond these bounds new frames are dropped. */
#define BN_VIF_RXQ_FRAMES 1024
#define BN_VIF_RXQ_BYTES  (4u * 1024u * 1024u)
/* the back-end key where the toolstack's `mtu` is kept once this back-end
 * writes the wire's MTU into `mtu` (vif.c: vif_probe, tell_mtu) */
#define BN_VIF_TOOLSTACK_MTU "banana-toolstack-mtu"

struct bn_vif;

/* One packet of a TX batch. */
struct bn_vif_txp {
        struct bn_net_tx_pkt pkt;
        uint32_t buf_off; /* where its bytes land in txbuf */
        uint32_t seg0;    /* its first grant-copy segment */
};

/* A frame held for the guest's RX ring (a copy of the wire's message). */
struct bn_vif_rxq_ent {
        struct bn_vif_rxq_ent *next;
        struct bn_wire_msg m; /* m.data points at data[] */
        uint8_t data[];
};

/* One frame of an RX batch. */
struct bn_vif_rxf {
        struct bn_vif_queue *q;
        uint32_t rsp_idx;  /* ring index of its first slot */
        uint16_t nfrag;    /* data slots */
        uint16_t rx_flags; /* NETRXF_csum_blank / data_validated */
        uint8_t gso_type;
        uint16_t gso_size;
        uint32_t len;
        uint32_t seg0;
        uint16_t ids[BN_NET_TX_MAX_SLOTS];
};

/* Ring journal (bn_xenbus.h, vif.c): the vif answers both rings in order,
 * one answer per request slot, so its private producer indexes and a copy
 * of each answer are all a restart needs. An answer goes to the journal,
 * then the journal's index moves past it, then it goes to the ring; a
 * bananad that starts after a crash copies the answers in [rsp_prod,
 * index) to the ring, publishes them and reads requests on from there. */
#define BN_VIF_J_SLOTS 256u /* one-page rings */
struct bn_vif_jq {
        uint32_t tx_rsp, rx_rsp, valid, pad;
        union netif_tx_sring_entry tx[BN_VIF_J_SLOTS];
        union netif_rx_sring_entry rx[BN_VIF_J_SLOTS];
};
struct bn_vif_journal {
        struct bn_vif_jq q[BN_VIF_MAX_QUEUES];
};

struct bn_vif_queue {
        struct bn_vif *vif;
        unsigned idx;
        struct bn_xb_ring tx_map, rx_map;
        netif_tx_back_ring_t tx;
        netif_rx_back_ring_t rx;
        uint32_t tx_port, rx_port; /* local ports (equal without split channels) */
        bool tx_bound, rx_bound;

        /* TX batch state */
        union bn_net_tx_slot slots[BN_NET_TX_RING_SIZE];
        struct bn_vif_txp txp[BN_VIF_TX_BATCH];
        struct bn_gnt_copy_seg txsegs[BN_VIF_TX_BATCH * BN_NET_TX_FATAL_FRAGS];
        struct bn_wire_msg msgs[BN_VIF_TX_BATCH];
        struct bn_txq txq; /* messages of msgs refused by the wire, to resend */
        uint8_t *txbuf;
        bool rx_pushed;      /* RX responses written since the last push */
        struct bn_vif_jq *j; /* this queue's journal, NULL: none */
};

/* Write answer k (len bytes at rsp) of a queue's TX or RX ring, through
 * the journal when there is one (ep->loop). */
static inline void bn_vif_put_tx(struct bn_vif_queue *q, RING_IDX k, const void *rsp, size_t len)
{
        if (q->j) {
                union netif_tx_sring_entry *e = &q->j->tx[k % BN_VIF_J_SLOTS];
                memcpy(e, rsp, len);
                __atomic_store_n(&q->j->tx_rsp, k + 1, __ATOMIC_RELEASE);
        }
        memcpy(RING_GET_RESPONSE(&q->tx, k), rsp, len);
}

static inline void bn_vif_put_rx(struct bn_vif_queue *q, RING_IDX k, const void *rsp, size_t len)
{
        if (q->j) {
                union netif_rx_sring_entry *e = &q->j->rx[k % BN_VIF_J_SLOTS];
                memcpy(e, rsp, len);
                __atomic_store_n(&q->j->rx_rsp, k + 1, __ATOMIC_RELEASE);
        }
        memcpy(RING_GET_RESPONSE(&q->rx, k), rsp, len);
}

struct bn_vif_stats {
        _Atomic uint64_t tx_pkts, tx_bytes, tx_err, tx_drop;
        _Atomic uint64_t rx_pkts, rx_bytes, rx_drop_nobuf, rx_drop_bad;
};

struct bn_vif {
        struct bn_xb_dev *dev;
        struct bn_endpoint *ep;
        struct bn_gnt *gnt;
        struct bn_evtchn *evt;
        int evt_fd;
        uint32_t fe_domid;
        const char *name; /* ep->name, for logs */

        /* from the toolstack (back-end keys) */
        char mac[32];
        unsigned mtu;      /* the toolstack's (1500 when it gave none; BN_VIF_TOOLSTACK_MTU) */
        unsigned mtu_told; /* the back-end's `mtu` key as ep->loop last wrote it (0: not yet) */
        uint64_t rate_bytes, rate_usec; /* 0: unlimited */

        /* negotiated with the front-end */
        bool fe_sg, fe_gso4, fe_gso6, fe_csum4, fe_csum6, split;
        struct bn_net_tx_limits lim;

        unsigned nq;
        struct bn_vif_queue *q;
        struct bn_vif_journal *journal; /* mapped ring journal, NULL: none */
        bool journal_resumed;           /* it holds the previous bananad's account */

        /* loop state */
        bool running; /* rings handed to ep->loop */
        /* the source MAC of the guest's last frame sent (ep->loop): announced
         * on a new wire (a swap), so that the bridge learns where it is now */
        uint8_t guest_mac[6];
        bool guest_mac_known;
        bool dead; /* a fatal error was reported: no more ring work */
        uint64_t credit_left, credit_next_us;
        struct bn_timer *rate_timer;

        /* RX batch (port_rx) */
        struct bn_vif_rxf rxf[BN_VIF_RX_BATCH];
        struct bn_gnt_copy_seg rxsegs[BN_VIF_RX_SEGS];
        unsigned nrxf, nrxsegs;
        /* frames waiting for RX buffers (FIFO), and those placed in the
         * current batch whose memory is freed after its grant copy */
        struct bn_vif_rxq_ent *rxq_head, *rxq_tail, *rxq_done;
        unsigned rxq_n;
        size_t rxq_bytes;

        struct bn_vif_stats st;
};

/* vif.c */
void bn_vif_fatal(struct bn_vif *vif, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Rate limit: may a packet of len bytes go now? If not, a timer is armed
 * that re-runs TX work when credit returns. */
bool bn_vif_rate_allow(struct bn_vif *vif, uint32_t len);

/* vif_tx.c: consume the guest's TX ring of q (on ep->loop). */
void bn_vif_tx_work(struct bn_vif_queue *q);
/* vif_rx.c: frames from the wire into the guest's RX rings; frames the
 * guest has no buffers for wait in a bounded queue. n == 0: only retry the
 * queue (the guest posted buffers). */
void bn_vif_rx_frames(struct bn_vif *vif, struct bn_wire_msg *msgs, unsigned n);
/* Drop the queued frames (on ep->loop, when the rings are taken back). */
void bn_vif_rx_purge(struct bn_vif *vif);

/* vif_journal.c (main thread, from connect / disconnect) */
void bn_vif_journal_open(struct bn_vif *vif);
/* After a queue's rings are attached at the shared rsp_prod and its event
 * channels bound: when the journal says more (a restart), publish the
 * answers it holds and go on from its indexes. Then journal the queue. */
void bn_vif_journal_recover(struct bn_vif *vif, struct bn_vif_queue *q);
void bn_vif_journal_close(struct bn_vif *vif);

#endif
