/* nbd_server_int.h: what the NBD server's two files share (nbd_server.c:
 * the connections; nbd_server_listen.c: the listening socket and the
 * server's life cycle). Internal: not for other users of nbd_server.h. */
#ifndef BN_NBD_SERVER_INT_H
#define BN_NBD_SERVER_INT_H

#include "nbd_server.h"
#include "bn_loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONN_MAX_INFLIGHT 128         /* stop reading beyond this */
#define CONN_MAX_OUT      (64U << 20) /* or beyond this much queued output */
#define CONN_READ_CHUNK   (256U << 10)
#define SRV_MAX_CONNS     256   /* default: connections beyond are closed at once */
#define HS_TIMEOUT_MS     10000 /* default: a handshake must end within this */

struct outbuf {
        struct outbuf *next;
        size_t len, off;
        uint8_t data[];
};

struct conn;

/* An io with what the server needs to answer it. */
struct srv_io {
        struct bn_nbd_io io; /* first: bn_nbd_io_done casts back */
        struct conn *c;
        uint64_t handle;
        struct outbuf *out; /* READ: the reply, io.buf points into it */
        uint8_t wbuf[];     /* WRITE: the payload */
};

struct conn {
        struct conn *next;
        struct bn_nbd_server *srv; /* NULL once the server let go of it */
        int fd;
        char name[192];
        struct bn_nbd_srv_state st;
        uint8_t *in;
        size_t in_len, in_cap;
        struct outbuf *out_head, *out_tail;
        size_t out_bytes;
        unsigned inflight;
        uint32_t events;           /* what the loop watches */
        bool closing;              /* no more input: close once output and ios are done */
        bool broken;               /* close now (out of memory, peer gone) */
        bool in_cb;                /* conn_cb is running: it finishes what io_done began */
        bool dead;                 /* fd closed, waiting for ios */
        struct ssl_st *ssl;        /* after STARTTLS */
        bool tls_start;            /* STARTTLS acknowledged: TLS once that is sent */
        bool tls_hs;               /* TLS handshake in progress */
        uint32_t tls_want;         /* what the session waits for besides input */
        struct bn_timer *hs_timer; /* until transmission begins */
        struct bn_loop *loop;
        struct bn_loop_work after_work; /* answers of one loop iteration go out together */
};

struct bn_nbd_server {
        struct bn_loop *loop;
        int lfd;
        int port;
        char addr[128];
        char unix_path[108];
        char export_name[BN_NBD_MAX_NAME + 1];
        const struct bn_nbd_backend_ops *ops;
        void *be;
        struct conn *conns;
        unsigned nconns, max_conns, hs_timeout_ms;
        struct bn_nbd_server_stats stats;
        struct ssl_ctx_st *tls_ctx; /* NULL: STARTTLS unsupported */
        bool tls_require;
};

/* nbd_server.c, on the server's loop: */
/* Close c now, logging why (its ios finish first, then it is freed). */
void nbd_srv_conn_kill(struct conn *c, const char *why);
/* Queue len bytes of p to go out on c: 0 or -ENOMEM. */
int nbd_srv_conn_send(struct conn *c, const void *p, size_t len);
/* c's fd is ready (the loop's callback). */
void nbd_srv_conn_cb(struct bn_loop *loop, int fd, uint32_t events, void *arg);
/* The answers of one loop iteration go out together (bn_loop_defer). */
void nbd_srv_after_deferred(void *arg);

#endif
