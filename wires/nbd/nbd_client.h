/* nbd_client.h: an NBD client on a bn_loop that keeps a disk's promises
 * across lost connections (the Spike's end of the nbd wire).
 *
 * Requests are kept in one queue in the order they were submitted until
 * their answer arrives. They are sent in that order. When the connection or
 * the server dies, the client reconnects with backoff (doubling from
 * backoff_min_ms to backoff_max_ms), redoes the handshake (STARTTLS when
 * asked for, GO, structured replies when the server has them), and sends every unanswered request
 * again, in its original order, before any request submitted later. Each request's completion runs
 * exactly once: an answer is matched by handle to a request sent on the current connection and
 * removes it; an answer to anything else is a protocol error (the connection is dropped and the
 * requests replayed).
 *
 * Replay re-executes requests the server may have executed but not
 * answered: reads, writes, zeroes, trims and flushes are all idempotent
 * while no two overlapping requests are in flight with one of them a write,
 * which is what the vbd's ordering gives.
 *
 * Threads: the client belongs to its loop; every function here runs on the
 * loop's thread, and ops' callbacks run there.
 */
#ifndef BN_NBD_CLIENT_H
#define BN_NBD_CLIENT_H

#include "nbd_proto.h"
#include "nbd_tls.h"

struct bn_loop;
struct bn_nbd_client;

struct bn_nbd_client_ops {
        /* The connection reached transmission (exp: what the server said of
         * its export) or was lost (exp NULL). May be NULL. */
        void (*state)(void *arg, const struct bn_nbd_export *exp);
        /* A request's one completion: 0 or -errno (the server's NBD error
         * as an errno, -ECANCELED when the client is freed first). */
        void (*done)(void *arg, void *tag, int err);
};

struct bn_nbd_client_cfg {
        const char *addr;        /* "tcp:HOST:PORT" (numeric) or "unix:PATH" */
        const char *export_name; /* "" for the default */
        unsigned backoff_min_ms; /* 0: 20 */
        unsigned backoff_max_ms; /* 0: 1000 */
        /* TLS: NULL for none; else STARTTLS is required of the server, whose
         * certificate must chain to tls->ca and name tls_peer (NULL: the
         * host of a tcp: address); tls->cert/key are presented if given. */
        const struct bn_nbd_tls_cfg *tls;
        const char *tls_peer;
};

struct bn_nbd_client_stats {
        uint64_t connects; /* handshakes completed */
        uint64_t failures; /* connections lost or refused */
        uint64_t sent;     /* requests written to a socket, replays included */
        uint64_t replayed; /* requests sent again after a lost connection */
        uint64_t answered; /* completions */
        unsigned queued;   /* requests waiting for their answer now */
};

int bn_nbd_client_new(struct bn_nbd_client **out, struct bn_loop *loop,
                      const struct bn_nbd_client_cfg *cfg, const struct bn_nbd_client_ops *ops,
                      void *arg);
/* Every queued request completes with -ECANCELED first (a submit from
 * those completions is refused, -ESHUTDOWN). */
void bn_nbd_client_free(struct bn_nbd_client *cl);

/* Queue a request. type: BN_NBD_CMD_READ (buf receives length bytes),
 * WRITE (buf's length bytes are copied now), FLUSH, TRIM, WRITE_ZEROES;
 * flags: BN_NBD_CMD_FLAG_FUA, _NO_HOLE. -EINVAL for another type, a length
 * beyond BN_NBD_MAX_PAYLOAD or a range beyond the export (once known),
 * -ENOMEM. tag is given back to ops->done. */
int bn_nbd_client_submit(struct bn_nbd_client *cl, uint16_t type, uint16_t flags, uint64_t offset,
                         uint32_t length, uint8_t *buf, void *tag);
void bn_nbd_client_get_stats(const struct bn_nbd_client *cl, struct bn_nbd_client_stats *st);
/* Nothing more will be submitted: once every queued request is answered
 * (replays included), NBD_CMD_DISC is sent and the server's close is not
 * retried (a connection lost before that is, and replays as usual). A
 * later submit undoes it (and reconnects if the DISC went out). */
void bn_nbd_client_disconnect(struct bn_nbd_client *cl);

#endif
