/* bn_devclass.h: the device-class plug-in point. A device class ("vif",
 * "vbd", "test") is one struct bn_devclass of documented callbacks; it owns
 * only its protocol and its Corms. The framework owns xenbus, rings, event
 * channels, endpoints and wires.
 *
 * Adding a class: one folder devices/<name>/ whose meson.build builds the
 * class and ends with its ONE registration line
 *     devclasses += {'symbol' : 'bn_<name>_class', 'lib' : <its static_library>}
 * (devices/meson.build generates the table that bn_devices_register_all()
 * walks). See docs/adding-a-device-class.md.
 *
 * Life of a Spike (a guest's device), driven by bn_xenbus.h:
 *   spike_name optional, before the endpoint exists: the device's part of
 *              the Spike's name ("<host>/<vm>/<this>"), e.g. a disk's vdev
 *              "xvda" from the toolstack's back-end key; read back-end keys
 *              only (bn_xb_read_be). Return 0 with buf filled, or -errno
 *              for the default "<type><devid>" ("vif0", "vbd51712").
 *   probe      the device appeared in backend/<type>/<fe>/<devid>; the
 *              endpoint exists (DOWN); allocate state in ep->priv, read the
 *              toolstack's back-end keys, write the feature keys. Then the
 *              framework writes state InitWait.
 *   connect    the front-end is Initialised (or Connected): read its ring
 *              refs and event channels through the bn_xb_* helpers, map, bind,
 *              and start I/O on ep->loop. On success the framework writes
 *              Connected. On failure undo what was done (disconnect is not
 *              called) and return -errno; the framework reports the fatal
 *              error unless the class already did (bn_xb_fatal; the
 *              bn_xb_map_ring / bn_xb_bind_evtchn helpers do it themselves).
 *   disconnect the front-end closes, restarts (Initialising) or died, or the
 *              device goes away: stop I/O on ep->loop (bn_loop_call_wait),
 *              unbind, unmap. Called only after a successful connect. Must
 *              not block long, must not fail.
 *   remove     the device is gone: free what probe allocated (not ep->priv
 *              itself). Called once, after disconnect if connected.
 * probe, connect, disconnect and remove run on the main thread, one at a
 * time. The class may keep xenbus device pointers only between probe and
 * remove.
 *
 * Ownership (docs/architecture.md). The class's state in ep->priv has one
 * owning thread per piece: what the ep->loop callbacks (port_*, the ring's
 * event channel, timers) read or write belongs to ep->loop, and the main
 * thread touches it only inside a bn_loop_call_wait to ep->loop (e.g.
 * connect hands its mapped rings over and starts I/O in one such call,
 * disconnect stops it in another). Wire ports may attach before connect
 * and stay after disconnect, so port callbacks must not use connection
 * state unless the loop itself started it. remove runs after the
 * framework closed the Spike's port (no port callback runs after it
 * started) and must free what the loop used on the loop (a call_wait), so
 * that nothing the loop still holds is freed under it.
 *
 * Life of a Corm (the device-facing half), driven by the controller:
 *   corm_open  with params (validate them, reject unknown keys), on ep->loop
 *   corm_close on ep->loop
 *
 * Wire ports, both kinds, on ep->loop:
 *   port_attach / port_detach   a wire end was attached to / is leaving the
 *                               endpoint (a Spike has at most one)
 *   port_rx                     messages arrived from the wire: consume them
 *                               (write into the guest's ring, the TAP, the
 *                               disk); the framework releases them after the
 *                               call returns, so copy what must outlive it.
 *   port_writable               a port that refused messages has room again.
 *   port_link                   the wire's link to its peer went up or
 *                               down (a cross-process wire: the other
 *                               process joined, or died; the handshake
 *                               found a peer of another class or version),
 *                               with its MTU, capabilities and the reason
 *                               (struct bn_wire_link). While down nothing
 *                               arrives and sends are dropped; a port whose
 *                               peer died is replaced by the controller (it
 *                               closes it, port_detach, and opens a new one,
 *                               port_attach, a second later). Report the
 *                               link (a bridge Corm sets its TAP's carrier);
 *                               do not close the port. At port_attach the
 *                               link is port->link (bn_wire_port_linked).
 *   port_ctl                    a framework control message the class
 *                               acts on arrived (BN_MSG_CTL_DRAIN: stop
 *                               taking new requests, answer DRAINED with
 *                               bn_wire_send_ctl when none is in flight;
 *                               BN_MSG_CTL_DRAINED). NULL: the
 *                               framework answers a DRAIN with DRAINED
 *                               itself (nothing of the class to wait for).
 *   port_inflight               how many requests the class sent on port
 *                               are not answered yet: a quiesced Spike's
 *                               old port counts as drained only at 0 (on a
 *                               wire without control messages, e.g. nbd,
 *                               it is all the framework can wait for).
 *                               NULL: 0.
 *
 * Quiesce and hot-swap (bn_endpoint.h, docs/wires.md). A class whose
 * wire_needs say ordered (a disk) is drained at a swap: new requests wait
 * in its bn_txq (the old port accepts nothing), DRAIN follows the last
 * request on the old wire, and the new port is attached to the class
 * (port_attach, then port_writable) once DRAINED came back and
 * port_inflight is 0. Any other class (a NIC) is switched as soon as the
 * new wire is linked; the old port stays open a little while so that
 * frames in flight are still delivered (port_rx from either port), then is
 * closed (what it still held is counted in its stats). A Spike's port_rx
 * may therefore be called for the new port before its port_attach.
 *
 * Wires. wire_needs says what the class needs from a wire (a disk: ordered
 * and reliable); a wire that cannot give it is refused at connect, naming
 * both. wire_version is the version of the class's messages on a wire
 * (its message types, their hdr): the two ends' HELLOs must agree on the
 * class and this version; raise it when the messages change.
 * The Spike produces messages for its wire with bn_endpoint_send(); a Corm
 * with bn_wire_send() on the port the reply belongs to.
 */
#ifndef BN_DEVCLASS_H
#define BN_DEVCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bn_params.h"
#include "bn_wire.h"

struct bn_endpoint;
struct bn_wire_port;
struct bn_wire_msg;
struct bn_xb_dev;

#define BN_DEVCLASS_TYPES_MAX 4

/* What a Corm's mirror (swap-corm's copy, corm_mirror below) has done. */
enum { BN_CORM_MIRROR_START = 1, BN_CORM_MIRROR_STATUS, BN_CORM_MIRROR_STOP };
struct bn_corm_mirror_st {
        uint64_t rate;   /* START: copy rate bound, bytes/s (0: none) */
        uint64_t copied; /* bytes copied so far */
        uint64_t total;  /* bytes to copy */
        uint64_t waited; /* writes that waited for a chunk being copied */
        int active;      /* 1 while mirroring */
        int error;       /* the new Corm failed (-errno): the mirror stopped */
};

struct bn_devclass {
        const char *name; /* "vif", "vbd", "test": also the Corm class name */
        /* xenstore back-end types served (backend/<type>/), NULL-terminated;
         * may be empty ({NULL}) for a Corm-only class. */
        const char *backend_types[BN_DEVCLASS_TYPES_MAX + 1];
        /* Largest ring-page-order the Spike accepts (0: one page). */
        unsigned max_ring_page_order;
        /* Largest number of queues (multi-queue-max-queues), >= 1. */
        unsigned max_queues;
        /* A Corm of this class serves one Spike at a time (a disk): the
         * controller runs a Spike on the loop of the Corm it is wired to, so
         * that a request crosses no thread (a bridge, shared by many, says
         * false: its Spikes spread over the workers). */
        bool corm_colocate;

        /* What the class needs from a wire, and its wire protocol version
         * (0 is taken as 1). */
        struct bn_wire_needs wire_needs;
        unsigned wire_version;

        size_t spike_priv_size; /* bytes of ep->priv for a Spike */
        size_t corm_priv_size;  /* bytes of ep->priv for a Corm */

        /* ---- Spike (all optional except probe and connect when
         * backend_types is not empty). Return 0 or -errno. ---- */
        int (*spike_name)(struct bn_xb_dev *dev, char *buf, size_t len);
        int (*probe)(struct bn_xb_dev *dev, struct bn_endpoint *ep);
        int (*connect)(struct bn_xb_dev *dev, struct bn_endpoint *ep);
        void (*disconnect)(struct bn_xb_dev *dev, struct bn_endpoint *ep);
        void (*remove)(struct bn_xb_dev *dev, struct bn_endpoint *ep);

        /* ---- Corm (optional: a class without corm_open has no Corms) ---- */
        /* Must validate params and fill err ("bridge 'br9' does not exist"). */
        int (*corm_open)(struct bn_endpoint *ep, const struct bn_params *params, char *err,
                         size_t errlen);
        void (*corm_close)(struct bn_endpoint *ep);

        /* ---- wire ports, Spike and Corm (optional) ---- */
        int (*port_attach)(struct bn_endpoint *ep, struct bn_wire_port *port);
        void (*port_detach)(struct bn_endpoint *ep, struct bn_wire_port *port);
        void (*port_rx)(struct bn_endpoint *ep, struct bn_wire_port *port, struct bn_wire_msg *msgs,
                        unsigned n);
        void (*port_writable)(struct bn_endpoint *ep, struct bn_wire_port *port);
        void (*port_link)(struct bn_endpoint *ep, struct bn_wire_port *port,
                          const struct bn_wire_link *link);
        void (*port_ctl)(struct bn_endpoint *ep, struct bn_wire_port *port, uint16_t type);
        unsigned (*port_inflight)(struct bn_endpoint *ep, struct bn_wire_port *port);

        /* Optional: check Corm params as corm_open would (unknown keys,
         * types, ranges), opening nothing; any thread. The controller runs
         * it for diff and apply before the desired state changes, so what
         * diff accepts apply does. corm_open must still validate. */
        int (*corm_check)(const struct bn_params *params, char *err, size_t errlen);

        /* Optional, Corm, on ep->loop: an image of what the Corm shows, for
         * `bananactl snapshot` (a display: connector `index`'s last frame)
         * in format "png" or "ppm". *data is malloc'ed; the caller frees
         * it. -ENOENT when there is nothing to show yet, -ENOTSUP for
         * another format; err says why. */
        int (*snapshot)(struct bn_endpoint *ep, unsigned index, const char *format, void **data,
                        size_t *len, char *err, size_t errlen);

        /* Optional, Corm, on ep->loop: `bananactl swap-corm`'s copy (a disk
         * Corm). BN_CORM_MIRROR_START: go on serving, and also write every
         * write to target (a path or an nbd:// URI: the new Corm), while
         * copying the device to it in the background (st->rate: bytes/s, 0
         * none); refused naming both when target is smaller or read-only.
         * BN_CORM_MIRROR_STATUS: fill st. BN_CORM_MIRROR_STOP: what is in
         * flight completes, target is closed, the Corm goes on alone.
         * 0 or -errno with err. */
        int (*corm_mirror)(struct bn_endpoint *ep, int verb, const char *target,
                           struct bn_corm_mirror_st *st, char *err, size_t errlen);
};

/* ---- registry of device classes (one per daemon) ---------------------- */

#define BN_DEVCLASSES_MAX 16

struct bn_devclass_registry {
        const struct bn_devclass *cls[BN_DEVCLASSES_MAX];
        unsigned n;
};

void bn_devclass_registry_init(struct bn_devclass_registry *r);
/* -EEXIST (same name or a back-end type already served), -ENOSPC, -EINVAL
 * (missing mandatory callbacks). */
int bn_devclass_register(struct bn_devclass_registry *r, const struct bn_devclass *cls);
const struct bn_devclass *bn_devclass_find(const struct bn_devclass_registry *r, const char *name);
const struct bn_devclass *bn_devclass_find_backend(const struct bn_devclass_registry *r,
                                                   const char *backend_type);

/* Implemented by the generated table in devices/ (devices_dep): registers
 * every class built into this binary. */
int bn_devices_register_all(struct bn_devclass_registry *r);

#endif
