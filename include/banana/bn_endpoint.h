/* bn_endpoint.h: endpoints (the named attachment points of Spikes and
 * Corms), their names, and the per-daemon registry of endpoints.
 *
 * Names are hierarchical and rooted at the endpoint's home host:
 * "hostA/vm7/vif0", "hostB/br0", "hostB/disk/images/vm7.raw". A name is 1..
 * BN_NAME_MAX-1 bytes of components separated by '/', each component 1..
 * BN_NAME_COMPONENT_MAX-1 bytes of [A-Za-z0-9._:-], at least two components
 * (host and something), no empty component (no leading, trailing or double
 * '/'), and no component "." or "..".
 *
 * A Spike endpoint (created by the xenbus back-end for a guest device) holds
 * at most one wire port; a Corm endpoint (created by the controller) holds
 * any number, one per wire end, and multiplexes its device among them.
 *
 * Threads (the ownership rule, docs/architecture.md). Each piece of an
 * endpoint's state has one owning thread:
 *  - the registry, the endpoint's existence (new, add, remove, free) and
 *    params: the main thread (the daemon's loop);
 *  - ports / nports, priv (the class's state) and everything the class's
 *    callbacks use: ep->loop, the worker serving its I/O. The main thread
 *    reaches them only through a call queued to ep->loop
 *    (bn_loop_call_wait): bn_wire_port_open / close attach and detach ports
 *    there, bn_endpoint_close_ports / has_ports / holds_port ask there;
 *  - state and the error message: a mutex (set and read from any thread);
 *  - counters: atomics, readable from any thread.
 * Teardown runs on the owner: the ports are closed on ep->loop (after which
 * no wire callback of the endpoint runs), then the class frees its state
 * (on ep->loop for what its callbacks used), then the main thread frees
 * the endpoint.
 */
#ifndef BN_ENDPOINT_H
#define BN_ENDPOINT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bn_params.h"

struct bn_devclass;
struct bn_loop;
struct bn_wire_port;
struct bn_wire_msg;
struct bn_xb_dev;
struct bn_ep_swap;

#define BN_NAME_MAX           256
#define BN_NAME_COMPONENT_MAX 64

/* 0, or -EINVAL with err saying why ("empty component at offset 6",
 * "character ' ' not allowed in component 'a b'", "name longer than 255"). */
int bn_name_validate(const char *name, char *err, size_t errlen);
/* Copy the host part (first component) of a valid name; -EINVAL/-ENAMETOOLONG. */
int bn_name_host(const char *name, char *host, size_t len);
/* Make a component from arbitrary text (a VM name): bytes outside
 * [A-Za-z0-9._:-] become '_', truncated to BN_NAME_COMPONENT_MAX-1, "." and
 * ".." and "" become "_". */
void bn_name_sanitize_component(const char *in, char *out, size_t len);

enum bn_ep_kind { BN_EP_SPIKE, BN_EP_CORM };

enum bn_ep_state {
        BN_EP_DOWN,      /* created, device not ready (Spike: front-end not connected) */
        BN_EP_READY,     /* device ready, no wire */
        BN_EP_CONNECTED, /* device ready and at least one wire port attached */
        BN_EP_ERROR,     /* failed; error message says why */
};
const char *bn_ep_state_name(enum bn_ep_state s);
const char *bn_ep_kind_name(enum bn_ep_kind k);

struct bn_ep_counters {
        _Atomic uint64_t msgs_in, bytes_in;   /* from the wire(s) to the device */
        _Atomic uint64_t msgs_out, bytes_out; /* from the device to the wire(s) */
        _Atomic uint64_t drops;               /* no wire, wire refused, bad message */
        _Atomic uint64_t errors;
};

struct bn_endpoint {
        char name[BN_NAME_MAX];
        enum bn_ep_kind kind;
        const struct bn_devclass *cls;
        struct bn_loop *loop;    /* worker loop serving its I/O */
        void *priv;              /* class state: spike_priv_size / corm_priv_size bytes */
        struct bn_xb_dev *xbdev; /* Spike: its xenbus device; Corm: NULL */
        struct bn_params params; /* Corm: open parameters */
        /* Spike: its incarnation. A guest's Spike keeps its name when the
         * guest moves to another host; the epoch (from bn_xenbus_config's
         * name_for, 0 without one) tells the destination's incarnation from
         * the source's. Set before the endpoint is registered, then read-only. */
        uint32_t epoch;

        struct bn_wire_port **ports; /* attached wire ports (owned by loop) */
        unsigned nports, ports_cap;

        struct bn_ep_counters counters;
        struct bn_ep_swap *swap; /* a swap in progress (owned by loop), NULL: none */

        pthread_mutex_t lock; /* protects state and error */
        enum bn_ep_state state;
        char error[256];

        struct bn_endpoint *next; /* registry list (registry-private) */
};

/* Allocate an endpoint (state DOWN) with priv_size zeroed bytes of priv.
 * Validates name. Not yet in a registry. */
int bn_endpoint_new(struct bn_endpoint **out, const char *name, enum bn_ep_kind kind,
                    const struct bn_devclass *cls, struct bn_loop *loop, size_t priv_size,
                    char *err, size_t errlen);
/* Free an endpoint with no ports, not in a registry. */
void bn_endpoint_free(struct bn_endpoint *ep);

/* Any thread. set_error also logs it (error level) with the endpoint name. */
void bn_endpoint_set_state(struct bn_endpoint *ep, enum bn_ep_state st);
void bn_endpoint_set_error(struct bn_endpoint *ep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Copy state and error message (msg may be NULL). */
enum bn_ep_state bn_endpoint_get_state(struct bn_endpoint *ep, char *msg, size_t len);

/* On ep->loop only; used by bn_wire_port_open/close. -EBUSY for a second
 * port on a Spike. */
int bn_endpoint_attach_port(struct bn_endpoint *ep, struct bn_wire_port *port);
void bn_endpoint_detach_port(struct bn_endpoint *ep, struct bn_wire_port *port);

/* Main thread (not ep->loop's callbacks): each asks ep->loop, the owner of
 * the port list. close_ports closes every port of ep (bn_wire_port_close);
 * has_ports: at least one attached; holds_port: port is still attached
 * (the framework may have closed it, e.g. when the device went away). */
void bn_endpoint_close_ports(struct bn_endpoint *ep);
bool bn_endpoint_has_ports(struct bn_endpoint *ep);
bool bn_endpoint_holds_port(struct bn_endpoint *ep, const struct bn_wire_port *port);

/* On ep->loop: send messages to the endpoint's wire (a Spike's one port;
 * for a Corm, the first port — Corms normally use bn_wire_send on a chosen
 * port). Returns accepted count; with no port, -ENOTCONN and the messages
 * are counted as drops. */
int bn_endpoint_send(struct bn_endpoint *ep, const struct bn_wire_msg *msgs, unsigned n);
/* On ep->loop: the port bn_endpoint_send uses, NULL when there is none. */
struct bn_wire_port *bn_endpoint_port(struct bn_endpoint *ep);

/* ---- quiesce and make-before-break (bn_quiesce.c) ---------------------
 *
 * Quiesce (on ep->loop): new sends on port wait (bn_wire_send accepts
 * nothing, so each class's bn_txq keeps them, in order, and the class
 * takes no new request off its ring); when the class needs ordered
 * delivery (wire_needs.ordered: a disk) a DRAIN follows the last message
 * already sent on port, and port counts as drained once the peer answered
 * DRAINED (on a wire with control messages) and the class's port_inflight
 * says 0; a NIC's port is drained at once (frames already sent are
 * delivered by the wire or counted in its stats). Resume (on ep->loop):
 * port becomes the one bn_endpoint_send uses (first in the list), sends
 * flow again and the class's port_writable is called. Both return 0 or
 * -errno (-ENOENT: port is not ep's). */
int bn_endpoint_quiesce(struct bn_endpoint *ep, struct bn_wire_port *port);
bool bn_endpoint_drained(struct bn_endpoint *ep, struct bn_wire_port *port);
int bn_endpoint_resume(struct bn_endpoint *ep, struct bn_wire_port *port);

/* The outcome of a swap, handed to done on the notify loop (the callee
 * frees it with free()). ep, old and next are to be compared only: the
 * caller may have closed them since (ask bn_endpoint_holds_port). */
struct bn_swap_result;
typedef void (*bn_swap_done_fn)(struct bn_swap_result *res);
struct bn_swap_result {
        struct bn_endpoint *ep;
        struct bn_wire_port *old, *next;
        void *arg;
        bn_swap_done_fn done;
        uint64_t wait_us;  /* quiesce to resume: the longest a new request waited */
        uint64_t total_us; /* from bn_endpoint_swap to done */
        bool timed_out;    /* the old port did not drain in time: its unanswered
                            * requests went again on next (the class replays them) */
        bool aborted;      /* next was closed first, or never linked: the old port
                            * carries on */
};

/* Main thread: make before break on a Spike. next was opened with
 * bn_wire_port_open_next (standby beside old). On ep->loop: once next is
 * linked, old is quiesced; once old is drained (or timeout_ms after the
 * quiesce), next is attached to the class and resumed; a NIC then keeps
 * old a little (BN_SWAP_LINGER_MS) so that frames in flight still arrive;
 * then done(res) is queued to notify, and the caller closes old. If next
 * never links, the swap gives up after timeout_ms without quiescing
 * (aborted; the caller closes next). -EBUSY: a swap is in progress. */
#define BN_SWAP_LINGER_MS 100u
int bn_endpoint_swap(struct bn_endpoint *ep, struct bn_wire_port *old, struct bn_wire_port *next,
                     unsigned timeout_ms, struct bn_loop *notify, bn_swap_done_fn done, void *arg);

/* ---- registry (one per daemon) -------------------------------------- */

/* Called on the main thread after an endpoint was added (added=true) or
 * before it is removed (added=false); e.g. the controller re-attaches wires
 * to a Spike whose guest came back. */
typedef void (*bn_ep_watch_fn)(void *arg, struct bn_endpoint *ep, bool added);

struct bn_ep_registry {
        struct bn_endpoint *head;
        unsigned count;
        bn_ep_watch_fn watch;
        void *watch_arg;
};

void bn_ep_registry_init(struct bn_ep_registry *r);
/* The registry must be empty (endpoints removed by their owners). */
void bn_ep_registry_fini(struct bn_ep_registry *r);
void bn_ep_registry_set_watch(struct bn_ep_registry *r, bn_ep_watch_fn fn, void *arg);
/* -EEXIST when the name is taken. */
int bn_ep_registry_add(struct bn_ep_registry *r, struct bn_endpoint *ep);
/* Unlink (does not free). -ENOENT when absent. */
int bn_ep_registry_remove(struct bn_ep_registry *r, struct bn_endpoint *ep);
struct bn_endpoint *bn_ep_registry_find(const struct bn_ep_registry *r, const char *name);
/* Call fn for each endpoint in insertion order; stops early and returns fn's
 * value when non-zero. fn must not add or remove endpoints. */
int bn_ep_registry_foreach(const struct bn_ep_registry *r,
                           int (*fn)(struct bn_endpoint *ep, void *arg), void *arg);

/* ---- Corms ------------------------------------------------------------ */

/* Create a Corm of class cls named name on loop, run cls->corm_open on that
 * loop with params, set READY and add it to r. err says what failed
 * ("corm hostB/br0 (class vif): bridge 'br9' does not exist"). Main thread. */
int bn_corm_create(struct bn_ep_registry *r, const struct bn_devclass *cls, const char *name,
                   struct bn_loop *loop, const struct bn_params *params, struct bn_endpoint **out,
                   char *err, size_t errlen);
/* Close its ports, run corm_close on its loop, remove from r, free. */
void bn_corm_destroy(struct bn_ep_registry *r, struct bn_endpoint *ep);

#endif
