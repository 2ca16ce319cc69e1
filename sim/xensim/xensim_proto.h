/* xensim_proto.h: the hv.sock protocol between the xensim daemon and its
 * clients (the "xensim" hypervisor provider in framework/hv, and libbn_guest
 * in sim/guest), plus the layout of the memory xensim shares with them.
 * Header only: included by the daemon and by both client libraries.
 *
 * Transport: <dir>/hv.sock, an AF_UNIX SOCK_SEQPACKET socket. Every message
 * in either direction is exactly one struct xsim_msg; file descriptors ride
 * along as SCM_RIGHTS (at most XSIM_MAX_FDS per reply). Strictly request /
 * reply: a client sends one request and reads one reply; the daemon never
 * speaks first. Every reply echoes op and carries ret (0 or -errno).
 *
 * A connection first says who it is, once:
 *   XSIM_OP_HELLO_DOM0       the client acts as Dom0 (bananad's provider,
 *                            tests). Reply fds[0]: the channel-state table
 *                            (read-only memfd, a[0] = its slot count).
 *   XSIM_OP_CREATE_DOMAIN    the client is a new simulated guest; name[]
 *                            and count = mem_pages. Reply: domid; fds[0] its
 *                            memory (memfd, RW, mem_pages pages), fds[1] its
 *                            grant table (memfd, RW, layout below, a[1] =
 *                            entries), fds[2] the channel-state table (RO,
 *                            a[0] = slots). The domain lives exactly as long
 *                            as this connection: on close xensim releases it
 *                            (grants unpinned and zeroed, channels broken,
 *                            xenstore @releaseDomain).
 *
 * Grant requests (Dom0 connections only):
 *   XSIM_OP_GNT_MAP     domid, count (1..XSIM_MAP_MAX), flags & XSIM_F_WRITABLE,
 *                       refs[]. All or nothing: each entry is copied,
 *                       validated (ref < entries, GTF_permit_access, entry
 *                       domid == 0, not GTF_readonly when writable, frame <
 *                       mem_pages) and pinned (GTF_reading, GTF_writing too
 *                       when writable) so the guest's revoke sees it busy.
 *                       Reply: refs[i] = frame of ref i; fds[0] = the
 *                       domain's memory, opened read-only for a read-only
 *                       map. Errors: -ESRCH no such domain, -ENOENT bad or
 *                       revoked ref, -EPERM wrong domid / RW map of an RO
 *                       grant, -EFAULT frame out of range.
 *   XSIM_OP_GNT_UNMAP   same arguments as the map: drop those pins (held
 *                       per connection; a closing connection drops all).
 *   XSIM_OP_GNT_DOMAIN  domid: fds[0] the grant table (read-only), fds[1]
 *                       the memory (RW), a[1] = entries, count = mem_pages.
 *                       For grant copy, which the client validates itself.
 *
 * Event channels (any connection; ports belong to the connection's domain
 * and to that connection):
 *   XSIM_OP_EVTCHN_ALLOC_UNBOUND  domid = remote domain allowed to bind.
 *                       Reply: port, fds[0] = the port's eventfd (receive).
 *   XSIM_OP_EVTCHN_BIND domid, port = remote port (must be unbound and
 *                       reserved for the caller's domain, else -EINVAL).
 *                       Reply: port = local port, fds[0] its eventfd
 *                       (receive), fds[1] the peer's eventfd (notify),
 *                       a[2] = channel slot, a[3] = cookie.
 *   XSIM_OP_EVTCHN_PEER port: for an unbound port that the peer has since
 *                       bound, fds[0] = the peer's eventfd, a[2]/a[3] slot
 *                       and cookie; -ENOTCONN while unbound.
 *   XSIM_OP_EVTCHN_CLOSE port.
 * Notify never goes through xensim: the client writes the peer's eventfd,
 * after checking that chan_table[slot] == cookie (xensim zeroes the slot
 * when either side closes or dies, so a notify to a dead peer fails).
 */
#ifndef XENSIM_PROTO_H
#define XENSIM_PROTO_H

#include <stdint.h>

#define XSIM_PROTO_MAGIC 0x6d697378u /* "xsim" */
#define XSIM_MAP_MAX     256u        /* refs per map request */
#define XSIM_MAX_FDS     3
#define XSIM_NAME_MAX    64

enum xsim_op {
        XSIM_OP_HELLO_DOM0 = 1,
        XSIM_OP_CREATE_DOMAIN,
        XSIM_OP_GNT_MAP,
        XSIM_OP_GNT_UNMAP,
        XSIM_OP_GNT_DOMAIN,
        XSIM_OP_EVTCHN_ALLOC_UNBOUND,
        XSIM_OP_EVTCHN_BIND,
        XSIM_OP_EVTCHN_PEER,
        XSIM_OP_EVTCHN_CLOSE,
};

#define XSIM_F_WRITABLE 1u

struct xsim_msg {
        uint32_t magic; /* XSIM_PROTO_MAGIC */
        uint32_t op;    /* enum xsim_op */
        int32_t ret;    /* reply: 0 or -errno */
        uint32_t domid;
        uint32_t port;
        uint32_t count;
        uint32_t flags;
        uint32_t a[4];
        char name[XSIM_NAME_MAX];
        uint32_t refs[XSIM_MAP_MAX];
};

/* Grant-table memfd: one header page, then entries (v1 layout, as
 * xen/grant_table.h's struct grant_entry_v1) from offset XSIM_GT_ENTRY_OFF.
 * The guest writes entries; xensim sets/clears GTF_reading/GTF_writing with
 * atomic operations; Dom0 clients read only. Refs 0..7 are reserved as in
 * Xen (GNTTAB_NR_RESERVED_ENTRIES). */
struct xsim_gt_header {
        uint32_t magic;   /* XSIM_PROTO_MAGIC */
        uint32_t entries; /* informative; clients trust the reply's a[1] */
        uint32_t dead;    /* set by xensim when the domain is released */
};
struct xsim_gnt_entry {
        uint16_t flags;
        uint16_t domid;
        uint32_t frame;
};
#define XSIM_GT_ENTRY_OFF 4096u
#define XSIM_GT_ENTRIES   8192u
#define XSIM_GT_RESERVED  8u
#define XSIM_GT_BYTES     (XSIM_GT_ENTRY_OFF + XSIM_GT_ENTRIES * 8u)

/* Grant flags, values as in xen/grant_table.h. */
#define XSIM_GTF_invalid       0u
#define XSIM_GTF_permit_access 1u
#define XSIM_GTF_type_mask     3u
#define XSIM_GTF_readonly      (1u << 2)
#define XSIM_GTF_reading       (1u << 3)
#define XSIM_GTF_writing       (1u << 4)

/* Channel-state table: XSIM_CHAN_SLOTS uint32_t cookies, 0 = no channel. */
#define XSIM_CHAN_SLOTS 16384u
#define XSIM_CHAN_BYTES (XSIM_CHAN_SLOTS * 4u)

#define XSIM_MAX_PORTS 4096u /* per domain */

#endif
