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

#include <stdbool.h>
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

/* ---- front-end helpers (guest_fe.c) ------------------------------------
 * What every simulated front-end does the same way around the xenbus
 * handshake. One struct bn_guest_fe per device; the caller owns it. */
struct bn_guest_fe {
        struct bn_guest *g;
        const char *sim_dir; /* xensim to declare the device with (NULL: default) */
        const char *who;     /* prefix of the messages printed on stderr; NULL: silent */
        const char *type;    /* device class: "vbd", "vif", "test" */
        uint32_t domid, devid, be_domid;
        char fe_path[128]; /* /local/domain/<domid>/device/<type>/<devid> */
        char be_path[128]; /* /local/domain/<be>/backend/<type>/<domid>/<devid> */
        bool declared;     /* bn_guest_fe_declare succeeded */
};

/* Fill fe for device <type>/<devid> of g, served by be_domid. The strings
 * are not copied: they must outlive fe. -ENAMETOOLONG if a path does not fit. */
int bn_guest_fe_init(struct bn_guest_fe *fe, struct bn_guest *g, const char *sim_dir,
                     const char *who, const char *type, uint32_t devid, uint32_t be_domid);
/* The toolstack part: bn_sim_xl_add_device on dom0, or (dom0 NULL) on a
 * Dom0 connection to fe->sim_dir opened and closed for the call. On failure
 * prints "<who>: declaring <type> <devid> failed: <reason>". */
int bn_guest_fe_declare(struct bn_guest_fe *fe, struct xs_handle *dom0,
                        const char *const *extra_be);
/* bn_sim_xl_remove_device the same way; failures are ignored (clean-up). */
void bn_guest_fe_undeclare(struct bn_guest_fe *fe, struct xs_handle *dom0);
/* Write <fe_path>/<key> = printf(fmt, ...) (values up to 63 characters) as
 * this guest. On failure prints "<who>: cannot write <path>: <reason>" and
 * returns -errno. */
int bn_guest_fe_write(struct bn_guest_fe *fe, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* <be_path>/<key> read as a decimal number; def when absent or unreadable. */
uint64_t bn_guest_fe_be_uint(struct bn_guest_fe *fe, const char *key, uint64_t def);
/* Allocate npages contiguous (zeroed) pages for a shared ring and grant each
 * to the back-end domain, writable: *pfn is the first page, refs[i] the
 * grant of page i. The caller initialises the ring (SHARED_RING_INIT). */
int bn_guest_fe_grant_ring(struct bn_guest_fe *fe, uint32_t npages, uint32_t *pfn, int *refs);

/* ---- live migration (guest_mig.c; docs/migration.md) ---------------------
 * The toolstack (bananactl migrate, controller/ctl_migrate.c) writes
 * control/migrate = <destination xensim dir> in the guest's domain. The
 * guest creates its domain there and declares its devices (pre-copy),
 * says "precopied", stops its front-ends (a blkfront drains what it can)
 * and says "suspended" in control/migrate-state, then waits for
 * control/migrate-go: "go" (connect on the destination as a front-end does
 * after a resume, resubmit what was not answered, leave the source) or
 * "abort" (drop the destination's domain, go on at the source). */
/* 1 and dir filled when a migration is asked (the request is taken), 0 when
 * not, -errno. */
int bn_guest_mig_asked(struct bn_guest *g, char *dir, size_t len);
/* control/migrate-state = state. */
int bn_guest_mig_state(struct bn_guest *g, const char *state);
/* 1 on "go", 0 on "abort", -ETIMEDOUT after timeout_ms. */
int bn_guest_mig_wait_go(struct bn_guest *g, int timeout_ms);

#endif
