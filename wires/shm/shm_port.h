/* shm_port.h: the shared-memory wire's self-contained API.
 *
 * A shm wire is one shared memory region (a sealed memfd) holding two
 * single-producer single-consumer byte rings of frames, one per direction,
 * and two doorbells (eventfds), one per end. Each end is a "port": it
 * produces into one ring and consumes from the other.
 *
 * Frames are records in a byte ring: an 8-byte header (payload length,
 * metadata length, type), the metadata (for NICs a struct virtio_net_hdr
 * with the GSO/checksum fields), the payload, padded to 8 bytes. A record
 * never wraps: when it does not fit before the end of the ring, a pad
 * record fills the tail and the frame starts at offset 0.
 *
 * Doorbells are coalesced like Xen's req_event/rsp_event: a consumer about
 * to sleep sets "cons_wait" in the ring and re-checks; a producer that
 * publishes new frames rings the peer's doorbell only when that flag was
 * set (and clears it). The same for a producer waiting for space
 * ("prod_wait"), rung by the consumer when it frees space. Waits poll
 * briefly before sleeping.
 *
 * The same code serves both ends in one process (bn_shm_pair) and two
 * processes (bn_shm_listen / bn_shm_accept on one side, bn_shm_connect on the
 * other: the memfd and eventfds travel over a Unix socket with SCM_RIGHTS;
 * the socket stays open so that each end notices when the other dies).
 *
 * The peer is not trusted: every index and record header read from the
 * shared region is copied and validated; a bad one marks the port broken
 * (-EPROTO from then on) and is counted, never a crash.
 *
 * Threads: one thread may send and another receive on the same port at
 * the same time (the rings are SPSC); two threads must not both send, or
 * both receive.
 */
#ifndef BN_SHM_PORT_H
#define BN_SHM_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Largest payload of one frame: a 64 KiB GSO frame plus link headers. */
#define BN_SHM_FRAME_MAX (128u * 1024u) /* = BN_WIRE_DATA_MAX */
/* Largest metadata blob carried with a frame. */
#define BN_SHM_META_MAX 64u
/* Ring size (bytes, per direction): power of two in [MIN, MAX]. */
#define BN_SHM_RING_MIN     (512u * 1024u)
#define BN_SHM_RING_MAX     (256u * 1024u * 1024u)
#define BN_SHM_RING_DEFAULT (1024u * 1024u) /* measured: stays in cache */

struct bn_shm_port;

/* Counters of one port (local memory, not shared). */
struct bn_shm_stats {
        uint64_t tx_frames, tx_bytes; /* queued into the tx ring */
        uint64_t rx_frames, rx_bytes; /* delivered from the rx ring */
        uint64_t drop_ring_full;      /* dropped: tx ring had no room */
        uint64_t drop_oversize;       /* dropped: frame or metadata too large */
        uint64_t drop_peer_gone;      /* dropped: the peer closed or died */
        uint64_t rx_bad;              /* malformed indexes/records from the peer */
        uint64_t kicks_sent;          /* doorbells rung (after coalescing) */
        uint64_t kicks_recv;          /* wake-ups on our doorbell */
};

/* What bn_shm_port_wait / bn_shm_port_arm wait for. */
#define BN_SHM_WANT_RX    1u /* a frame to receive */
#define BN_SHM_WANT_SPACE 2u /* room in the tx ring (after -ENOBUFS) */

/* ---- creation ---------------------------------------------------------- */

/* Both ends of a wire in this process. ring_size 0 means the default.
 * name is used in log messages. */
int bn_shm_pair(const char *name, uint32_t ring_size, struct bn_shm_port **a,
                struct bn_shm_port **b);

/* Rendezvous by path: the listening side binds a SOCK_SEQPACKET Unix socket
 * at path ("@name" for the abstract namespace) and returns its fd; each
 * bn_shm_accept() on it creates a new region and hands it to one connecting
 * peer. bn_shm_connect() retries until timeout_ms for the listener to
 * appear. */
int bn_shm_listen(const char *path);
int bn_shm_accept(int listen_fd, const char *name, uint32_t ring_size, struct bn_shm_port **out);
int bn_shm_connect(const char *path, const char *name, int timeout_ms, struct bn_shm_port **out);

/* Non-blocking rendezvous for event loops: start connecting (returns the
 * socket, or -ENOENT / -ECONNREFUSED while nobody listens: retry later);
 * when the socket is readable, finish (receives the region). */
int bn_shm_connect_start(const char *path);
int bn_shm_connect_finish(int sock, const char *name, struct bn_shm_port **out);
/* A non-blocking listening socket gives -EAGAIN from bn_shm_accept when no
 * peer is waiting. */

/* Marks our end closed (the peer sees bn_shm_port_peer_alive() false),
 * unmaps and closes everything. NULL is fine. */
void bn_shm_port_close(struct bn_shm_port *p);

/* ---- sending ------------------------------------------------------------ */

/* Queue one frame (metadata + payload gathered from iov) into the tx ring,
 * not yet visible to the peer: bn_shm_port_flush() publishes every queued
 * frame at once and rings the doorbell if the peer asked for it.
 * Returns 0; -EMSGSIZE (oversize, counted as a drop); -ENOBUFS when the ring
 * is full (counted as a drop when drop_if_full, else the caller may wait
 * with BN_SHM_WANT_SPACE and retry); -EPIPE when the peer is gone (counted);
 * -EPROTO when the port is broken. */
int bn_shm_port_send(struct bn_shm_port *p, uint16_t type, const void *meta, size_t meta_len,
                     const struct iovec *iov, int iovcnt, bool drop_if_full);

/* Zero-copy variant: reserve room for a frame of at most max_len payload
 * bytes and meta_len bytes of metadata; returns a pointer to the payload
 * area and in *meta the metadata area, or NULL (errno as for send, nothing
 * counted). Fill them, then bn_shm_port_commit(p, len) with the real length
 * (<= max_len), or reserve again to abandon. */
void *bn_shm_port_reserve(struct bn_shm_port *p, uint16_t type, size_t meta_len, size_t max_len,
                          void **meta);
void bn_shm_port_commit(struct bn_shm_port *p, size_t len);

/* Publish queued frames; rings the peer's doorbell when it is waiting.
 * Returns the number of frames published, or -errno. */
int bn_shm_port_flush(struct bn_shm_port *p);

/* ---- receiving ---------------------------------------------------------- */

/* Called once per received frame. meta is a private copy (validated
 * length); data points into the shared ring and is valid only during the
 * call (its bytes are the peer's: treat them as untrusted). Return 0 to
 * continue, non-zero to stop the burst after this frame. */
typedef int (*bn_shm_rx_fn)(void *arg, uint16_t type, const void *meta, size_t meta_len,
                            const void *data, size_t len);

/* Deliver up to max frames, then release their room to the producer
 * (ringing its doorbell if it waits for space). Returns the number
 * delivered (0: none pending), or -EPROTO (peer wrote garbage; the port is
 * now broken), or -EPIPE (none pending and the peer is gone). */
int bn_shm_port_recv(struct bn_shm_port *p, unsigned max, bn_shm_rx_fn fn, void *arg);

/* The same, but keeps the delivered frames' room (their data stays valid)
 * until bn_shm_port_release(): for callers that hand the data on. Further
 * bn_shm_port_recv_hold calls continue after the held frames. */
int bn_shm_port_recv_hold(struct bn_shm_port *p, unsigned max, bn_shm_rx_fn fn, void *arg);
void bn_shm_port_release(struct bn_shm_port *p);

/* ---- waiting ------------------------------------------------------------ */

/* Block until one of want is ready, the peer goes away, or timeout_ms
 * passes (-1: forever). Polls for spin_us (bn_shm_port_set_spin) first.
 * Returns a mask of ready wants (0 on timeout), or -EPIPE / -errno. */
int bn_shm_port_wait(struct bn_shm_port *p, unsigned want, int timeout_ms);

/* For event loops: arm the wake-up flags for want, then re-check. Returns a
 * mask of wants already ready (do not sleep then), or 0: sleep on
 * bn_shm_port_fd() (and bn_shm_port_peer_fd() when >= 0) and call
 * bn_shm_port_ack() when it is readable. */
int bn_shm_port_arm(struct bn_shm_port *p, unsigned want);
void bn_shm_port_ack(struct bn_shm_port *p);
/* Ring the peer's doorbell with nothing new: it wakes and looks (e.g. to
 * see that this end has joined). */
void bn_shm_port_ring_peer(struct bn_shm_port *p);
/* Ring the peer with fn(arg) instead of its doorbell (when fn returns
 * true; false: the doorbell after all), e.g. a call into the peer's event
 * loop when both ends share one thread. fn NULL: the doorbell again. */
void bn_shm_port_set_ring(struct bn_shm_port *p, bool (*fn)(void *arg), void *arg);
int bn_shm_port_fd(const struct bn_shm_port *p);      /* our doorbell (eventfd) */
int bn_shm_port_peer_fd(const struct bn_shm_port *p); /* peer socket, or -1 in-process */

/* ---- state -------------------------------------------------------------- */

/* false once the peer closed its end, its process died, or it corrupted
 * the region. */
bool bn_shm_port_peer_alive(struct bn_shm_port *p);
void bn_shm_port_stats(const struct bn_shm_port *p, struct bn_shm_stats *out);
const char *bn_shm_port_name(const struct bn_shm_port *p);
void bn_shm_port_set_spin(struct bn_shm_port *p, unsigned spin_us);
uint32_t bn_shm_port_ring_size(const struct bn_shm_port *p);

#endif /* BN_SHM_PORT_H */
