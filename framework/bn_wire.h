/* bn_wire.h: the wire interface, the plug-in point for wire types (shm,
 * vxlan, vpn, nbd), and the generic message both device classes carry.
 *
 * A wire joins two endpoints of the same device class. Each endpoint holds
 * one END of it, a struct bn_wire_port; a wire type implements struct
 * bn_wire_class, which creates or joins one end (open), moves batches of
 * messages (send / recv / release) and reports counters (stats). Wire types
 * are registered by name in a per-daemon struct bn_wire_registry.
 *
 * Threads. A port is served by exactly one loop, its endpoint's loop
 * (port->loop, a worker thread), which owns it: open and close run on that
 * loop's thread (the framework arranges it with bn_loop_call_wait), and the
 * port joins and leaves the endpoint's port list there, in the same call
 * (so a send on the loop never sees a closed port or a list being
 * changed); send, recv, release and stats are only called on it. The main
 * thread (the controller) holds the port pointer between open and close
 * but reads it only through calls queued to port->loop. A wire type's
 * class_ctx is shared by the ports of every loop: it must lock what it
 * keeps there. Callbacks must not block: no sleeping,
 * no blocking I/O, no waiting for the peer. Connecting to a remote peer
 * (TCP, VPN) happens in the background; until then send accepts 0 messages.
 *
 * Readiness. The framework polls fd(port) for EPOLLIN on port->loop. When it
 * is readable the framework calls recv until it returns 0, hands the
 * messages to the endpoint's class (struct bn_devclass.port_rx) and then
 * calls release. A short send (fewer accepted than offered) marks the port
 * blocked; the wire must then make fd readable once space frees up (e.g. the
 * peer rings a doorbell after consuming from a full ring), after which the
 * framework calls the class's port_writable. Classes keep what a wire
 * refused in the framework's retry queue (bn_txq.h), in order.
 *
 * Batching. A wire class with a flush callback may keep what send accepted
 * unpublished (no doorbell, no system call) until flush: the framework
 * calls flush once per loop iteration after the iteration's last send on
 * the port (deferred work of port->loop), before closing the port, and
 * right after send when called outside the port's loop thread. Backpressure is normal; a wire
 * never drops silently: it either refuses a message (send returns fewer) or
 * counts the drop in stats with its reason.
 */
#ifndef BN_WIRE_H
#define BN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bn_loop.h"
#include "bn_params.h"

struct bn_endpoint;
struct bn_loop;

#define BN_WIRE_HDR_MAX 64

/* One message on a wire. type and hdr are defined by the device class; the
 * wire carries them opaquely and intact:
 *  - net ("vif"): type BN_MSG_NET_FRAME, hdr = a struct virtio_net_hdr
 *    (GSO / checksum metadata, hdr_len 10 or 12), data = the Ethernet frame.
 *  - blk ("vbd"): type = request / response, hdr = a request header (op,
 *    sector, id, status), data = the payload of a write request or a read
 *    response (len 0 otherwise).
 *  - test: type BN_MSG_TEST_ECHO, hdr = the echo number, no data.
 * type 0 is invalid. Types 1..0xefff belong to the class; 0xf000..0xffff are
 * reserved for the framework (control messages of wires, e.g. quiesce).
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

/* Framework-reserved message types. */
#define BN_MSG_RESERVED_FIRST 0xf000u

/* Counters of one port (one end). Drops are counted by reason. */
struct bn_wire_stats {
        uint64_t msgs_out, bytes_out; /* accepted by send */
        uint64_t msgs_in, bytes_in;   /* returned by recv */
        uint64_t drop_full;           /* no room (peer slow), dropped by the wire */
        uint64_t drop_too_big;        /* larger than the wire carries */
        uint64_t drop_malformed;      /* bad message from the peer / network */
        uint64_t drop_down;           /* peer absent or link down */
        uint64_t drop_other;
};

struct bn_wire_port;

/* A wire type. Fields marked optional may be NULL. */
struct bn_wire_class {
        const char *name; /* "shm", "vxlan", "vpn", "nbd" */
        size_t priv_size; /* bytes of port->priv, zeroed before open */

        /* Optional. Called once when registered (bn_wire_registry_add) to make
         * the per-daemon state of this wire type (e.g. the table of shm wires
         * in this process, a shared UDP socket); stored in port->class_ctx.
         * Runs on the registering (main) thread. */
        int (*class_init)(void **class_ctx);
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
};

struct bn_wire_port;
/* Told (on the port's loop, any thread) that a port's peer has gone, after
 * the device class's port_link(false): the controller replaces the port. */
typedef void (*bn_wire_down_fn)(void *arg, struct bn_wire_port *port);

/* One end of a wire, created by bn_wire_port_open(). The wire class may read
 * every field and owns priv; the framework owns the rest. */
struct bn_wire_port {
        const struct bn_wire_class *cls;
        void *class_ctx;         /* from cls->class_init, or NULL */
        void *priv;              /* cls->priv_size bytes */
        char wire[256];          /* the wire's name, e.g. "hostA/vm1/vif0--hostB/br0" */
        unsigned end;            /* 0 or 1 */
        struct bn_endpoint *ep;  /* the endpoint holding this end */
        struct bn_loop *loop;    /* = the endpoint's loop */
        struct bn_params params; /* copy of the open parameters */
        /* framework-private */
        bool tx_blocked;
        bool fd_added;
        int err;                 /* last -errno of send/recv, 0 if fine; after a recv error the
                                  * port is no longer polled (-EPIPE, -ECONNRESET, -ENOTCONN: the
                                  * peer left, logged as a warning, not an endpoint error, and
                                  * the class's port_link and the registry's on_down are told) */
        bn_wire_down_fn on_down; /* copied from the registry at open */
        void *on_down_arg;
        bool link_up;                   /* the link state last told to the device class */
        struct bn_loop_work flush_work; /* cls->flush once per iteration */
};

/* ---- registry of wire types (one per daemon) ---------------------------- */

#define BN_WIRE_CLASSES_MAX 16

struct bn_wire_registry {
        const struct bn_wire_class *cls[BN_WIRE_CLASSES_MAX];
        void *ctx[BN_WIRE_CLASSES_MAX];
        unsigned n;
        bn_wire_down_fn on_down; /* NULL: nobody to tell */
        void *on_down_arg;
};

void bn_wire_registry_init(struct bn_wire_registry *r);
/* Calls class_fini of each registered type. */
void bn_wire_registry_fini(struct bn_wire_registry *r);
/* -EEXIST for a name already there, -ENOSPC when full, or class_init's error. */
int bn_wire_registry_add(struct bn_wire_registry *r, const struct bn_wire_class *cls);
/* NULL when unknown. */
const struct bn_wire_class *bn_wire_registry_find(const struct bn_wire_registry *r,
                                                  const char *name, void **class_ctx);

/* ---- using ports (framework and controller) ----------------------------- */

/* Open end `end` of wire `wire` of type `type` on endpoint ep: allocates the
 * port, runs cls->open on ep's loop, polls its fd there, attaches it to ep
 * (bn_endpoint_attach_port) and calls the device class's port_attach.
 * Call from the main thread (not from ep's loop). -ENOENT unknown type,
 * -EBUSY when ep is a Spike that already has a port, -EINVAL bad params. */
int bn_wire_port_open(const struct bn_wire_registry *r, const char *type, const char *wire,
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
/* Is the port's peer there (cls->linked; true when the class cannot say)?
 * From port->loop's thread. */
bool bn_wire_port_linked(struct bn_wire_port *port);

#endif
