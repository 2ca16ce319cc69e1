/* xss.h: xensim's xenstore server (the xs_wire.h protocol on Unix sockets),
 * as a library the xensim daemon drives from its own epoll loop.
 *
 * Identity of a client comes from the socket it connected to: the Dom0
 * socket (<dir>/xenstored.sock, the one XENSTORED_PATH points to for Dom0
 * tools) is privileged; each simulated domain gets its own socket
 * (<dir>/dom<ID>.sock) whose connections act as that domain, so a guest uses
 * the real libxenstore with XENSTORED_PATH pointing at its own socket.
 *
 * Semantics follow C xenstored: permissions (first entry = owner + default
 * for others, later entries per domain; owner and Dom0 get everything; new
 * nodes inherit the parent's list, owned by the creating domain), watches
 * (initial event; a change fires watches on the node and its ancestors; a
 * removal also fires watches below the removed node; a domain only sees
 * events for nodes it may read; @introduceDomain/@releaseDomain go to
 * connections allowed by the special node's permissions, Dom0 only unless
 * Dom0 grants more with XS_SET_PERMS), transactions (EAGAIN at commit when a
 * node the transaction looked at changed; events fire at commit). Quotas for
 * domains (not Dom0): 1000 nodes owned (ENOSPC), 2048-byte values (ENOSPC),
 * 128 watches (E2BIG), 10 transactions (ENOSPC) tracking at most 1024 nodes
 * each (ENOSPC), 5 permission entries (ENOSPC), 16 connections (more are
 * closed at once); requests are not read while more than 64 KiB of replies
 * wait for a client, and watch events are dropped (logged) above 1 MiB.
 * A malformed header (unknown type, length > XENSTORE_PAYLOAD_MAX) closes
 * that client only. XS_INTRODUCE answers OK for known domains (EINVAL
 * otherwise: domains come from xss_domain_add); XS_RELEASE from Dom0 does
 * what xss_domain_remove does.
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
