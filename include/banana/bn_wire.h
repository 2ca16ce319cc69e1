/* bn_wire.h: the wire interface, the plug-in point for wire types (shm,
 * vxlan, vpn, nbd), and the generic message both device classes carry.
 *
 * A wire joins two endpoints of the same device class. Each endpoint holds
 * one END of it, a struct bn_wire_port; a wire type implements struct
 * bn_wire_class, which creates or joins one end (open), moves batches of
 * messages (send / recv / release) and reports counters (stats). Wire types
 * are registered by name in a per-daemon struct bn_wire_registry.
 *
 * What a wire gives and what a class needs. Each wire type declares its
 * capabilities (struct bn_wire_caps: ordered, reliable, the largest
 * message, the MTU, GSO metadata, control messages), narrowed per port
 * from its parameters by port_caps; each device class declares what it
 * needs (struct bn_wire_needs in struct bn_devclass: a disk needs ordered
 * and reliable). bn_wire_port_open, and the controller's connect before the
 * desired state changes, refuse a wire that cannot give it, naming the
 * wire type, the class and what is missing (bn_wire_caps_check).
 *
 * Threads. A port is served by exactly one loop, its endpoint's loop
 * (port->loop, a worker thread), which owns it: open and close run on that
 * loop's thread (the framework arranges it with bn_loop_call_wait), and the
 * port joins and leaves the endpoint's port list there, in the same call
 * (so a send on the loop never sees a closed port or a list being
 * changed); send, recv, release, stats, linked and port_caps are only
 * called on it. The main thread (the controller) holds the port pointer
 * between open and close but reads it only through calls queued to
 * port->loop. A wire type's class_ctx is shared by the ports of every
 * loop: it must lock what it keeps there. class_init is given the daemon's
 * loops (struct bn_wire_env): a type that serves many ports from one
 * socket (vxlan: one UDP socket per daemon) runs its own receive loop
 * there and hands each datagram to its port's loop with bn_loop_call, never
 * touching a port from another thread. Callbacks must not block: no
 * sleeping, no blocking I/O, no waiting for the peer. Connecting to a remote
 * peer (TCP, VPN) happens in the background; until then send accepts 0
 * messages and linked says false.
 *
 * Readiness. The framework polls fd(port) for EPOLLIN on port->loop. When it
 * is readable the framework calls recv until it returns 0 (or until it took
 * a bounded number of batches, so that one busy port does not starve the
 * others on its loop: fd must therefore stay readable, level-triggered, for
 * as long as recv has messages to give), hands the messages to the
 * endpoint's class (struct bn_devclass.port_rx) and then calls release. A short send (fewer
 * accepted than offered) marks the port blocked; when room frees up the wire either makes fd
 * readable (e.g. the peer rings a doorbell after consuming from a full ring) or, on port->loop,
 * calls bn_wire_port_writable(port) itself (a socket that drained: its
 * writability need not come with a read); either way the framework calls
 * the class's port_writable once, and classes keep what a wire refused in
 * the framework's retry queue (bn_txq.h), in order. Backpressure is normal; a wire never
 * drops silently: it either refuses a message (send returns fewer) or
 * counts the drop in stats with its reason.
 *
 * Batching. A wire class with a flush callback may keep what send accepted
 * unpublished (no doorbell, no system call) until flush: the framework
 * calls flush once per loop iteration after the iteration's last send on
 * the port (deferred work of port->loop), before closing the port, and
 * right after send when called outside the port's loop thread.
 *
 * Run to completion. When both ends of a wire are in one process on one
 * loop (a vbd Spike is put on its disk Corm's loop), nothing needs to
 * cross a thread: the wire type rings the peer with bn_wire_port_kick
 * (deferred work of the loop: the peer's port is read, and its class's
 * port_rx called, after the callbacks of the current iteration, in the
 * same iteration) instead of a doorbell and an epoll wake-up. The deferral
 * is the queue against re-entry: a port_rx that sends (an answer) never
 * runs the peer's port_rx inside its own, and everything one iteration sent
 * reaches the peer as one batch. Across loops or processes the wire rings
 * a doorbell (an fd the peer's loop polls). A wire type must only kick a
 * port of the loop it runs on (check bn_loop_in_thread(peer->loop)).
 *
 * Link. The framework keeps each port's link state (struct bn_wire_link:
 * up, MTU, capabilities, the reason when down) and tells the device class
 * when it changes (port_link). It is up while the wire says linked, no
 * send/recv failed and the handshake did not fail. A wire whose linked
 * answer changes other than on a wake-up of its fd (a VPN tunnel that went
 * down) calls bn_wire_port_link_update(port) on port->loop; link_why says
 * why it is down.
 *
 * Handshake (wires whose caps say control). When a port opens, the
 * framework sends the peer a HELLO control message before anything of the
 * class (the device class's name and its wire protocol version, struct
 * bn_wire_hello); the peer's framework checks it and, when the class or
 * the version differ, takes the link down with a reason naming both
 * ("handshake: this end is vbd v1, the peer is vif v1") and delivers
 * nothing more from that port. A peer that sends no HELLO (a tool speaking
 * the ring directly) is accepted: the check is of what a peer says, the
 * guarantee comes from ordered delivery (the HELLO is a peer's first
 * message). Control messages (types 0xf000..0xffff) are the framework's:
 * never handed to port_rx, not in the endpoint's counters (the wire's
 * stats do count them).
 */
#ifndef BN_WIRE_H
#define BN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bn_loop.h"
#include "bn_params.h"

struct bn_devclass;
struct bn_endpoint;
struct bn_loop;
struct bn_workers;

#define BN_WIRE_HDR_MAX 64

/* One message on a wire. type and hdr are defined by the device class; the
 * wire carries them opaquely and intact:
 *  - net ("vif", 0x01xx): type BN_MSG_NET_FRAME, hdr = a struct
 *    virtio_net_hdr (GSO / checksum metadata, hdr_len 10 or 12), data = the
 *    Ethernet frame.
 *  - blk ("vbd", 0x02xx): type = request / response, hdr = a request header
 *    (op, sector, id, status), data = the payload of a write request or a
 *    read response (len 0 otherwise).
 *  - test (0x03xx): type BN_MSG_TEST_ECHO, hdr = the echo number, no data.
 *  - display ("vdispl", 0x04xx): BN_MSG_DISPL_FRAME, hdr = which rows of
 *    the connector's region (below) changed, no data.
 * type 0 is invalid. Types 1..0xefff belong to the class (each class its
 * own block, so that a message of one class is never mistaken for
 * another's); 0xf000..0xffff are reserved for the framework's control
 * messages (BN_MSG_CTL_*, below).
 *
 * Ownership. send: the wire copies (or otherwise captures) hdr and the len
 * bytes at data before returning for each accepted message; the caller keeps
 * its buffers. recv: data points into memory owned by the wire, valid until
 * release() for that message (or, when the class has no release, until the
 * next recv on the port); wire_priv is for the wire's bookkeeping.
 * len is bounded by BN_WIRE_DATA_MAX. */
#define BN_WIRE_DATA_MAX (128u * 1024u)

struct bn_wire_msg {
        uint16_t type;
        uint16_t hdr_len; /* valid bytes in hdr, <= BN_WIRE_HDR_MAX */
        uint32_t len;     /* bytes at data, <= BN_WIRE_DATA_MAX */
        uint8_t hdr[BN_WIRE_HDR_MAX];
        void *data;
        uintptr_t wire_priv; /* set by recv, opaque to everyone else */
};

/* Framework-reserved message types: control messages between the two
 * ends' frameworks, on wires whose caps say control.
 *   HELLO   hdr = struct bn_wire_hello, no data. Sent once by each end when
 *           its port opens, before any message of the class.
 *   DRAIN   no hdr, no data: "stop sending new requests, finish those in
 *           flight, then answer DRAINED" (quiescing for hot-swap and
 *           migration, issue 16). Handed to the class's port_ctl.
 *   DRAINED no hdr, no data: the answer to DRAIN, sent when nothing is in
 *           flight any more. Handed to the class's port_ctl.
 * A control message of an unknown type is counted as a drop and ignored, so
 * that a newer peer may add some. */
#define BN_MSG_RESERVED_FIRST 0xf000u
#define BN_MSG_CTL_HELLO      0xf001u
#define BN_MSG_CTL_DRAIN      0xf002u
#define BN_MSG_CTL_DRAINED    0xf003u
#define BN_MSG_CTL_REGION     0xf004u /* see Regions below */

/* The version of the framework's control protocol, in every HELLO. */
#define BN_WIRE_CTL_VERSION 1u

/* The HELLO message's hdr (little-endian on the wire). */
struct bn_wire_hello {
        uint8_t magic[4];       /* "BNHI" */
        uint16_t ctl_version;   /* BN_WIRE_CTL_VERSION */
        uint16_t proto_version; /* the device class's wire_version */
        char cls[16];           /* the device class's name, NUL-padded */
};

/* What a wire gives: per wire type (struct bn_wire_class.caps) and per port
 * (narrowed by port_caps, e.g. from an MTU parameter). */
struct bn_wire_caps {
        bool ordered;     /* messages arrive in the order they were accepted */
        bool reliable;    /* an accepted message arrives, or the link goes down */
        bool gso;         /* carries the virtio_net_hdr (GSO / checksum metadata)
                           * intact; else the sender segments and checksums frames */
        bool control;     /* carries framework control messages (HELLO, DRAIN):
                           * false when the peer may be something other than banana
                           * (Linux's own VXLAN) */
        bool regions;     /* carries regions (BN_MSG_CTL_REGION, below): ordered,
                           * reliable and control all hold, and a region's bytes
                           * are written before the messages after them arrive */
        uint32_t max_msg; /* largest data length of one message, 1..BN_WIRE_DATA_MAX */
        uint32_t mtu;     /* largest Ethernet payload a frame may carry (what the
                           * guest's vif is given); 0: no limit but max_msg */
};

/* What a device class needs from its wires (struct bn_devclass.wire_needs). */
struct bn_wire_needs {
        bool ordered;
        bool reliable;
        uint32_t min_msg; /* the largest message the class sends, 0: any */
        bool regions;     /* the class sends regions (bn_wire_region_write) */
};

/* The link state of one port, kept by the framework. */
struct bn_wire_link {
        bool up;
        uint32_t mtu;             /* = caps.mtu */
        struct bn_wire_caps caps; /* the port's */
        char reason[160];         /* why it is down; "" when up */
};

/* What a wire type is given at class_init: the daemon's loops. Valid until
 * class_fini. */
struct bn_wire_env {
        struct bn_loop *main;       /* the daemon's main loop (may be NULL in tests) */
        struct bn_workers *workers; /* the device I/O loops (may be NULL in tests) */
        const char *host;           /* this host's name ("" when unknown) */
        const char *state_dir;      /* bananad's state directory (NULL: none, e.g. tests);
                                     * a type keeps its files (vpn: keys) under it */
        /* The registry being filled: a type built on another one finds the
         * other's context there (bn_wire_registry_find) when the other was
         * registered first (nbd-vpn rides vpn's tunnels). */
        const struct bn_wire_registry *registry;
};

/* Counters of one port (one end). Drops are counted by reason. */
#define BN_WIRE_DETAIL_MAX 8
struct bn_wire_stats {
        uint64_t msgs_out, bytes_out; /* accepted by send */
        uint64_t msgs_in, bytes_in;   /* returned by recv */
        uint64_t drop_full;           /* no room (peer slow), dropped by the wire */
        uint64_t drop_too_big;        /* larger than the wire carries */
        uint64_t drop_malformed;      /* bad message from the peer / network */
        uint64_t drop_down;           /* peer absent or link down */
        uint64_t drop_other;
        /* Optional: finer reasons a type counts, named in snake case
         * ("bad_flags"): each of the port's drops is also in one of the
         * drop_* above; a type may add what it dropped as no wire's (vxlan:
         * its socket's datagrams of unknown VNIs). A slot with name NULL is
         * unused. Shown by bananactl --json wires as
         * "drops_detail". Add with bn_wire_stats_detail. */
        struct {
                const char *name; /* a string literal */
                uint64_t n;
        } detail[BN_WIRE_DETAIL_MAX];
};

/* Add n to st's detail counter name (a string literal); when all slots are
 * taken by other names it is not shown. */
void bn_wire_stats_detail(struct bn_wire_stats *st, const char *name, uint64_t n);

struct bn_wire_port;

/* A wire type. Fields marked optional may be NULL. */
struct bn_wire_class {
        const char *name; /* "shm", "vxlan", "vpn", "nbd" */
        size_t priv_size; /* bytes of port->priv, zeroed before open */

        /* What every port of this type gives at most (see bn_wire_caps). */
        struct bn_wire_caps caps;

        /* Optional. Called once when registered (bn_wire_registry_add) to make
         * the per-daemon state of this wire type (e.g. the table of shm wires
         * in this process, a shared UDP socket with its receive loop);
         * stored in port->class_ctx. env (the registry's) says which loops
         * the daemon has; a type may start its own thread here (and must
         * stop it in class_fini). Runs on the registering (main) thread;
         * must not block for long. Returns 0 or -errno. */
        int (*class_init)(const struct bn_wire_env *env, void **class_ctx);
        /* Optional. After every port of the type closed; main thread. */
        void (*class_fini)(void *class_ctx);

        /* Create or join one end of the wire named port->wire, end port->end
         * (0 or 1), with params. Must validate params (reject unknown keys
         * with bn_params_check_known) and fill err with a clear reason on
         * failure. Must not block. Returns 0 or -errno. */
        int (*open)(struct bn_wire_port *port, const struct bn_params *params, char *err,
                    size_t errlen);
        /* Leave the wire: free everything of this end; pending received
         * messages are dropped. Must not fail, must not block. */
        void (*close)(struct bn_wire_port *port);

        /* Offer n messages; returns how many were accepted (0..n, in order),
         * or -errno when the port is broken (then the framework reports the
         * endpoint in error). Must not block. */
        int (*send)(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n);
        /* Receive up to max messages; returns the number (0 when none), or
         * -errno when broken. Must not block. Must validate what it receives
         * from the peer (lengths, types in range) and drop bad messages,
         * counting them. */
        int (*recv)(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned max);
        /* Optional: publish to the peer everything send accepted since the
         * last flush (e.g. one ring index update and at most one doorbell).
         * Called on port->loop (see Batching above). Must not block, must
         * not fail: an error shows in the next send or recv. NULL: send
         * publishes itself. */
        void (*flush)(struct bn_wire_port *port);
        /* Optional: give back received messages (their data). */
        void (*release)(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned n);
        /* The fd the framework polls for EPOLLIN (see Readiness above), valid
         * from open to close. */
        int (*fd)(struct bn_wire_port *port);
        /* Fill st (zeroed by the caller). */
        void (*stats)(struct bn_wire_port *port, struct bn_wire_stats *st);
        /* Optional: is the peer there, so that messages can flow? (A
         * cross-process end before its peer joined or after it died: no.)
         * NULL: always. Cheap, no blocking; the framework asks after open
         * and after each wake-up of the port's fd. */
        bool (*linked)(struct bn_wire_port *port);
        /* Optional: check params as open would (unknown keys, types, ranges),
         * opening nothing; any thread. The controller runs it for diff, apply
         * and connect before the desired state changes. open must still
         * validate. */
        int (*check)(const struct bn_params *params, char *err, size_t errlen);
        /* Optional: this port's capabilities, after open (caps holds the
         * type's; narrow them, e.g. mtu from a parameter, never widen). */
        void (*port_caps)(struct bn_wire_port *port, struct bn_wire_caps *caps);
        /* Optional: while linked says false, why ("waiting for end 1 on
         * @x", "tunnel down: TLS handshake failed"). */
        void (*link_why)(struct bn_wire_port *port, char *buf, size_t len);
        /* Optional: what the other hosts of a cluster must know of this
         * host to open a wire of this type to it, as key = value pairs set
         * in out (initialised by the caller), e.g. vpn: "fingerprint" (its
         * certificate's) and "addr" (address: this host's underlay address,
         * bananad --address, or NULL). The controller publishes them in this
         * host's member record in the store and gives a wire of this type
         * between two hosts, for each end, its host's values as endN.KEY
         * unless the wire's options name endN.KEY themselves; an end whose
         * host is not a member of the cluster gets nothing (its wire waits
         * for it). Main thread; must not block. 0 or -errno. */
        int (*host_info)(void *class_ctx, const char *address, struct bn_params *out);
        /* Optional, for a type without control messages (caps.control
         * false): a swap quiesced this port (a disk's Spike): nothing more
         * will be sent on it. The type tells its peer in its own protocol
         * once every message sent is answered (nbd: NBD_CMD_DISC), and the
         * peer's end calls bn_wire_port_peer_drained, so that the Corm reads
         * the wire's new port at once, not when the old one is closed. On
         * port->loop; must not block. */
        void (*drain)(struct bn_wire_port *port);
};

struct bn_wire_port;
/* Told (on the port's loop, any thread) that a port's peer has gone, after
 * the device class's port_link(false): the controller replaces the port. */
typedef void (*bn_wire_down_fn)(void *arg, struct bn_wire_port *port);

/* One end of a wire, created by bn_wire_port_open(). The wire class may read
 * every field and owns priv; the framework owns the rest. */
struct bn_wire_port {
        const struct bn_wire_class *cls;
        void *class_ctx;          /* from cls->class_init, or NULL */
        void *priv;               /* cls->priv_size bytes */
        char wire[256];           /* the wire's name, e.g. "hostA/vm1/vif0--hostB/br0" */
        unsigned end;             /* 0 or 1 */
        struct bn_endpoint *ep;   /* the endpoint holding this end */
        struct bn_loop *loop;     /* = the endpoint's loop */
        struct bn_params params;  /* copy of the open parameters: this end's (see
                                   * bn_wire_end_params) */
        struct bn_wire_caps caps; /* this port's, set before port_attach */
        /* framework-private */
        bool tx_blocked;
        bool fd_added;
        int err;                 /* last -errno of send/recv, 0 if fine; after a recv error the
                                  * port is no longer polled (-EPIPE, -ECONNRESET, -ENOTCONN: the
                                  * peer left, logged as a warning, not an endpoint error, and
                                  * the class's port_link and the registry's on_down are told) */
        bn_wire_down_fn on_down; /* copied from the registry at open */
        void *on_down_arg;
        struct bn_wire_link link;       /* the link state last told to the device class */
        bool hello_owed;                /* our HELLO is not sent yet */
        bool hello_seen;                /* the peer's HELLO arrived and agreed */
        char hs_fail[160];              /* the handshake failed: why ("" if not) */
        struct bn_loop_work flush_work; /* cls->flush once per iteration */
        struct bn_loop_work rx_work;    /* bn_wire_port_kick: read in this iteration */
        /* quiesce and swap (bn_quiesce.c, bn_endpoint.h) */
        bool standby;       /* a Spike's next port during a swap: polled, messages delivered,
                             * the class not told yet (port_attach at the switch) */
        bool held;          /* quiesced: bn_wire_send accepts nothing (the class's txq waits) */
        bool fenced;        /* a Corm's newer port of a wire whose older port has not drained:
                             * not read until it has (or closed) */
        uint64_t fenced_us; /* when it was fenced (CLOCK_MONOTONIC), for the log */
        bool drain_sent;    /* our DRAIN went out */
        bool drained;       /* DRAINED: answered by the peer (the quiescing side), or by
                             * us (a Corm's port, which then no longer fences its twin) */
        struct bn_wire_region *regions; /* the peer's regions (bn_wire_region.c) */
};

/* ---- registry of wire types (one per daemon) ---------------------------- */

#define BN_WIRE_CLASSES_MAX 16

struct bn_wire_registry {
        struct bn_wire_env env; /* given to class_init; set it before adding */
        const struct bn_wire_class *cls[BN_WIRE_CLASSES_MAX];
        void *ctx[BN_WIRE_CLASSES_MAX];
        unsigned n;
        bn_wire_down_fn on_down; /* NULL: nobody to tell */
        void *on_down_arg;
};

void bn_wire_registry_init(struct bn_wire_registry *r);
/* Calls class_fini of each registered type. */
void bn_wire_registry_fini(struct bn_wire_registry *r);
/* -EEXIST for a name already there, -ENOSPC when full, -EINVAL for a class
 * without its mandatory callbacks or with caps.max_msg out of range, or
 * class_init's error. */
int bn_wire_registry_add(struct bn_wire_registry *r, const struct bn_wire_class *cls);
/* NULL when unknown. */
const struct bn_wire_class *bn_wire_registry_find(const struct bn_wire_registry *r,
                                                  const char *name, void **class_ctx);

/* ---- using ports (framework and controller) ----------------------------- */

/* Can a wire with caps (of type `type`) serve device class dc? 0, or
 * -EPROTONOSUPPORT with err naming the wire type, the class and what is
 * missing ("wire type 'vxlan' cannot carry device class 'vbd': it is not
 * ordered, not reliable (vbd needs ordered and reliable messages)"). Any
 * thread. */
int bn_wire_caps_check(const struct bn_wire_caps *caps, const char *type,
                       const struct bn_devclass *dc, char *err, size_t errlen);

/* Per-end parameters. A wire's options may be for both ends ("ring") or for
 * one end, prefixed "end0." or "end1." ("end0.addr"). The port of end `end`
 * gets the common ones, its own end's without the prefix (overriding a
 * common one of the same name) and the other end's prefixed "peer."
 * ("peer.addr"): what a wire type needs to reach the other host. Fills out
 * (initialised here); 0 or -errno (-EINVAL: an "end<N>." other than 0, 1). */
int bn_wire_end_params(const struct bn_params *all, unsigned end, struct bn_params *out, char *err,
                       size_t errlen);

/* Open end `end` of wire `wire` of type `type` on endpoint ep: allocates the
 * port, checks the type's caps against the class's needs, derives this
 * end's params (bn_wire_end_params), runs cls->open on ep's loop, checks
 * the port's caps, polls its fd there, attaches it to ep
 * (bn_endpoint_attach_port), sends the HELLO and calls the device class's
 * port_attach. Call from the main thread (not from ep's loop). -ENOENT
 * unknown type, -EBUSY when ep is a Spike that already has a port, -EINVAL
 * bad params, -EPROTONOSUPPORT a wire that cannot give what the class
 * needs. */
int bn_wire_port_open(const struct bn_wire_registry *r, const char *type, const char *wire,
                      unsigned end, struct bn_endpoint *ep, const struct bn_params *params,
                      struct bn_wire_port **out, char *err, size_t errlen);
/* The same for a Spike that already has a port, during a swap: the new
 * port is opened, polled and linked beside the old one as its standby
 * (messages from it are delivered, the class's port_attach waits for
 * bn_endpoint_swap to switch to it). -EBUSY when ep is not a Spike with
 * exactly one port. Main thread. */
int bn_wire_port_open_next(const struct bn_wire_registry *r, const char *type, const char *wire,
                           unsigned end, struct bn_endpoint *ep, const struct bn_params *params,
                           struct bn_wire_port **out, char *err, size_t errlen);
/* On the port's loop: class port_detach, detach from the endpoint, stop
 * polling, cls->close; then free. Call from the main thread. */
void bn_wire_port_close(struct bn_wire_port *port);

/* Send on a port, from port->loop's thread: calls cls->send, counts, and
 * marks the port blocked on a short send. Returns accepted count or -errno. */
int bn_wire_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n);
void bn_wire_port_stats(struct bn_wire_port *port, struct bn_wire_stats *st);
/* Main thread (not port->loop): the port's last send/recv error (port->err,
 * 0 if fine), asked on port->loop, which owns it. */
int bn_wire_port_error(struct bn_wire_port *port);
/* Is the link up (the wire's linked, no error, no failed handshake)?
 * From port->loop's thread. */
bool bn_wire_port_linked(struct bn_wire_port *port);
/* On port->loop: the wire has room again (a socket drained). If the port
 * was blocked, the class's port_writable is called (now, once). */
void bn_wire_port_writable(struct bn_wire_port *port);
/* On port->loop's thread: the port has messages to receive (or its linked
 * answer changed): the framework reads it as if fd(port) were readable,
 * once, after the callbacks of this loop iteration (deferred work), with no
 * system call. A wire whose two ends live in one process on one loop
 * rings the peer this way instead of a doorbell (see Run to completion
 * above); a port not read yet (fenced) is read when it is polled. */
void bn_wire_port_kick(struct bn_wire_port *port);
/* On port->loop: the wire's linked answer may have changed; tell the class
 * if the link state did. */
void bn_wire_port_link_update(struct bn_wire_port *port);
/* On port->loop, by a wire type without control messages: the peer said
 * (in the type's own protocol: nbd's NBD_CMD_DISC) that it sends nothing
 * more on port, and everything it sent was answered. If a newer port of
 * the same wire waits behind port's fence (a swap at a disk Corm), port
 * counts as drained and that one is read from now on; otherwise nothing
 * changes. Returns whether port now counts as drained. */
bool bn_wire_port_peer_drained(struct bn_wire_port *port);
/* On port->loop: the peer wants to send on port again after it drained
 * (an nbd client connecting anew: the swap was given up and the Spike
 * resumed its old port). false while a newer port of the wire is there (it
 * may already be read: refuse the peer); true otherwise, and port no
 * longer counts as drained. */
bool bn_wire_port_peer_back(struct bn_wire_port *port);
/* Main thread (not port->loop): a copy of the port's link state. */
int bn_wire_port_link(struct bn_wire_port *port, struct bn_wire_link *out);
/* Main thread: the link state of n ports at once (NULL entries are
 * skipped and left zeroed), one call to each of their loops rather than one
 * per port: thousands of wire ends cost a few round trips. */
int bn_wire_ports_link(struct bn_wire_port *const *ports, size_t n, struct bn_wire_link *out);
/* On port->loop: send a framework control message without hdr or data
 * (BN_MSG_CTL_DRAIN, BN_MSG_CTL_DRAINED). 1 sent, 0 no room (try again on
 * port_writable), -EOPNOTSUPP on a wire without control messages,
 * -errno when broken. */
int bn_wire_send_ctl(struct bn_wire_port *port, uint16_t type);

/* ---- regions ------------------------------------------------------------
 * A region is a large buffer (a frame buffer, a table) that a wire carries
 * once and that the class's messages then refer to by id and offset, so
 * that what changed goes again and nothing else: the display class sends
 * the rows of a frame that changed into the connector's region, then one
 * small message naming the region and the damaged rows.
 *
 * The sender writes bytes into region id of size size at offset
 * (bn_wire_region_write: one BN_MSG_CTL_REGION message, hdr struct
 * bn_wire_region_hdr, data the bytes, at most the port's max_msg). The
 * receiving framework keeps each region of the peer (memory of the port,
 * zeroed when made; a write with another size makes it again, zeroed),
 * checks every write against its size and the bounds below (a malformed
 * one is counted as a drop and ignored: the peer is untrusted), and never
 * hands region messages to the class; the class's own messages that follow
 * find the bytes written (the wire is ordered and reliable: caps.regions;
 * a class that sends regions says so in wire_needs.regions and is refused
 * any other wire). bn_wire_region_get gives the class a bounds-checked view.
 * Regions belong to the port, on its loop, and go with it. */
#define BN_WIRE_REGIONS_MAX     8u            /* ids 1..8 per port */
#define BN_WIRE_REGION_SIZE_MAX (64ull << 20) /* bytes of one region */

struct bn_wire_region_hdr { /* little-endian on the wire */
        uint32_t id;        /* 1..BN_WIRE_REGIONS_MAX */
        uint32_t flags;     /* 0 */
        uint64_t size;      /* the region's size, 1..BN_WIRE_REGION_SIZE_MAX */
        uint64_t offset;    /* of the bytes in data; offset + len <= size */
};

/* On port->loop: write len bytes (<= the port's caps.max_msg) at offset of
 * region id (size bytes). 1 sent, 0 no room (try again on port_writable),
 * -EOPNOTSUPP when the port's wire carries no regions, -EINVAL for an id,
 * size or range out of bounds, or the send's -errno. */
int bn_wire_region_write(struct bn_wire_port *port, uint32_t id, uint64_t size, uint64_t offset,
                         const void *data, uint32_t len);
/* On port->loop: the len bytes at offset of the peer's region id, or NULL
 * when there is no such region or the range is not inside it. *size (when
 * not NULL) gets the region's size. Valid until the next message of the
 * port is received. */
const uint8_t *bn_wire_region_get(struct bn_wire_port *port, uint32_t id, uint64_t offset,
                                  uint64_t len, uint64_t *size);

#endif
