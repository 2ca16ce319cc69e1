/* hv.c: bn_hv.h's entry points: provider selection (bn_hv_open) and
 * dispatch of every call through the provider's struct bn_hv_provider. */
#include "bn_hv_provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bn_hv_open(struct bn_hv **out, const char *kind, const char *sim_dir)
{
        const struct bn_hv_provider *p;
        struct bn_hv *hv = NULL;
        int rc;

        if (!out)
                return -EINVAL;
        *out = NULL;
        if (!kind || !strcmp(kind, "auto"))
                p = access("/dev/xen/gntdev", F_OK) == 0 ? &bn_hv_xen_provider
                                                         : &bn_hv_xensim_provider;
        else if (!strcmp(kind, "xen"))
                p = &bn_hv_xen_provider;
        else if (!strcmp(kind, "xensim"))
                p = &bn_hv_xensim_provider;
        else {
                fprintf(stderr, "bn_hv: unknown hypervisor provider '%s' (xen, xensim, auto)\n",
                        kind);
                return -EINVAL;
        }
        hv = calloc(1, sizeof(*hv));
        if (!hv)
                return -ENOMEM;
        hv->ops = p;
        rc = p->open(hv, sim_dir);
        if (rc < 0) {
                free(hv);
                return rc;
        }
        *out = hv;
        return 0;
}

void bn_hv_close(struct bn_hv *hv)
{
        if (!hv)
                return;
        hv->ops->close(hv);
        free(hv);
}

const char *bn_hv_name(const struct bn_hv *hv)
{
        return hv->ops->name;
}

uint32_t bn_hv_self_domid(const struct bn_hv *hv)
{
        return hv->self_domid;
}

struct xs_handle *bn_hv_xs_open(struct bn_hv *hv)
{
        if (!hv) {
                errno = EINVAL;
                return NULL;
        }
        return hv->ops->xs_open(hv);
}

int bn_gnt_open(struct bn_hv *hv, struct bn_gnt **out)
{
        if (!hv || !out)
                return -EINVAL;
        return hv->ops->gnt_open(hv, out);
}

void bn_gnt_close(struct bn_gnt *g)
{
        if (g)
                g->ops->gnt_close(g);
}

int bn_gnt_map(struct bn_gnt *g, uint32_t domid, uint32_t count, const uint32_t *refs, int writable,
               void **addr)
{
        if (!g || !refs || !addr)
                return -EINVAL;
        return g->ops->gnt_map(g, domid, count, refs, writable, addr);
}

int bn_gnt_unmap(struct bn_gnt *g, void *addr, uint32_t count)
{
        if (!g || !addr)
                return -EINVAL;
        return g->ops->gnt_unmap(g, addr, count);
}

int bn_gnt_copy(struct bn_gnt *g, uint32_t count, struct bn_gnt_copy_seg *segs)
{
        if (!g || (count && !segs))
                return -EINVAL;
        return g->ops->gnt_copy(g, count, segs);
}

int bn_evtchn_open(struct bn_hv *hv, struct bn_evtchn **out)
{
        if (!hv || !out)
                return -EINVAL;
        return hv->ops->evtchn_open(hv, out);
}

void bn_evtchn_close(struct bn_evtchn *e)
{
        if (e)
                e->ops->evtchn_close(e);
}

int bn_evtchn_fd(struct bn_evtchn *e)
{
        return e ? e->ops->evtchn_fd(e) : -EINVAL;
}

int bn_evtchn_bind_interdomain(struct bn_evtchn *e, uint32_t domid, uint32_t remote_port)
{
        return e ? e->ops->evtchn_bind_interdomain(e, domid, remote_port) : -EINVAL;
}

int bn_evtchn_bind_unbound(struct bn_evtchn *e, uint32_t domid)
{
        return e ? e->ops->evtchn_bind_unbound(e, domid) : -EINVAL;
}

int bn_evtchn_unbind(struct bn_evtchn *e, uint32_t port)
{
        return e ? e->ops->evtchn_unbind(e, port) : -EINVAL;
}

int bn_evtchn_notify(struct bn_evtchn *e, uint32_t port)
{
        return e ? e->ops->evtchn_notify(e, port) : -EINVAL;
}

int bn_evtchn_pending(struct bn_evtchn *e)
{
        return e ? e->ops->evtchn_pending(e) : -EINVAL;
}

int bn_evtchn_unmask(struct bn_evtchn *e, uint32_t port)
{
        return e ? e->ops->evtchn_unmask(e, port) : -EINVAL;
}

int bn_evtchn_drain(struct bn_evtchn *e)
{
        int port, n = 0;
        while ((port = bn_evtchn_pending(e)) >= 0 && n < (1 << 20)) {
                bn_evtchn_unmask(e, (uint32_t)port);
                n++;
        }
        return n;
}
