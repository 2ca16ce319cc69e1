/* nbd_server.h: an NBD server on a bn_loop (the Corm's end of the nbd wire,
 * and a server standard NBD clients can use), and the back-end interface
 * that serves its export.
 *
 * The server listens on a non-blocking TCP or Unix socket, speaks the fixed
 * newstyle handshake (EXPORT_NAME, INFO, GO, LIST, ABORT, STRUCTURED_REPLY,
 * and STARTTLS once bn_nbd_server_set_tls gave it a certificate) and serves
 * many requests in flight per connection: each request goes to the back-end
 * as a struct bn_nbd_io, which the back-end completes, inline or later on the
 * loop's thread, with bn_nbd_io_done(). Replies go out in completion order
 * (structured for reads when the client asked for structured replies).
 *
 * Threads: a server and its connections belong to the loop given to
 * bn_nbd_server_new; every function here runs on that loop's thread.
 */
#ifndef BN_NBD_SERVER_H
#define BN_NBD_SERVER_H

#include "nbd_proto.h"
#include "nbd_tls.h"

struct bn_loop;
struct bn_nbd_server;

/* One request handed to the back-end. buf: for READ, length bytes to fill;
 * for WRITE, the length bytes to write (owned by the io until done). */
struct bn_nbd_io {
        uint16_t type;  /* BN_NBD_CMD_* */
        uint16_t flags; /* BN_NBD_CMD_FLAG_FUA, _NO_HOLE */
        uint64_t offset;
        uint32_t length;
        uint8_t *buf;
};

/* The back-end of an export: one struct of function pointers, as nbdkit's
 * plugins are. A NULL operation is one the export cannot do, and the
 * matching transmission flag is not advertised (no write: read-only; no
 * flush: neither FLUSH nor FUA). Each operation starts io and returns 0, or
 * returns -errno having not started it; a started io is completed exactly
 * once with bn_nbd_io_done(io, 0 or -errno), on the loop's thread, possibly
 * before the operation returns. FUA on a write/trim/zero means: done only
 * once the data is stable. */
struct bn_nbd_backend_ops {
        const char *name; /* for logs */
        /* The export's size in bytes, and whether it is read-only (0 or
         * -errno). Called once per connection, at INFO/GO/EXPORT_NAME. */
        int (*get_size)(void *be, uint64_t *size, bool *read_only);
        int (*read)(void *be, struct bn_nbd_io *io);
        int (*write)(void *be, struct bn_nbd_io *io);
        int (*flush)(void *be, struct bn_nbd_io *io);
        int (*trim)(void *be, struct bn_nbd_io *io);
        int (*zero)(void *be, struct bn_nbd_io *io);
        /* Optional: a client sent NBD_CMD_DISC (every request it sent
         * before is with the back-end or answered); others: how many other
         * connections are still open and have not. */
        void (*disc)(void *be, unsigned others);
};

/* Complete an io a back-end was given (err: 0 or -errno). */
void bn_nbd_io_done(struct bn_nbd_io *io, int err);

struct bn_nbd_server_stats {
        uint64_t conns;    /* connections accepted */
        uint64_t requests; /* requests parsed */
        uint64_t errors;   /* requests answered with an error */
        uint64_t by_cmd[7];
};

/* addr: "tcp:HOST:PORT" (PORT 0: any; see bn_nbd_server_port) or
 * "unix:PATH". export_name: the name served ("" is accepted as the default
 * too). The back-end's ops and be must outlive the server. flags:
 * BN_NBD_SERVER_FREEBIND: HOST need not be this host's yet (a tunnel's
 * address before the tunnel is up; connections come once it is). */
#define BN_NBD_SERVER_FREEBIND 1u
int bn_nbd_server_new(struct bn_nbd_server **out, struct bn_loop *loop, const char *addr,
                      const char *export_name, const struct bn_nbd_backend_ops *ops, void *be,
                      unsigned flags);
/* A hostile client's reach: at most max_conns connections (default 256;
 * more are closed at once), and each must end its handshake within
 * hs_timeout_ms (default 10000). 0 keeps a value. */
void bn_nbd_server_set_limits(struct bn_nbd_server *srv, unsigned max_conns,
                              unsigned hs_timeout_ms);
/* Offer STARTTLS (and, with cfg->require, refuse everything else before
 * it): before the first connection. -EINVAL with the reason logged. */
int bn_nbd_server_set_tls(struct bn_nbd_server *srv, const struct bn_nbd_tls_cfg *cfg);
/* Close the listening socket and every connection; ios still with the
 * back-end are completed into the void (the back-end must still complete
 * them; the server's memory for them is freed when they are). */
void bn_nbd_server_free(struct bn_nbd_server *srv);
/* The TCP port listened on (0 for Unix). */
int bn_nbd_server_port(const struct bn_nbd_server *srv);
void bn_nbd_server_get_stats(const struct bn_nbd_server *srv, struct bn_nbd_server_stats *st);

/* A back-end over a file or block device with pread/pwrite/fdatasync and
 * fallocate: completes every io inline. */
struct bn_nbd_file;
extern const struct bn_nbd_backend_ops bn_nbd_file_ops;
int bn_nbd_file_open(struct bn_nbd_file **out, const char *path, bool read_only);
void bn_nbd_file_close(struct bn_nbd_file *f);

#endif
