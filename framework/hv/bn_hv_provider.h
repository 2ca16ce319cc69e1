/* bn_hv_provider.h: the plug-in point behind bn_hv.h. A hypervisor
 * provider ("xen", "xensim") is one const struct bn_hv_provider of function
 * pointers; hv.c picks one in bn_hv_open() and every bn_* call dispatches
 * through it. Handles are provider structs whose first member is the
 * generic struct bn_gnt / struct bn_evtchn below (so hv.c can find ops).
 *
 * Rules for every callback: return 0 / the documented non-negative value or
 * -errno (never abort, never exit); log nothing on the fast paths (copy,
 * notify, pending, unmask); never block on the fast paths except for the
 * system call the operation is; a callback receives only handles its own
 * provider created. Arguments have been checked by hv.c for NULL where the
 * contract forbids NULL; everything else (counts, refs, ports) must be
 * validated by the provider.
 */
#ifndef BN_HV_PROVIDER_H
#define BN_HV_PROVIDER_H

#include "bn_hv.h"

struct bn_hv_provider;

struct bn_hv {
        const struct bn_hv_provider *ops;
        void *priv;          /* the provider's state */
        uint32_t self_domid; /* 0 for Dom0 */
};

struct bn_gnt {
        const struct bn_hv_provider *ops;
};

struct bn_evtchn {
        const struct bn_hv_provider *ops;
};

struct bn_hv_provider {
        const char *name; /* "xen", "xensim" */

        /* Set up hv->priv (and hv->self_domid). Must fail with -ENOENT (or
         * another -errno, with a logged reason) when the hypervisor is not
         * reachable, leaving nothing allocated. sim_dir is as given to
         * bn_hv_open() (may be NULL). */
        int (*open)(struct bn_hv *hv, const char *sim_dir);
        /* Free hv->priv. Handles have been closed by the caller. */
        void (*close)(struct bn_hv *hv);
        /* A new privileged libxenstore connection; NULL + errno on failure.
         * Must be callable from several threads. */
        struct xs_handle *(*xs_open)(struct bn_hv *hv);

        /* Grant handles: see bn_gnt_* in bn_hv.h for semantics. map must be
         * all-or-nothing and must honour read-only grants with a read-only
         * mapping; unmap must reject an (addr, count) it did not map with
         * -EINVAL; copy must give every segment its own status and must not
         * touch memory outside the granted page of a foreign side. */
        int (*gnt_open)(struct bn_hv *hv, struct bn_gnt **out);
        void (*gnt_close)(struct bn_gnt *g);
        int (*gnt_map)(struct bn_gnt *g, uint32_t domid, uint32_t count, const uint32_t *refs,
                       int writable, void **addr);
        int (*gnt_unmap)(struct bn_gnt *g, void *addr, uint32_t count);
        int (*gnt_copy)(struct bn_gnt *g, uint32_t count, struct bn_gnt_copy_seg *segs);

        /* Event-channel handles: see bn_evtchn_* in bn_hv.h. fd must be one
         * pollable fd for all the handle's ports; pending must not block;
         * a pending port stays masked until unmask. */
        int (*evtchn_open)(struct bn_hv *hv, struct bn_evtchn **out);
        void (*evtchn_close)(struct bn_evtchn *e);
        int (*evtchn_fd)(struct bn_evtchn *e);
        int (*evtchn_bind_interdomain)(struct bn_evtchn *e, uint32_t domid, uint32_t remote_port);
        int (*evtchn_bind_unbound)(struct bn_evtchn *e, uint32_t domid);
        int (*evtchn_unbind)(struct bn_evtchn *e, uint32_t port);
        int (*evtchn_notify)(struct bn_evtchn *e, uint32_t port);
        int (*evtchn_pending)(struct bn_evtchn *e);
        int (*evtchn_unmask)(struct bn_evtchn *e, uint32_t port);
};

extern const struct bn_hv_provider bn_hv_xen_provider;
extern const struct bn_hv_provider bn_hv_xensim_provider;

#endif
