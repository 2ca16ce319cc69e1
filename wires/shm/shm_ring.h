/* shm_ring.h: internal to wires/shm: the layout of the shared region and
 * one SPSC byte ring of frame records over it (producer and consumer
 * halves). See shm_port.h for the model.
 *
 * Region layout (all offsets fixed by ring_size, which both ends learn from
 * the creator's handshake, never from the region itself):
 *   [0, 4096)                 struct bn_shm_region (magic, control blocks)
 *   [4096, 4096 + size)       ring 0 data (port 0 produces, port 1 consumes)
 *   [4096 + size, 4096 + 2*size) ring 1 data (port 1 produces)
 */
#ifndef BN_SHM_RING_H
#define BN_SHM_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BN_SHM_MAGIC    0x626e73686d777231ull /* "bnshmwr1" */
#define BN_SHM_VERSION  1u
#define BN_SHM_HDR_SIZE 4096u

#define BN_SHM_REC_FRAME 0x46u /* 'F' */
#define BN_SHM_REC_PAD   0x50u /* 'P' */

/* One record header in the ring; 8 bytes, 8-aligned. */
struct bn_shm_rec {
        uint32_t len;      /* payload bytes (pad: bytes after this header) */
        uint8_t meta_len;  /* metadata bytes following this header */
        uint8_t kind;      /* BN_SHM_REC_* */
        uint16_t msg_type; /* the message type the sender gave (opaque) */
};

/* Control block of one ring, in shared memory. Indexes are free-running
 * byte counters (mod 2^32). */
struct bn_shm_ctl {
        _Alignas(64) _Atomic uint32_t prod; /* written by the producer */
        _Atomic uint32_t prod_wait;         /* producer sleeps until space frees */
        _Alignas(64) _Atomic uint32_t cons; /* written by the consumer */
        _Atomic uint32_t cons_wait;         /* consumer sleeps until data arrives */
};

struct bn_shm_region {
        uint64_t magic;
        uint32_t version;
        uint32_t ring_size;
        _Alignas(64) _Atomic uint32_t closed[2]; /* port i closed its end */
        struct bn_shm_ctl ctl[2];
};

_Static_assert(sizeof(struct bn_shm_region) <= BN_SHM_HDR_SIZE, "region header too large");

static inline size_t bn_shm_region_size(uint32_t ring_size)
{
        return BN_SHM_HDR_SIZE + 2 * (size_t)ring_size;
}

/* Local (private) state of one end of one ring. */
struct bn_shm_ring {
        struct bn_shm_ctl *ctl;
        uint8_t *data;
        uint32_t size, mask;
        uint32_t prod;      /* producer: local, not yet published index */
        uint32_t pub;       /* producer: last published index */
        uint32_t cons;      /* consumer: local index */
        uint32_t resv;      /* producer: offset of the reserved record, or UINT32_MAX */
        uint32_t resv_ml;   /* producer: metadata length of the reserved record */
        uint16_t resv_type; /* producer: message type of the reserved record */
        unsigned pending;   /* producer: frames queued since the last publish */
};

void bn_shm_ring_init(struct bn_shm_ring *r, struct bn_shm_ctl *ctl, uint8_t *data, uint32_t size);

/* Producer. reserve returns the offset of a record with room for meta_len +
 * max_len (after a pad record if needed), -ENOBUFS when full, -EPROTO when
 * the consumer's index is impossible. */
int64_t bn_shm_ring_reserve(struct bn_shm_ring *r, uint16_t msg_type, size_t meta_len,
                            size_t max_len);
void bn_shm_ring_commit(struct bn_shm_ring *r, size_t len);
/* Publish; returns true when the consumer asked to be woken. */
bool bn_shm_ring_publish(struct bn_shm_ring *r);
/* Arm prod_wait, then re-check: true when room for one max frame exists. */
bool bn_shm_ring_arm_space(struct bn_shm_ring *r);
bool bn_shm_ring_has_space(struct bn_shm_ring *r);

/* Consumer. Returns true when a record is pending. */
bool bn_shm_ring_pending(struct bn_shm_ring *r);
/* Arm cons_wait, then re-check: true when data is already there. */
bool bn_shm_ring_arm_data(struct bn_shm_ring *r);
/* A validated view of the next frame record. meta and data point into the
 * shared ring; total is the record's size in the ring. */
struct bn_shm_view {
        const uint8_t *meta, *data;
        uint32_t meta_len, len, total;
        uint16_t msg_type;
};
/* Snapshot the producer's index (validated): returns bytes available or
 * -EPROTO. */
int64_t bn_shm_ring_avail(struct bn_shm_ring *r);
/* Parse the next record within avail bytes, skipping pad records (which it
 * consumes locally). Returns 1 with *v filled, 0 when none, -EPROTO. The
 * caller consumes it with r->cons += v->total. */
int bn_shm_ring_next(struct bn_shm_ring *r, uint32_t *avail, struct bn_shm_view *v);
/* Release consumed room; returns true when the producer asked to be woken. */
bool bn_shm_ring_release(struct bn_shm_ring *r);

/* ---- between shm_port.c and shm_rendezvous.c -------------------------- */
struct bn_shm_port;
/* Create a sealed memfd region for ring_size and initialise its header. */
int bn_shm_region_create(const char *name, uint32_t ring_size, int *memfd);
/* Build port idx (0 or 1) over the region; takes ownership of every fd
 * (closed on failure too). sock is the peer's socket or -1. The memfd's
 * size and seals are checked when check_region is set (a peer's memfd). */
int bn_shm_port_from_fds(const char *name, int idx, uint32_t ring_size, int memfd, int bell_mine,
                         int bell_peer, int sock, bool check_region, struct bn_shm_port **out);
bool bn_shm_ring_size_ok(uint32_t ring_size);

static inline uint32_t bn_shm_align8(uint32_t n)
{
        return (n + 7u) & ~7u;
}

#endif /* BN_SHM_RING_H */
