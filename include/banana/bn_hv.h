/* bn_hv.h: the hypervisor interface. Every access bananad makes to Xen goes
 * through these calls: grant map / unmap / copy, event channels, xenstore.
 *
 * Two providers implement it (framework/hv/): "xen" (libxengnttab,
 * libxenevtchn, libxenstore on a real Dom0) and "xensim" (the userspace Xen
 * of sim/xensim, reached through a Unix socket directory). Code above this
 * header is the same in both worlds.
 *
 * Conventions: functions return 0 (or a non-negative value where said) on
 * success and -errno on failure; none of them aborts. Handles (bn_gnt,
 * bn_evtchn) are not thread-safe: open one per worker thread, as with
 * xengnttab / xenevtchn handles. The bn_hv object itself may be shared by
 * threads for bn_hv_*_open().
 */
#ifndef BN_HV_H
#define BN_HV_H

#include <stddef.h>
#include <stdint.h>

struct xs_handle;

#define BN_PAGE_SIZE  4096u
#define BN_PAGE_SHIFT 12

/* Grant status codes, as Xen returns them (xen/grant_table.h GNTST_*). */
#define BN_GNTST_OKAY              0
#define BN_GNTST_GENERAL_ERROR     (-1)
#define BN_GNTST_BAD_DOMAIN        (-2)
#define BN_GNTST_BAD_GNTREF        (-3)
#define BN_GNTST_BAD_HANDLE        (-4)
#define BN_GNTST_BAD_VIRT_ADDR     (-5)
#define BN_GNTST_BAD_DEV_ADDR      (-6)
#define BN_GNTST_NO_DEVICE_SPACE   (-7)
#define BN_GNTST_PERMISSION_DENIED (-8)
#define BN_GNTST_BAD_PAGE          (-9)
#define BN_GNTST_BAD_COPY_ARG      (-10)
#define BN_GNTST_ADDRESS_TOO_BIG   (-11)
#define BN_GNTST_EAGAIN            (-12)

struct bn_hv;     /* one provider instance */
struct bn_gnt;    /* a grant handle (like xengnttab_handle) */
struct bn_evtchn; /* an event-channel handle (like xenevtchn_handle) */

/* ---- provider ------------------------------------------------------- */

/* Open a provider. kind is "xen", "xensim" or "auto" (xen when
 * /dev/xen/gntdev exists, else xensim). sim_dir is xensim's socket
 * directory; NULL means $XENSIM_DIR, else /run/xensim. */
int bn_hv_open(struct bn_hv **out, const char *kind, const char *sim_dir);
void bn_hv_close(struct bn_hv *hv);
const char *bn_hv_name(const struct bn_hv *hv);    /* "xen" or "xensim" */
uint32_t bn_hv_self_domid(const struct bn_hv *hv); /* 0 for Dom0 */

/* A new libxenstore connection with Dom0 privileges (the xensim provider
 * uses xs_open(XS_OPEN_SOCKETONLY) on the simulator's socket). Close with
 * xs_close(). NULL with errno set on failure. */
struct xs_handle *bn_hv_xs_open(struct bn_hv *hv);

/* ---- grant tables --------------------------------------------------- */

int bn_gnt_open(struct bn_hv *hv, struct bn_gnt **out);
void bn_gnt_close(struct bn_gnt *g);

/* Map count grant refs of domain domid into one contiguous range of
 * count pages (*addr). writable=0 maps read-only; a write through such a
 * mapping faults. Fails whole: -EINVAL for count 0 or too large, -ENOENT
 * for a bad ref, -EPERM for a wrong domid or a read-only grant mapped
 * writable. */
int bn_gnt_map(struct bn_gnt *g, uint32_t domid, uint32_t count, const uint32_t *refs, int writable,
               void **addr);
int bn_gnt_unmap(struct bn_gnt *g, void *addr, uint32_t count);

/* One grant-copy segment, laid out as xengnttab_grant_copy_segment_t.
 * flags: BN_GNTCOPY_SOURCE_GREF and/or BN_GNTCOPY_DEST_GREF say which side
 * is a foreign ref (the other is a local virtual address). offset + len
 * must not pass the end of the foreign page. */
#define BN_GNTCOPY_SOURCE_GREF (1u << 0)
#define BN_GNTCOPY_DEST_GREF   (1u << 1)
struct bn_gnt_copy_seg {
        union {
                void *virt;
                struct {
                        uint32_t ref;
                        uint16_t offset;
                        uint16_t domid;
                } foreign;
        } source, dest;
        uint16_t len;
        uint16_t flags;
        int16_t status; /* out: BN_GNTST_* for this segment */
};

/* Perform count copies. Returns 0 when the batch was processed (each
 * segment then carries its own status, which may be an error), -errno when
 * the batch could not be attempted at all. */
int bn_gnt_copy(struct bn_gnt *g, uint32_t count, struct bn_gnt_copy_seg *segs);

/* ---- event channels ------------------------------------------------- */

int bn_evtchn_open(struct bn_hv *hv, struct bn_evtchn **out);
void bn_evtchn_close(struct bn_evtchn *e);
/* One fd per handle: readable when some port bound on it is pending. */
int bn_evtchn_fd(struct bn_evtchn *e);
/* Bind to remote_port of domid; returns the local port (>= 0) or -errno. */
int bn_evtchn_bind_interdomain(struct bn_evtchn *e, uint32_t domid, uint32_t remote_port);
/* Allocate an unbound port that domid may bind; returns the port. */
int bn_evtchn_bind_unbound(struct bn_evtchn *e, uint32_t domid);
int bn_evtchn_unbind(struct bn_evtchn *e, uint32_t port);
/* -ENOTCONN when the channel is not, or no longer, connected (the peer
 * closed it or its domain died); the xen provider may return 0 there, as
 * Xen does for a send on an unbound port. */
int bn_evtchn_notify(struct bn_evtchn *e, uint32_t port);
/* Next pending port (>= 0), or -EAGAIN when none. The port stays masked
 * until bn_evtchn_unmask(). */
int bn_evtchn_pending(struct bn_evtchn *e);
int bn_evtchn_unmask(struct bn_evtchn *e, uint32_t port);
/* Take and unmask every pending port (a device that serves all its rings
 * on any wake-up needs no more); returns how many were pending. */
int bn_evtchn_drain(struct bn_evtchn *e);

#endif
