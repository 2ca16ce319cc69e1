/* bn_guest.h: libbn_guest, with which a test or a simulated front-end acts
 * as a DomU on xensim: its memory is a memfd that xensim handed it; it
 * grants pages of it to another domain, allocates event channels, talks to
 * xenstore with the real libxenstore as itself, and follows xenbus states.
 *
 * Also bn_sim_xl_*: what the toolstack (xl) does when a device is declared:
 * write the front-end and back-end nodes with their permissions. Those use
 * a Dom0 xenstore connection, as xl does.
 *
 * Functions return 0 / a non-negative value, or -errno. One bn_guest is
 * used by one thread at a time.
 */
#ifndef BN_GUEST_H
#define BN_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <xen/io/xenbus.h>

struct xs_handle;
struct bn_guest;

/* Register a new domain with the xensim in sim_dir (NULL: $XENSIM_DIR or
 * /run/xensim) with mem_pages pages of memory. The domain lives until
 * bn_guest_destroy() or until this process exits. */
int bn_guest_create(struct bn_guest **out, const char *sim_dir, const char *name,
                    uint32_t mem_pages);
void bn_guest_destroy(struct bn_guest *g);
uint32_t bn_guest_domid(const struct bn_guest *g);
const char *bn_guest_name(const struct bn_guest *g);

/* This domain's xenstore connection (real libxenstore, as this domain). */
struct xs_handle *bn_guest_xs(struct bn_guest *g);

/* Guest memory: pfn 0 .. mem_pages-1. bn_guest_alloc_pages returns the first
 * pfn of n contiguous free pages (zeroed); bn_guest_free_pages gives them back. */
void *bn_guest_page(struct bn_guest *g, uint32_t pfn);
int bn_guest_alloc_pages(struct bn_guest *g, uint32_t n, uint32_t *pfn);
void bn_guest_free_pages(struct bn_guest *g, uint32_t pfn, uint32_t n);

/* Grant pfn to domid; returns the grant ref (> 0). */
int bn_guest_grant(struct bn_guest *g, uint32_t pfn, uint32_t domid, int readonly);
/* End access; -EBUSY while the grantee still has it mapped. */
int bn_guest_revoke(struct bn_guest *g, uint32_t ref);

/* Event channels. One fd for all of this guest's ports, readable when one
 * is pending. */
int bn_guest_evtchn_alloc_unbound(struct bn_guest *g, uint32_t remote_domid);
int bn_guest_evtchn_fd(struct bn_guest *g);
int bn_guest_evtchn_pending(struct bn_guest *g); /* port, or -EAGAIN */
int bn_guest_evtchn_unmask(struct bn_guest *g, uint32_t port);
int bn_guest_evtchn_notify(struct bn_guest *g, uint32_t port);
int bn_guest_evtchn_close(struct bn_guest *g, uint32_t port);

/* xenbus helpers, paths absolute. */
int bn_guest_xb_set_state(struct bn_guest *g, const char *dir, enum xenbus_state st);
int bn_guest_xb_get_state(struct bn_guest *g, const char *dir); /* state or -errno */
/* Wait until <dir>/state == want (watch-driven); -ETIMEDOUT after timeout_ms;
 * -EPIPE if the state became Closing/Closed while waiting for something else. */
int bn_guest_xb_wait_state(struct bn_guest *g, const char *dir, enum xenbus_state want,
                           int timeout_ms);

/* The toolstack part ("xl"): with a Dom0 connection, create
 * /local/domain/<fe>/device/<type>/<devid> and
 * /local/domain/<be>/backend/<type>/<fe>/<devid> with the usual keys
 * (frontend, backend, frontend-id, backend-id, state=1, online=1, handle)
 * and permissions (each side writes its own directory, reads the other).
 * extra_be: NULL-terminated key, value pairs for the back-end dir (e.g.
 * "mac", "00:16:3e:00:00:01"). */
int bn_sim_xl_add_device(struct xs_handle *dom0, uint32_t fe_domid, uint32_t be_domid,
                         const char *type, uint32_t devid, const char *const *extra_be);
int bn_sim_xl_remove_device(struct xs_handle *dom0, uint32_t fe_domid, uint32_t be_domid,
                            const char *type, uint32_t devid);

#endif
