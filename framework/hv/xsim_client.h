/* xsim_client.h: the client side of xensim's hv.sock protocol
 * (sim/xensim/xensim_proto.h), shared by the "xensim" hypervisor provider
 * (hv_xensim.c) and by libbn_guest (sim/guest): connecting, one request /
 * reply with fd passing, and an event-channel port set that aggregates the
 * ports' eventfds behind one epoll fd (what bn_evtchn_fd() returns).
 *
 * Internal to banana (not a public interface); functions return 0 / a
 * non-negative value or -errno, and are not thread-safe per object.
 */
#ifndef BN_XSIM_CLIENT_H
#define BN_XSIM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/xensim/xensim_proto.h"

/* The simulator directory: sim_dir, else $XENSIM_DIR, else /run/xensim. */
const char *xsim_dir(const char *sim_dir);

/* Connect to <dir>/hv.sock; returns the socket fd or -errno. */
int xsim_connect(const char *dir);

/* Send *m as a request (magic set here), read the reply into *m and up to
 * max_fds passed fds into fds[] (unused slots set to -1; extra fds closed).
 * Returns the reply's ret (0 or -errno), or -errno for a transport error. */
int xsim_call(int sock, struct xsim_msg *m, int *fds, int max_fds);

/* xs_open(XS_OPEN_SOCKETONLY) on the xenstore socket at path. libxenstore
 * takes the path from $XENSTORED_PATH: it is set for the call and then
 * restored, under a process-wide lock (the only global state here, because
 * the environment is process-global). NULL with errno set on failure. */
struct xs_handle *xsim_xs_open(const char *path);

/* Map a channel-state table fd read-only (XSIM_CHAN_BYTES). NULL on error. */
const uint32_t *xsim_chan_map(int fd);
void xsim_chan_unmap(const uint32_t *chan);

/* One port as seen by its owner. */
struct xsim_port {
        int rx_fd;       /* own eventfd, -1 when the slot is unused */
        int tx_fd;       /* peer's eventfd, -1 until known */
        uint32_t slot;   /* channel slot, valid when tx_fd >= 0 */
        uint32_t cookie; /* channel cookie, valid when tx_fd >= 0 */
};

/* A set of ports of one connection behind one epoll fd. */
struct xsim_ports {
        int sock;             /* the hv.sock connection (not owned) */
        const uint32_t *chan; /* channel-state table (not owned) */
        int epfd;
        struct xsim_port *port; /* indexed by port number */
        uint32_t nport;
        uint32_t ready[64]; /* ports reported by epoll, not yet returned */
        uint32_t nready, iready;
};

int xsim_ports_init(struct xsim_ports *ps, int sock, const uint32_t *chan);
void xsim_ports_fini(struct xsim_ports *ps); /* closes fds, not the socket */
int xsim_ports_alloc_unbound(struct xsim_ports *ps, uint32_t remote_domid);
int xsim_ports_bind(struct xsim_ports *ps, uint32_t domid, uint32_t remote_port);
int xsim_ports_close(struct xsim_ports *ps, uint32_t port);
/* -ENOTCONN when the channel is not (or no longer) connected, -EINVAL for
 * a port this set does not hold. */
int xsim_ports_notify(struct xsim_ports *ps, uint32_t port);
int xsim_ports_pending(struct xsim_ports *ps); /* port or -EAGAIN */
int xsim_ports_unmask(struct xsim_ports *ps, uint32_t port);

#endif
