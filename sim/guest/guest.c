/* guest.c: libbn_guest's domain: registration with xensim (the domain lives
 * as long as the hv.sock connection), guest memory and its page allocator,
 * the grant table the guest writes (grant / revoke with Xen's flag
 * protocol), event channels and the domain's own xenstore connection. */
#include "bn_guest.h"
#include "xsim_client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenstore.h>

#define GUEST_PAGE 4096u

struct bn_guest {
        int sock;
        uint32_t domid;
        char name[XSIM_NAME_MAX];
        uint8_t *mem;
        uint32_t pages;
        uint8_t *used; /* per page: allocated */
        uint8_t *gt;
        uint32_t *words; /* grant entries as word pairs */
        uint32_t entries;
        uint32_t *free_refs; /* stack of free refs */
        uint32_t nfree;
        uint8_t *granted; /* per ref: handed out by bn_guest_grant */
        const uint32_t *chan;
        struct xsim_ports ports;
        struct xs_handle *xs;
};

void bn_guest_destroy(struct bn_guest *g)
{
        if (!g)
                return;
        if (g->xs)
                xs_close(g->xs);
        xsim_ports_fini(&g->ports);
        xsim_chan_unmap(g->chan);
        if (g->mem && g->mem != MAP_FAILED)
                munmap(g->mem, (size_t)g->pages * GUEST_PAGE);
        if (g->gt && g->gt != MAP_FAILED)
                munmap(g->gt, XSIM_GT_BYTES);
        if (g->sock >= 0)
                close(g->sock); /* xensim releases the domain */
        free(g->used);
        free(g->free_refs);
        free(g->granted);
        free(g);
}

static int guest_xs_open(struct bn_guest *g, const char *dir)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/dom%u.sock", dir, g->domid);
        g->xs = xsim_xs_open(path);
        if (!g->xs) {
                fprintf(stderr, "bn_guest: dom%u: xenstore connection on %s failed: %s\n", g->domid,
                        path, strerror(errno));
                return errno ? -errno : -ECONNREFUSED;
        }
        return 0;
}

int bn_guest_create(struct bn_guest **out, const char *sim_dir, const char *name,
                    uint32_t mem_pages)
{
        struct xsim_msg m = {.op = XSIM_OP_CREATE_DOMAIN, .count = mem_pages};
        const char *dir = xsim_dir(sim_dir);
        int fds[3] = {-1, -1, -1}, rc, i;
        struct bn_guest *g;
        uint32_t r;

        if (!out || mem_pages == 0)
                return -EINVAL;
        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->sock = -1;
        g->ports.epfd = -1;
        snprintf(m.name, sizeof(m.name), "%s", name ? name : "");
        g->sock = xsim_connect(dir);
        if (g->sock < 0) {
                rc = g->sock;
                fprintf(stderr, "bn_guest: cannot connect to %s/hv.sock: %s\n", dir, strerror(-rc));
                goto out;
        }
        rc = xsim_call(g->sock, &m, fds, 3);
        if (rc == 0 && (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || m.a[1] > XSIM_GT_ENTRIES ||
                        m.a[1] <= XSIM_GT_RESERVED || m.count != mem_pages))
                rc = -EPROTO;
        if (rc < 0) {
                fprintf(stderr, "bn_guest: creating domain '%s' on %s: %s\n", m.name, dir,
                        strerror(-rc));
                goto out;
        }
        g->domid = m.domid;
        snprintf(g->name, sizeof(g->name), "%s", m.name);
        g->pages = mem_pages;
        g->entries = m.a[1];
        g->mem = mmap(NULL, (size_t)mem_pages * GUEST_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
                      fds[0], 0);
        g->gt = mmap(NULL, XSIM_GT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
        g->chan = xsim_chan_map(fds[2]);
        g->used = calloc(mem_pages, 1);
        g->free_refs = calloc(g->entries, sizeof(uint32_t));
        g->granted = calloc(g->entries, 1);
        if (g->mem == MAP_FAILED || g->gt == MAP_FAILED || !g->chan || !g->used || !g->free_refs ||
            !g->granted) {
                rc = -ENOMEM;
                goto out;
        }
        g->words = (uint32_t *)(g->gt + XSIM_GT_ENTRY_OFF);
        for (r = g->entries; r-- > XSIM_GT_RESERVED;)
                g->free_refs[g->nfree++] = r; /* lowest ref on top */
        rc = xsim_ports_init(&g->ports, g->sock, g->chan);
        if (rc < 0)
                goto out;
        rc = guest_xs_open(g, dir);
out:
        for (i = 0; i < 3; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (rc < 0) {
                bn_guest_destroy(g);
                return rc;
        }
        *out = g;
        return 0;
}

uint32_t bn_guest_domid(const struct bn_guest *g)
{
        return g->domid;
}

const char *bn_guest_name(const struct bn_guest *g)
{
        return g->name;
}

struct xs_handle *bn_guest_xs(struct bn_guest *g)
{
        return g->xs;
}

void *bn_guest_page(struct bn_guest *g, uint32_t pfn)
{
        if (pfn >= g->pages)
                return NULL;
        return g->mem + (size_t)pfn * GUEST_PAGE;
}

int bn_guest_alloc_pages(struct bn_guest *g, uint32_t n, uint32_t *pfn)
{
        uint32_t start, run = 0, i;

        if (n == 0 || n > g->pages || !pfn)
                return -EINVAL;
        for (i = 0; i < g->pages; i++) {
                run = g->used[i] ? 0 : run + 1;
                if (run == n) {
                        start = i + 1 - n;
                        memset(g->used + start, 1, n);
                        memset(bn_guest_page(g, start), 0, (size_t)n * GUEST_PAGE);
                        *pfn = start;
                        return 0;
                }
        }
        return -ENOMEM;
}

void bn_guest_free_pages(struct bn_guest *g, uint32_t pfn, uint32_t n)
{
        if (pfn < g->pages && n <= g->pages - pfn)
                memset(g->used + pfn, 0, n);
}

int bn_guest_grant(struct bn_guest *g, uint32_t pfn, uint32_t domid, int readonly)
{
        uint32_t ref, flags;

        if (pfn >= g->pages || domid > 0xffff)
                return -EINVAL;
        if (g->nfree == 0)
                return -ENOSPC;
        ref = g->free_refs[--g->nfree];
        flags = XSIM_GTF_permit_access | (readonly ? XSIM_GTF_readonly : 0);
        /* Frame and domid first, then the flags that make it valid. */
        __atomic_store_n(&g->words[2 * ref + 1], pfn, __ATOMIC_RELAXED);
        __atomic_store_n(&g->words[2 * ref], flags | (domid << 16), __ATOMIC_RELEASE);
        g->granted[ref] = 1;
        return (int)ref;
}

int bn_guest_revoke(struct bn_guest *g, uint32_t ref)
{
        uint32_t old;

        if (ref >= g->entries || !g->granted[ref])
                return -EINVAL;
        old = __atomic_load_n(&g->words[2 * ref], __ATOMIC_ACQUIRE);
        do {
                if (old & (XSIM_GTF_reading | XSIM_GTF_writing))
                        return -EBUSY;
        } while (!__atomic_compare_exchange_n(&g->words[2 * ref], &old, 0, false, __ATOMIC_ACQ_REL,
                                              __ATOMIC_ACQUIRE));
        g->granted[ref] = 0;
        g->free_refs[g->nfree++] = ref;
        return 0;
}

int bn_guest_evtchn_alloc_unbound(struct bn_guest *g, uint32_t remote_domid)
{
        return xsim_ports_alloc_unbound(&g->ports, remote_domid);
}

int bn_guest_evtchn_fd(struct bn_guest *g)
{
        return g->ports.epfd;
}

int bn_guest_evtchn_pending(struct bn_guest *g)
{
        return xsim_ports_pending(&g->ports);
}

int bn_guest_evtchn_unmask(struct bn_guest *g, uint32_t port)
{
        return xsim_ports_unmask(&g->ports, port);
}

int bn_guest_evtchn_notify(struct bn_guest *g, uint32_t port)
{
        return xsim_ports_notify(&g->ports, port);
}

int bn_guest_evtchn_close(struct bn_guest *g, uint32_t port)
{
        return xsim_ports_close(&g->ports, port);
}
