/* xss.h: xensim's xenstore server (the xs_wire.h protocol on Unix sockets),
 * as a library the xensim daemon drives from its own epoll loop.
 *
 * Identity of a client comes from the socket it connected to: the Dom0
 * socket (<dir>/xenstored.sock, the one XENSTORED_PATH points to for Dom0
 * tools) is privileged; each simulated domain gets its own socket
 * (<dir>/dom<ID>.sock) whose connections act as that domain, so a guest uses
 * the real libxenstore with XENSTORED_PATH pointing at its own socket.
 *
 * All functions return 0 or -errno. Not thread-safe: call from one thread.
 */
#ifndef BN_XSS_H
#define BN_XSS_H

#include <stdint.h>

struct xss;

/* Create the server and listen on dom0_sock (unlinked first if stale). */
int xss_create(struct xss **out, const char *dom0_sock);
void xss_destroy(struct xss *s); /* closes every client, unlinks sockets */

/* An epoll fd: readable when xss_dispatch() has work. */
int xss_fd(struct xss *s);
/* Accept / read / answer whatever is ready; never blocks. */
int xss_dispatch(struct xss *s);

/* A domain appears: create /local/domain/<id> (owned by id, readable by
 * it), write name and domid, listen on sock_path for its connections, and
 * fire @introduceDomain watches. */
int xss_domain_add(struct xss *s, uint32_t domid, const char *name, const char *sock_path);
/* A domain is gone: close its connections and watches, remove
 * /local/domain/<id>, unlink its socket, fire @releaseDomain. */
int xss_domain_remove(struct xss *s, uint32_t domid);

/* Added: route the server's log lines (level 0 error, 1 warn, 2 info,
 * 3 debug, as enum bn_log_level) to fn; without it warnings and errors go
 * to stderr. msg has no trailing newline. */
void xss_set_log(struct xss *s, void (*fn)(void *opaque, int level, const char *msg), void *opaque);

#endif
