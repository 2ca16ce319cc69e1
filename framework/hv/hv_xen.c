/* hv_xen.c: the "xen" hypervisor provider, for a real Dom0: libxengnttab
 * (map / unmap / grant copy), libxenevtchn, libxenstore (xs_open(0)). */
#include "bn_hv_provider.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

/* bn_gnt_copy_seg is laid out as xengnttab_grant_copy_segment_t. */
_Static_assert(sizeof(struct bn_gnt_copy_seg) == sizeof(xengnttab_grant_copy_segment_t),
               "grant copy segment layout");
_Static_assert(offsetof(struct bn_gnt_copy_seg, len) ==
                   offsetof(xengnttab_grant_copy_segment_t, len),
               "grant copy segment len");
_Static_assert(offsetof(struct bn_gnt_copy_seg, status) ==
                   offsetof(xengnttab_grant_copy_segment_t, status),
               "grant copy segment status");
_Static_assert(BN_GNTCOPY_SOURCE_GREF == GNTCOPY_source_gref, "GNTCOPY_source_gref");
_Static_assert(BN_GNTCOPY_DEST_GREF == GNTCOPY_dest_gref, "GNTCOPY_dest_gref");

struct xen_gnt {
        struct bn_gnt base;
        xengnttab_handle *xgt;
};

struct xen_evtchn {
        struct bn_evtchn base;
        xenevtchn_handle *xce;
};

static int xen_open(struct bn_hv *hv, const char *sim_dir)
{
        (void)sim_dir;
        if (access("/dev/xen/gntdev", F_OK) < 0 || access("/dev/xen/evtchn", F_OK) < 0) {
                fprintf(stderr, "bn_hv: xen: /dev/xen/gntdev or /dev/xen/evtchn missing: "
                                "not a Xen Dom0 (try the xensim provider)\n");
                return -ENOENT;
        }
        hv->priv = NULL;
        hv->self_domid = 0;
        return 0;
}

static void xen_close(struct bn_hv *hv)
{
        (void)hv;
}

static struct xs_handle *xen_xs_open(struct bn_hv *hv)
{
        (void)hv;
        return xs_open(0);
}

static int xen_gnt_open(struct bn_hv *hv, struct bn_gnt **out)
{
        struct xen_gnt *g = calloc(1, sizeof(*g));
        int rc;

        (void)hv;
        if (!g)
                return -ENOMEM;
        g->xgt = xengnttab_open(NULL, 0);
        if (!g->xgt) {
                rc = errno ? -errno : -ENOENT;
                fprintf(stderr, "bn_hv: xen: xengnttab_open failed (%d)\n", rc);
                free(g);
                return rc;
        }
        g->base.ops = &bn_hv_xen_provider;
        *out = &g->base;
        return 0;
}

static void xen_gnt_close(struct bn_gnt *bg)
{
        struct xen_gnt *g = (struct xen_gnt *)bg;

        xengnttab_close(g->xgt);
        free(g);
}

static int xen_gnt_map(struct bn_gnt *bg, uint32_t domid, uint32_t count, const uint32_t *refs,
                       int writable, void **addr)
{
        struct xen_gnt *g = (struct xen_gnt *)bg;
        void *p;

        if (count == 0 || count > 1024)
                return -EINVAL;
        p = xengnttab_map_domain_grant_refs(g->xgt, count, domid, (uint32_t *)refs,
                                            PROT_READ | (writable ? PROT_WRITE : 0));
        if (!p)
                return errno ? -errno : -EIO;
        *addr = p;
        return 0;
}

static int xen_gnt_unmap(struct bn_gnt *bg, void *addr, uint32_t count)
{
        struct xen_gnt *g = (struct xen_gnt *)bg;

        if (xengnttab_unmap(g->xgt, addr, count) < 0)
                return errno ? -errno : -EINVAL;
        return 0;
}

static int xen_gnt_copy(struct bn_gnt *bg, uint32_t count, struct bn_gnt_copy_seg *segs)
{
        struct xen_gnt *g = (struct xen_gnt *)bg;

        if (count == 0)
                return 0;
        if (xengnttab_grant_copy(g->xgt, count, (xengnttab_grant_copy_segment_t *)segs) < 0)
                return errno ? -errno : -EIO;
        return 0;
}

static int xen_evtchn_open(struct bn_hv *hv, struct bn_evtchn **out)
{
        struct xen_evtchn *e = calloc(1, sizeof(*e));
        int rc, fd, fl;

        (void)hv;
        if (!e)
                return -ENOMEM;
        e->xce = xenevtchn_open(NULL, 0);
        if (!e->xce) {
                rc = errno ? -errno : -ENOENT;
                fprintf(stderr, "bn_hv: xen: xenevtchn_open failed (%d)\n", rc);
                free(e);
                return rc;
        }
        /* bn_evtchn_pending must not block: make the device fd non-blocking. */
        fd = xenevtchn_fd(e->xce);
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
                rc = -errno;
                xenevtchn_close(e->xce);
                free(e);
                return rc;
        }
        e->base.ops = &bn_hv_xen_provider;
        *out = &e->base;
        return 0;
}

static void xen_evtchn_close(struct bn_evtchn *be)
{
        struct xen_evtchn *e = (struct xen_evtchn *)be;

        xenevtchn_close(e->xce);
        free(e);
}

static int xen_evtchn_fd(struct bn_evtchn *be)
{
        return xenevtchn_fd(((struct xen_evtchn *)be)->xce);
}

static int xen_evtchn_bind_interdomain(struct bn_evtchn *be, uint32_t domid, uint32_t remote_port)
{
        xenevtchn_port_or_error_t p;

        p = xenevtchn_bind_interdomain(((struct xen_evtchn *)be)->xce, domid, remote_port);
        return p < 0 ? (errno ? -errno : -EINVAL) : p;
}

static int xen_evtchn_bind_unbound(struct bn_evtchn *be, uint32_t domid)
{
        xenevtchn_port_or_error_t p;

        p = xenevtchn_bind_unbound_port(((struct xen_evtchn *)be)->xce, domid);
        return p < 0 ? (errno ? -errno : -EINVAL) : p;
}

static int xen_evtchn_unbind(struct bn_evtchn *be, uint32_t port)
{
        if (xenevtchn_unbind(((struct xen_evtchn *)be)->xce, port) < 0)
                return errno ? -errno : -EINVAL;
        return 0;
}

static int xen_evtchn_notify(struct bn_evtchn *be, uint32_t port)
{
        if (xenevtchn_notify(((struct xen_evtchn *)be)->xce, port) < 0)
                return errno ? -errno : -EINVAL;
        return 0;
}

static int xen_evtchn_pending(struct bn_evtchn *be)
{
        xenevtchn_port_or_error_t p = xenevtchn_pending(((struct xen_evtchn *)be)->xce);

        if (p < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : (errno ? -errno : -EIO);
        return p;
}

static int xen_evtchn_unmask(struct bn_evtchn *be, uint32_t port)
{
        if (xenevtchn_unmask(((struct xen_evtchn *)be)->xce, port) < 0)
                return errno ? -errno : -EINVAL;
        return 0;
}

const struct bn_hv_provider bn_hv_xen_provider = {
    .name = "xen",
    .open = xen_open,
    .close = xen_close,
    .xs_open = xen_xs_open,
    .gnt_open = xen_gnt_open,
    .gnt_close = xen_gnt_close,
    .gnt_map = xen_gnt_map,
    .gnt_unmap = xen_gnt_unmap,
    .gnt_copy = xen_gnt_copy,
    .evtchn_open = xen_evtchn_open,
    .evtchn_close = xen_evtchn_close,
    .evtchn_fd = xen_evtchn_fd,
    .evtchn_bind_interdomain = xen_evtchn_bind_interdomain,
    .evtchn_bind_unbound = xen_evtchn_bind_unbound,
    .evtchn_unbind = xen_evtchn_unbind,
    .evtchn_notify = xen_evtchn_notify,
    .evtchn_pending = xen_evtchn_pending,
    .evtchn_unmask = xen_evtchn_unmask,
};
