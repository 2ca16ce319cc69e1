/* bn_xenbus.h: the xenbus back-end state machine shared by every device
 * class, and the helpers a class uses to read its front-end's keys, map its
 * rings and bind its event channels.
 *
 * bn_xenbus watches backend/<type>/ under this domain's path (from
 * xs_get_domain_path) for each type a registered class serves, with real
 * libxenstore (bn_hv_xs_open) whose watches are dispatched from the main
 * loop (xs_fileno). For each device <type>/<fe-domid>/<devid> it:
 *  - reads and validates `frontend` and `frontend-id` (the front-end path
 *    must be /local/domain/<frontend-id>/device/<type>/<devid>; a guest can
 *    lie), creates the Spike endpoint "<host>/<vm name>/<type><devid>"
 *    (vm name from /local/domain/<fe>/name, else "dom<fe>"; a guest that
 *    migrated here keeps the name rooted at its home: cfg.name_for), calls the
 *    class's probe and writes state InitWait (2);
 *  - follows the front-end's `state` with a watch: Initialised (3) or
 *    Connected (4) → class connect → back-end Connected (4); Closing (5) /
 *    Closed (6) → disconnect → Closing then Closed; Initialising (1) or
 *    InitWait after having been connected (guest reboot, kexec) →
 *    disconnect, back to InitWait;
 *  - removes the device when the back-end directory disappears, `online`
 *    becomes 0 and the front-end is closed, the front-end's state node
 *    vanishes, or its domain is released (@releaseDomain): disconnect,
 *    Closed when the directory still exists, remove, endpoint freed;
 *  - reports a fatal error as Xen does: error/<backend path>/error under
 *    this domain's path (e.g. /local/domain/0/error/backend/test/1/0/error)
 *    holds "<errno> <message>", and the back-end goes to Closing.
 * A misbehaving or dying front-end affects its own device only.
 *
 * Threads: everything here runs on the main loop's thread, except
 * bn_xb_fail() which any thread may call.
 */
#ifndef BN_XENBUS_H
#define BN_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xenbus.h>

struct bn_loop;
struct bn_hv;
struct bn_gnt;
struct bn_evtchn;
struct bn_workers;
struct bn_devclass;
struct bn_devclass_registry;
struct bn_ep_registry;
struct bn_endpoint;
struct bn_xenbus;
struct bn_xb_dev;

struct bn_xenbus_config {
        struct bn_loop *loop; /* main loop */
        struct bn_hv *hv;
        struct bn_workers *workers; /* Spike I/O loops (bn_workers_pick) */
        struct bn_ep_registry *eps; /* Spike endpoints are added here */
        const char *host;           /* first component of endpoint names */
        const char *run_dir;        /* ring journals (tmpfs); NULL: none */
        /* Optional: the loop a new Spike should run on (the controller puts
         * a Spike beside the Corm it will be wired to when that Corm's class
         * asks for it); NULL, or a NULL answer: the next worker in turn. */
        struct bn_loop *(*loop_for)(void *arg, const char *spike_name);
        void *loop_for_arg;
        /* Optional: the name of a new Spike of VM vm (its name in xenstore, a
         * clean name component) for device part dev ("vif0", a disk's vdev).
         * Writes the full name to name (len bytes) and the incarnation to
         * *epoch and returns 0 when the Spike belongs to a guest whose home
         * is elsewhere (it migrated here: docs/migration.md), so that it keeps
         * its name rooted at its home; any other answer, or NULL: the name is
         * "<host>/<vm>/<dev>", epoch 0. Main thread. */
        int (*name_for)(void *arg, const char *vm, const char *dev, char *name, size_t len,
                        uint32_t *epoch);
        void *name_for_arg;
};

/* Connect to xenstore and start watching @releaseDomain. Main thread. */
int bn_xenbus_start(struct bn_xenbus **out, const struct bn_xenbus_config *cfg);
/* Serve every back-end type of cls (watch backend/<type>/; devices already
 * there are picked up). -EEXIST when a type is already served. */
int bn_xenbus_serve(struct bn_xenbus *xb, const struct bn_devclass *cls);
/* Close every device the Xen way (disconnect, Closing, Closed), remove them,
 * unwatch, disconnect from xenstore, free. */
void bn_xenbus_stop(struct bn_xenbus *xb);
/* Let go of every device without telling the front-ends, for a restart:
 * disconnect (drain, unmap the rings, unbind the event channels), remove
 * the endpoints, and leave each back-end's state as it is (Connected stays
 * Connected), then unwatch, disconnect from xenstore, free. A bananad that
 * starts later finds the back-ends Connected and re-attaches to the rings
 * the front-ends still publish; requests it had not answered are read
 * again from the ring (bn_xb_ring_resume_index). */
void bn_xenbus_detach(struct bn_xenbus *xb);
/* Set (or clear, fn NULL) cfg.loop_for after start (main thread). */
void bn_xenbus_set_loop_for(struct bn_xenbus *xb, struct bn_loop *(*fn)(void *, const char *),
                            void *arg);
/* Set (or clear, fn NULL) cfg.name_for after start (main thread). */
void bn_xenbus_set_name_for(struct bn_xenbus *xb,
                            int (*fn)(void *, const char *, const char *, char *, size_t,
                                      uint32_t *),
                            void *arg);
/* Number of devices currently known (any state). */
unsigned bn_xenbus_count(const struct bn_xenbus *xb);

/* ---- a device, for its class ------------------------------------------- */

const char *bn_xb_dev_type(const struct bn_xb_dev *dev); /* "vif" */
uint32_t bn_xb_dev_frontend_id(const struct bn_xb_dev *dev);
uint32_t bn_xb_dev_devid(const struct bn_xb_dev *dev);
const char *bn_xb_dev_backend_path(const struct bn_xb_dev *dev); /* absolute */
const char *bn_xb_dev_frontend_path(const struct bn_xb_dev *dev);
struct bn_endpoint *bn_xb_dev_endpoint(const struct bn_xb_dev *dev);
struct bn_hv *bn_xb_dev_hv(const struct bn_xb_dev *dev);
/* Grant and event-channel handles of this device, opened before connect and
 * closed after disconnect. Use them on the main thread during connect /
 * disconnect and on ep->loop in between (hand over with bn_loop_call*). */
struct bn_gnt *bn_xb_dev_gnt(const struct bn_xb_dev *dev);
struct bn_evtchn *bn_xb_dev_evtchn(const struct bn_xb_dev *dev);
/* The back-end state last written. */
enum xenbus_state bn_xb_dev_state(const struct bn_xb_dev *dev);

/* Write <backend path>/<key> = printf(fmt, ...). 0 or -errno. */
int bn_xb_write(struct bn_xb_dev *dev, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Read the back-end's own key (written by the toolstack, e.g. "mac",
 * "params") into buf, NUL-terminated. -ENOENT absent, -E2BIG too long. */
int bn_xb_read_be(struct bn_xb_dev *dev, const char *key, char *buf, size_t len);
/* Read <frontend path>/<key> into buf. -ENOENT absent, -E2BIG too long. */
int bn_xb_read_fe(struct bn_xb_dev *dev, const char *key, char *buf, size_t len);
/* Read an unsigned decimal front-end key within [min, max]. -ENOENT absent
 * (*out = def), -EINVAL not a number or out of range (logged). */
int bn_xb_read_fe_uint(struct bn_xb_dev *dev, const char *key, uint64_t min, uint64_t max,
                       uint64_t def, uint64_t *out);

/* Number of queues the front-end asked for: multi-queue-num-queues (absent:
 * 1), -EINVAL when 0 or above the class's max_queues. */
int bn_xb_num_queues(struct bn_xb_dev *dev, unsigned *n);

/* A mapped ring of one queue. */
struct bn_xb_ring {
        void *addr;      /* npages contiguous pages */
        unsigned npages; /* 1 << order */
        unsigned order;
};

/* Read the ring refs of one queue and map them writable with the device's
 * grant handle. queue < 0: keys directly in the front-end dir (single
 * queue); else in queue-<queue>/ (multi-queue). name is the key prefix
 * ("ring-ref", "tx-ring-ref", "rx-ring-ref"). With ring-page-order present
 * (bounded by the class's max_ring_page_order) the refs are <name>0..N-1,
 * else the single <name>. Errors are -errno and are reported with
 * bn_xb_fatal by the helper (with the key and value at fault). */
int bn_xb_map_ring(struct bn_xb_dev *dev, int queue, const char *name, struct bn_xb_ring *ring);
/* The same at any directory below the front-end's: sub is relative to it
 * ("0" for displif's connector 0, whose keys are 0/req-ring-ref and
 * 0/evt-ring-ref), NULL for the front-end directory itself. */
int bn_xb_map_ring_at(struct bn_xb_dev *dev, const char *sub, const char *name,
                      struct bn_xb_ring *ring);
void bn_xb_unmap_ring(struct bn_xb_dev *dev, struct bn_xb_ring *ring);

/* Read event channel key `name` ("event-channel", "event-channel-tx") of a
 * queue and bind it on the device's evtchn handle; *local_port gets the
 * local port. Errors reported with bn_xb_fatal as above. */
int bn_xb_bind_evtchn(struct bn_xb_dev *dev, int queue, const char *name, uint32_t *local_port);
/* The same at a directory below the front-end's (see bn_xb_map_ring_at). */
int bn_xb_bind_evtchn_at(struct bn_xb_dev *dev, const char *sub, const char *name,
                         uint32_t *local_port);
void bn_xb_unbind_evtchn(struct bn_xb_dev *dev, uint32_t local_port);

/* ---- ring journals ------------------------------------------------------
 * A back-end that answers requests out of order (blkif) cannot take a ring
 * back after a crash from the shared indexes alone: it must know which
 * requests it had taken and not answered, and which answers it had written
 * but not pushed. A ring journal is memory that outlives a crash of
 * bananad (not a reboot): a file <run_dir>/<type>-<domid>-<devid>.journal
 * on tmpfs, mapped MAP_SHARED, in which the class records that as it goes
 * (stores to it survive the process). The framework keeps it while the
 * device lives across restarts and removes it when the device is closed.
 *
 * bn_xb_journal_map maps size bytes (page-aligned, from the class's
 * connect). key names the connection (e.g. a hash of the front-end's
 * event channels): *resumed is true only when this connect takes back a
 * front-end that stayed Connected (a restart) and the file holds a journal
 * of that size and key; otherwise the area is zeroed. -ENOTSUP when the
 * daemon has no run_dir; other -errno when the file cannot be made. */
int bn_xb_journal_map(struct bn_xb_dev *dev, size_t size, uint64_t key, void **addr, bool *resumed);
/* A key for bn_xb_journal_map naming this connection: a hash of the
 * front-end's values of keys[0..] (NULL-terminated, e.g. "event-channel",
 * "ring-ref"), read in queue-<i>/ for each of nq queues when nq > 1. A
 * handshake publishes new ones. */
uint64_t bn_xb_journal_key(struct bn_xb_dev *dev, unsigned nq, const char *const *keys);
/* The one call of a class's connect: bn_xb_journal_key(dev, nq, keys),
 * then bn_xb_journal_map of size bytes. Returns the area, or NULL when the
 * device has no journal (the framework logged why; the class recovers
 * from the rings alone). The patterns: answers in order (vif, vdispl):
 * journal the private producer index and a copy of each answer before it
 * goes to the ring, and take the ring back with BN_RING_JOURNAL_RESUME
 * (bn_xen_ring.h); out of order (vbd): also a copy of each request taken
 * and not yet answered. State a request creates (vdispl's buffers) is
 * journaled with the ring index of the request, so that what a request
 * not yet answered did is undone by the restart and the request is served
 * again. */
void *bn_xb_journal_open(struct bn_xb_dev *dev, size_t size, unsigned nq, const char *const *keys,
                         bool *resumed);
/* Unmap (from the class's disconnect). The file stays until the device is
 * closed, so a restart finds it. NULL addr: nothing. */
void bn_xb_journal_unmap(struct bn_xb_dev *dev, void *addr, size_t size);
/* True inside a disconnect called by bn_xenbus_detach (a restart is
 * coming: keep the journal consistent, do not answer with errors). */
bool bn_xb_dev_detaching(const struct bn_xb_dev *dev);

/* Report a fatal error for the device the Xen way: write
 * error/<backend path>/error = "<-err> <message>" and go to Closing (the
 * class's disconnect runs when it was connected). err is -errno or errno.
 * Main thread only; logs the message with the endpoint name. */
void bn_xb_fatal(struct bn_xb_dev *dev, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same from any thread (e.g. a worker that found a bad ring request):
 * queued to the main loop, ignored if the device is gone by then. */
void bn_xb_fail(struct bn_xb_dev *dev, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* bn_xb_write from any thread (e.g. a Spike's loop that learnt its wire's
 * MTU): queued to the main loop, ignored if the device is gone by then. */
void bn_xb_write_async(struct bn_xb_dev *dev, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The index a Spike's back ring starts from: the shared ring's rsp_prod
 * (the third 32-bit word of every Xen shared ring), read once. It is 0 on a
 * fresh ring; when bananad re-attaches to a front-end that stayed Connected
 * across a restart, requests the previous instance took but never answered
 * lie after it and are served again, so none is lost. A hostile value only
 * shifts the indices, which the class's producer checks already bound. Use:
 *   BACK_RING_ATTACH(&r, sring, bn_xb_ring_resume_index(sring), size); */
static inline uint32_t bn_xb_ring_resume_index(const void *sring)
{
        return __atomic_load_n((const uint32_t *)sring + 2, __ATOMIC_ACQUIRE);
}

#endif
