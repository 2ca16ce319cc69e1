/* hv_xensim.c: the "xensim" hypervisor provider: Dom0's side of the
 * userspace Xen in sim/xensim. Grant map / unmap and event-channel set-up go
 * to the daemon over <dir>/hv.sock (xensim_proto.h); grant copy and notify
 * do not: a grant handle caches, once per domain, a read-only view of the
 * domain's grant table and its memory, and validates every copy segment
 * itself; notify writes the peer's eventfd. xenstore is the real
 * libxenstore on <dir>/xenstored.sock. */
#include "bn_hv_provider.h"
#include "xsim_client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenstore.h>

struct sim_hv {
        char dir[PATH_MAX];
};

/* One bn_gnt_map() mapping, for unmap. */
struct sim_map {
        struct sim_map *next;
        void *addr;
        uint32_t count, domid;
        int writable;
        uint32_t refs[];
};

/* A domain's grant table and memory, cached for grant copy. */
struct sim_dom {
        struct sim_dom *next;
        uint32_t domid;
        void *gt;              /* XSIM_GT_BYTES, read-only */
        const uint32_t *words; /* entries as pairs of words: flags|domid<<16, frame */
        const uint32_t *dead;  /* header's dead flag */
        uint8_t *mem;          /* pages * 4096, RW */
        uint32_t entries, pages;
};

struct sim_gnt {
        struct bn_gnt base;
        int sock;
        uint32_t self;
        struct sim_map *maps;
        struct sim_dom *doms;
};

struct sim_evtchn {
        struct bn_evtchn base;
        int sock;
        const uint32_t *chan;
        struct xsim_ports ports;
};

/* Connect to hv.sock and say HELLO as Dom0; *chan_fd gets the channel table. */
static int sim_hello(const char *dir, int *sock, int *chan_fd)
{
        struct xsim_msg m = {.op = XSIM_OP_HELLO_DOM0};
        int s, rc, fd;

        s = xsim_connect(dir);
        if (s < 0) {
                fprintf(stderr, "bn_hv: xensim: cannot connect to %s/hv.sock: %s\n", dir,
                        strerror(-s));
                return s;
        }
        rc = xsim_call(s, &m, &fd, 1);
        if (rc == 0 && fd < 0)
                rc = -EPROTO;
        if (rc < 0) {
                fprintf(stderr, "bn_hv: xensim: HELLO on %s/hv.sock failed: %s\n", dir,
                        strerror(-rc));
                if (fd >= 0)
                        close(fd);
                close(s);
                return rc;
        }
        *sock = s;
        if (chan_fd)
                *chan_fd = fd;
        else
                close(fd);
        return 0;
}

static int sim_open(struct bn_hv *hv, const char *sim_dir)
{
        const char *dir = xsim_dir(sim_dir);
        struct sim_hv *h;
        int rc, s;

        if (strlen(dir) >= sizeof(h->dir) - 32)
                return -ENAMETOOLONG;
        rc = sim_hello(dir, &s, NULL);
        if (rc < 0)
                return rc;
        close(s);
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        snprintf(h->dir, sizeof(h->dir), "%s", dir);
        hv->priv = h;
        hv->self_domid = 0;
        return 0;
}

static void sim_close(struct bn_hv *hv)
{
        free(hv->priv);
}

static struct xs_handle *sim_xs_open(struct bn_hv *hv)
{
        struct sim_hv *h = hv->priv;
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/xenstored.sock", h->dir);
        return xsim_xs_open(path);
}

/* ---- grants ---------------------------------------------------------- */

static int sim_gnt_open(struct bn_hv *hv, struct bn_gnt **out)
{
        struct sim_hv *h = hv->priv;
        struct sim_gnt *g = calloc(1, sizeof(*g));
        int rc;

        if (!g)
                return -ENOMEM;
        rc = sim_hello(h->dir, &g->sock, NULL);
        if (rc < 0) {
                free(g);
                return rc;
        }
        g->self = hv->self_domid;
        g->base.ops = &bn_hv_xensim_provider;
        *out = &g->base;
        return 0;
}

static void dom_free(struct sim_dom *d)
{
        munmap(d->gt, XSIM_GT_BYTES);
        munmap(d->mem, (size_t)d->pages * BN_PAGE_SIZE);
        free(d);
}

static void sim_gnt_close(struct bn_gnt *bg)
{
        struct sim_gnt *g = (struct sim_gnt *)bg;

        while (g->maps) {
                struct sim_map *m = g->maps;

                g->maps = m->next;
                munmap(m->addr, (size_t)m->count * BN_PAGE_SIZE);
                free(m);
        }
        while (g->doms) {
                struct sim_dom *d = g->doms;

                g->doms = d->next;
                dom_free(d);
        }
        close(g->sock); /* xensim drops this connection's pins */
        free(g);
}

/* Unpin count refs, XSIM_MAP_MAX at a time (a large buffer's map was
 * pinned in as many requests). */
static void send_unmap(struct sim_gnt *g, uint32_t domid, uint32_t count, const uint32_t *refs,
                       int writable)
{
        for (uint32_t done = 0; done < count;) {
                uint32_t n = count - done < XSIM_MAP_MAX ? count - done : XSIM_MAP_MAX;
                struct xsim_msg m = {.op = XSIM_OP_GNT_UNMAP, .domid = domid, .count = n};
                m.flags = writable ? XSIM_F_WRITABLE : 0;
                memcpy(m.refs, refs + done, n * sizeof(*refs));
                int rc = xsim_call(g->sock, &m, NULL, 0);
                if (rc < 0 && rc != -ESRCH)
                        fprintf(stderr, "bn_hv: xensim: unmap of %u grants of dom%u failed: %s\n",
                                n, domid, strerror(-rc));
                done += n;
        }
}

/* Largest map: a display buffer of 64 MiB, pinned XSIM_MAP_MAX refs per
 * request into one contiguous range. */
#define SIM_MAP_PAGES_MAX 16384u

static int sim_gnt_map(struct bn_gnt *bg, uint32_t domid, uint32_t count, const uint32_t *refs,
                       int writable, void **addr)
{
        struct sim_gnt *g = (struct sim_gnt *)bg;
        int prot = PROT_READ | (writable ? PROT_WRITE : 0);
        struct sim_map *rec = NULL;
        uint8_t *base = MAP_FAILED;
        uint32_t pinned = 0, i;
        int rc = 0;

        if (count == 0 || count > SIM_MAP_PAGES_MAX)
                return -EINVAL;
        rec = malloc(sizeof(*rec) + count * sizeof(uint32_t));
        base = mmap(NULL, (size_t)count * BN_PAGE_SIZE, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (!rec || base == MAP_FAILED) {
                rc = -ENOMEM;
                goto fail;
        }
        while (pinned < count) {
                uint32_t n = count - pinned < XSIM_MAP_MAX ? count - pinned : XSIM_MAP_MAX;
                struct xsim_msg m = {.op = XSIM_OP_GNT_MAP, .domid = domid, .count = n};
                int fd = -1;
                m.flags = writable ? XSIM_F_WRITABLE : 0;
                memcpy(m.refs, refs + pinned, n * sizeof(*refs));
                rc = xsim_call(g->sock, &m, &fd, 1);
                if (rc < 0)
                        goto fail;
                pinned += n;
                if (fd < 0) {
                        rc = -EPROTO;
                        goto fail;
                }
                for (i = 0; i < n; i++) {
                        void *p =
                            mmap(base + (size_t)(pinned - n + i) * BN_PAGE_SIZE, BN_PAGE_SIZE, prot,
                                 MAP_SHARED | MAP_FIXED, fd, (off_t)m.refs[i] * BN_PAGE_SIZE);
                        if (p == MAP_FAILED) {
                                rc = -errno;
                                break;
                        }
                }
                close(fd);
                if (rc < 0)
                        goto fail;
        }
        rec->addr = base;
        rec->count = count;
        rec->domid = domid;
        rec->writable = !!writable;
        memcpy(rec->refs, refs, count * sizeof(*refs));
        rec->next = g->maps;
        g->maps = rec;
        *addr = base;
        return 0;
fail:
        if (base != MAP_FAILED)
                munmap(base, (size_t)count * BN_PAGE_SIZE);
        if (pinned)
                send_unmap(g, domid, pinned, refs, writable);
        free(rec);
        return rc;
}

static int sim_gnt_unmap(struct bn_gnt *bg, void *addr, uint32_t count)
{
        struct sim_gnt *g = (struct sim_gnt *)bg;
        struct sim_map **pp, *m;

        for (pp = &g->maps; (m = *pp); pp = &m->next)
                if (m->addr == addr)
                        break;
        if (!m || m->count != count)
                return -EINVAL;
        *pp = m->next;
        /* Unmap first, then unpin: the guest may revoke once unpinned. */
        munmap(m->addr, (size_t)m->count * BN_PAGE_SIZE);
        send_unmap(g, m->domid, m->count, m->refs, m->writable);
        free(m);
        return 0;
}

/* The cached view of domid, fetched from xensim the first time. */
static struct sim_dom *dom_get(struct sim_gnt *g, uint32_t domid)
{
        struct xsim_msg m = {.op = XSIM_OP_GNT_DOMAIN, .domid = domid};
        struct sim_dom **pp, *d;
        int fds[2], rc;

        for (pp = &g->doms; (d = *pp); pp = &d->next) {
                if (d->domid != domid)
                        continue;
                if (__atomic_load_n(d->dead, __ATOMIC_ACQUIRE)) {
                        *pp = d->next; /* released: domids are not reused */
                        dom_free(d);
                        return NULL;
                }
                return d;
        }
        rc = xsim_call(g->sock, &m, fds, 2);
        d = NULL;
        if (rc < 0 || fds[0] < 0 || fds[1] < 0 || m.a[1] > XSIM_GT_ENTRIES || m.count == 0)
                goto out;
        d = calloc(1, sizeof(*d));
        if (!d)
                goto out;
        d->domid = domid;
        d->entries = m.a[1];
        d->pages = m.count;
        d->gt = mmap(NULL, XSIM_GT_BYTES, PROT_READ, MAP_SHARED, fds[0], 0);
        d->mem = mmap(NULL, (size_t)d->pages * BN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                      fds[1], 0);
        if (d->gt == MAP_FAILED || d->mem == MAP_FAILED) {
                if (d->gt != MAP_FAILED)
                        munmap(d->gt, XSIM_GT_BYTES);
                if (d->mem != MAP_FAILED)
                        munmap(d->mem, (size_t)d->pages * BN_PAGE_SIZE);
                free(d);
                d = NULL;
                goto out;
        }
        d->words = (const uint32_t *)((const uint8_t *)d->gt + XSIM_GT_ENTRY_OFF);
        d->dead = &((const struct xsim_gt_header *)d->gt)->dead;
        d->next = g->doms;
        g->doms = d;
out:
        if (fds[0] >= 0)
                close(fds[0]);
        if (fds[1] >= 0)
                close(fds[1]);
        return d;
}

/* Validate one foreign side of a copy segment; *p gets the byte address. */
static int16_t seg_foreign(struct sim_gnt *g, uint32_t domid, uint32_t ref, uint32_t off,
                           uint32_t len, int dest, uint8_t **p)
{
        struct sim_dom *d;
        uint32_t w, frame, flags;

        if (off + len > BN_PAGE_SIZE)
                return BN_GNTST_BAD_COPY_ARG;
        d = dom_get(g, domid);
        if (!d)
                return BN_GNTST_BAD_DOMAIN;
        if (ref >= d->entries)
                return BN_GNTST_BAD_GNTREF;
        /* Copy the entry once; the guest may change it at any time. */
        w = __atomic_load_n(&d->words[2 * ref], __ATOMIC_ACQUIRE);
        frame = __atomic_load_n(&d->words[2 * ref + 1], __ATOMIC_RELAXED);
        flags = w & 0xffff;
        if ((flags & XSIM_GTF_type_mask) != XSIM_GTF_permit_access)
                return BN_GNTST_BAD_GNTREF;
        if ((w >> 16) != g->self)
                return BN_GNTST_PERMISSION_DENIED;
        if (dest && (flags & XSIM_GTF_readonly))
                return BN_GNTST_PERMISSION_DENIED;
        if (frame >= d->pages)
                return BN_GNTST_BAD_PAGE;
        *p = d->mem + (size_t)frame * BN_PAGE_SIZE + off;
        return BN_GNTST_OKAY;
}

static int sim_gnt_copy(struct bn_gnt *bg, uint32_t count, struct bn_gnt_copy_seg *segs)
{
        struct sim_gnt *g = (struct sim_gnt *)bg;
        uint32_t i;

        for (i = 0; i < count; i++) {
                struct bn_gnt_copy_seg *s = &segs[i];
                uint8_t *src = s->source.virt, *dst = s->dest.virt;
                int16_t st = BN_GNTST_OKAY;

                if (s->flags & ~(BN_GNTCOPY_SOURCE_GREF | BN_GNTCOPY_DEST_GREF))
                        st = BN_GNTST_BAD_COPY_ARG;
                if (st == BN_GNTST_OKAY && (s->flags & BN_GNTCOPY_SOURCE_GREF))
                        st = seg_foreign(g, s->source.foreign.domid, s->source.foreign.ref,
                                         s->source.foreign.offset, s->len, 0, &src);
                if (st == BN_GNTST_OKAY && (s->flags & BN_GNTCOPY_DEST_GREF))
                        st = seg_foreign(g, s->dest.foreign.domid, s->dest.foreign.ref,
                                         s->dest.foreign.offset, s->len, 1, &dst);
                if (st == BN_GNTST_OKAY && s->len)
                        memmove(dst, src, s->len);
                s->status = st;
        }
        return 0;
}

/* ---- event channels -------------------------------------------------- */

static int sim_evtchn_open(struct bn_hv *hv, struct bn_evtchn **out)
{
        struct sim_hv *h = hv->priv;
        struct sim_evtchn *e = calloc(1, sizeof(*e));
        int rc, fd = -1;

        if (!e)
                return -ENOMEM;
        e->sock = -1;
        rc = sim_hello(h->dir, &e->sock, &fd);
        if (rc < 0)
                goto out;
        e->chan = xsim_chan_map(fd);
        if (!e->chan) {
                rc = -errno;
                goto out;
        }
        rc = xsim_ports_init(&e->ports, e->sock, e->chan);
        if (rc < 0)
                goto out;
        e->base.ops = &bn_hv_xensim_provider;
        *out = &e->base;
out:
        if (fd >= 0)
                close(fd);
        if (rc < 0) {
                xsim_chan_unmap(e->chan);
                if (e->sock >= 0)
                        close(e->sock);
                free(e);
        }
        return rc;
}

static void sim_evtchn_close(struct bn_evtchn *be)
{
        struct sim_evtchn *e = (struct sim_evtchn *)be;

        xsim_ports_fini(&e->ports);
        xsim_chan_unmap(e->chan);
        close(e->sock); /* xensim closes this connection's ports */
        free(e);
}

static int sim_evtchn_fd(struct bn_evtchn *be)
{
        return ((struct sim_evtchn *)be)->ports.epfd;
}

static int sim_evtchn_bind_interdomain(struct bn_evtchn *be, uint32_t domid, uint32_t remote_port)
{
        return xsim_ports_bind(&((struct sim_evtchn *)be)->ports, domid, remote_port);
}

static int sim_evtchn_bind_unbound(struct bn_evtchn *be, uint32_t domid)
{
        return xsim_ports_alloc_unbound(&((struct sim_evtchn *)be)->ports, domid);
}

static int sim_evtchn_unbind(struct bn_evtchn *be, uint32_t port)
{
        return xsim_ports_close(&((struct sim_evtchn *)be)->ports, port);
}

static int sim_evtchn_notify(struct bn_evtchn *be, uint32_t port)
{
        return xsim_ports_notify(&((struct sim_evtchn *)be)->ports, port);
}

static int sim_evtchn_pending(struct bn_evtchn *be)
{
        return xsim_ports_pending(&((struct sim_evtchn *)be)->ports);
}

static int sim_evtchn_unmask(struct bn_evtchn *be, uint32_t port)
{
        return xsim_ports_unmask(&((struct sim_evtchn *)be)->ports, port);
}

const struct bn_hv_provider bn_hv_xensim_provider = {
    .name = "xensim",
    .open = sim_open,
    .close = sim_close,
    .xs_open = sim_xs_open,
    .gnt_open = sim_gnt_open,
    .gnt_close = sim_gnt_close,
    .gnt_map = sim_gnt_map,
    .gnt_unmap = sim_gnt_unmap,
    .gnt_copy = sim_gnt_copy,
    .evtchn_open = sim_evtchn_open,
    .evtchn_close = sim_evtchn_close,
    .evtchn_fd = sim_evtchn_fd,
    .evtchn_bind_interdomain = sim_evtchn_bind_interdomain,
    .evtchn_bind_unbound = sim_evtchn_bind_unbound,
    .evtchn_unbind = sim_evtchn_unbind,
    .evtchn_notify = sim_evtchn_notify,
    .evtchn_pending = sim_evtchn_pending,
    .evtchn_unmask = sim_evtchn_unmask,
};
