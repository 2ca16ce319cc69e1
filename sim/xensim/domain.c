/* domain.c: xensim's domains: creation (sealed memfds for memory and grant
 * table, xenstore introduction), release, and grant map / unmap with
 * pinning (GTF_reading / GTF_writing, as Xen sets them, so that the
 * guest's revoke sees a mapped grant as busy). */
#include "xensim.h"
#include "xss.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct xsim_dom *dom_get(struct xsim *x, uint32_t domid)
{
        return domid < XSIM_MAX_DOMID ? x->doms[domid] : NULL;
}

static void dom_free(struct xsim_dom *d)
{
        if (d->gt && d->gt != MAP_FAILED)
                munmap(d->gt, XSIM_GT_BYTES);
        if (d->mem_fd >= 0)
                close(d->mem_fd);
        if (d->mem_ro_fd >= 0)
                close(d->mem_ro_fd);
        if (d->gt_fd >= 0)
                close(d->gt_fd);
        if (d->gt_ro_fd >= 0)
                close(d->gt_ro_fd);
        free(d->rd_pins);
        free(d->wr_pins);
        free(d->ports);
        free(d);
}

static struct xsim_dom *dom_alloc(uint32_t domid)
{
        struct xsim_dom *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        d->domid = domid;
        d->mem_fd = d->mem_ro_fd = d->gt_fd = d->gt_ro_fd = -1;
        d->ports = calloc(XSIM_MAX_PORTS, sizeof(*d->ports));
        if (!d->ports) {
                free(d);
                return NULL;
        }
        return d;
}

int dom_create_dom0(struct xsim *x)
{
        struct xsim_dom *d = dom_alloc(0);

        if (!d)
                return -ENOMEM;
        snprintf(d->name, sizeof(d->name), "Domain-0");
        x->doms[0] = d;
        x->next_domid = 1;
        return 0;
}

/* A sealed memfd of size bytes (fixed size: a guest cannot shrink it under
 * a mapping, which would SIGBUS its peers), plus a read-only reopen. */
static int sealed_memfd(const char *name, size_t size, int *fd, int *ro_fd)
{
        char path[64];

        *fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (*fd < 0 || ftruncate(*fd, (off_t)size) < 0 ||
            fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
        *ro_fd = open(path, O_RDONLY | O_CLOEXEC);
        return *ro_fd < 0 ? -errno : 0;
}

static int domid_alloc(struct xsim *x, uint32_t *domid)
{
        uint32_t i, id;

        for (i = 0; i < XSIM_MAX_DOMID - 1; i++) {
                id = 1 + (x->next_domid - 1 + i) % (XSIM_MAX_DOMID - 1);
                if (!x->doms[id]) {
                        x->next_domid = id + 1;
                        *domid = id;
                        return 0;
                }
        }
        return -ENOSPC;
}

int dom_create(struct xsim *x, struct xsim_client *owner, const char *name, uint32_t pages,
               struct xsim_dom **out)
{
        struct xsim_dom *d = NULL;
        struct xsim_gt_header *h;
        char sock[4096], mname[64];
        uint32_t domid;
        size_t i;
        int rc;

        if (pages == 0 || pages > (1u << 20)) /* up to 4 GiB */
                return -EINVAL;
        rc = domid_alloc(x, &domid);
        if (rc < 0)
                return rc;
        d = dom_alloc(domid);
        if (!d)
                return -ENOMEM;
        /* The name is the guest's choice: keep it to a safe character set. */
        for (i = 0; name[i] && i < sizeof(d->name) - 1; i++)
                d->name[i] = (name[i] > ' ' && name[i] < 127 && name[i] != '/') ? name[i] : '_';
        if (!d->name[0])
                snprintf(d->name, sizeof(d->name), "dom%u", domid);
        d->pages = pages;
        d->owner = owner;
        snprintf(mname, sizeof(mname), "xensim-dom%u-mem", domid);
        rc = sealed_memfd(mname, (size_t)pages * 4096, &d->mem_fd, &d->mem_ro_fd);
        if (rc < 0)
                goto fail;
        snprintf(mname, sizeof(mname), "xensim-dom%u-gnttab", domid);
        rc = sealed_memfd(mname, XSIM_GT_BYTES, &d->gt_fd, &d->gt_ro_fd);
        if (rc < 0)
                goto fail;
        d->gt = mmap(NULL, XSIM_GT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, d->gt_fd, 0);
        if (d->gt == MAP_FAILED) {
                rc = -errno;
                goto fail;
        }
        h = (struct xsim_gt_header *)d->gt;
        h->magic = XSIM_PROTO_MAGIC;
        h->entries = XSIM_GT_ENTRIES;
        d->rd_pins = calloc(XSIM_GT_ENTRIES, sizeof(uint16_t));
        d->wr_pins = calloc(XSIM_GT_ENTRIES, sizeof(uint16_t));
        if (!d->rd_pins || !d->wr_pins) {
                rc = -ENOMEM;
                goto fail;
        }
        snprintf(sock, sizeof(sock), "%s/dom%u.sock", x->dir, domid);
        rc = xss_domain_add(x->xss, domid, d->name, sock);
        if (rc < 0) {
                xlog(x, XLOG_ERR, "dom%u: xenstore introduction failed: %s", domid, strerror(-rc));
                goto fail;
        }
        x->doms[domid] = d;
        *out = d;
        xlog(x, XLOG_INFO, "dom%u '%s' created (%u pages)", domid, d->name, pages);
        return 0;
fail:
        xlog(x, XLOG_ERR, "creating domain '%s': %s", d->name, strerror(-rc));
        dom_free(d);
        return rc;
}

static void pin_drop_domain(struct xsim_client *c, uint32_t domid)
{
        uint32_t i, j;

        for (i = j = 0; i < c->npins; i++)
                if (c->pins[i].domid != domid)
                        c->pins[j++] = c->pins[i];
        c->npins = j;
}

void dom_release(struct xsim *x, struct xsim_dom *d)
{
        struct xsim_gt_header *h = (struct xsim_gt_header *)d->gt;
        struct xsim_client *c;
        int rc;

        evtchn_close_all(x, d, NULL);
        for (c = x->clients; c; c = c->next)
                pin_drop_domain(c, d->domid);
        /* Revoke everything: cached copy views see dead and an empty table. */
        memset(d->gt + XSIM_GT_ENTRY_OFF, 0, XSIM_GT_BYTES - XSIM_GT_ENTRY_OFF);
        __atomic_store_n(&h->dead, 1, __ATOMIC_RELEASE);
        rc = xss_domain_remove(x->xss, d->domid);
        if (rc < 0)
                xlog(x, XLOG_WARN, "dom%u: xenstore release: %s", d->domid, strerror(-rc));
        x->doms[d->domid] = NULL;
        xlog(x, XLOG_INFO, "dom%u '%s' released", d->domid, d->name);
        dom_free(d);
}

static uint32_t *gt_word(struct xsim_dom *d, uint32_t ref)
{
        return (uint32_t *)(d->gt + XSIM_GT_ENTRY_OFF) + 2 * ref;
}

static void unpin(struct xsim_dom *d, uint32_t ref, int writable)
{
        uint32_t clear = 0;

        if (d->rd_pins[ref] && --d->rd_pins[ref] == 0)
                clear |= XSIM_GTF_reading;
        if (writable && d->wr_pins[ref] && --d->wr_pins[ref] == 0)
                clear |= XSIM_GTF_writing;
        if (clear)
                __atomic_fetch_and(gt_word(d, ref), ~clear, __ATOMIC_ACQ_REL);
}

/* Validate and pin one ref for domain mapper; *frame gets its frame. */
static int pin(struct xsim_dom *d, uint32_t mapper, uint32_t ref, int writable, uint32_t *frame)
{
        uint32_t *w = NULL, old, nw, flags;

        if (ref >= XSIM_GT_ENTRIES)
                return -ENOENT;
        if (d->rd_pins[ref] == UINT16_MAX || d->wr_pins[ref] == UINT16_MAX)
                return -EBUSY;
        w = gt_word(d, ref);
        old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        do {
                flags = old & 0xffff;
                if ((flags & XSIM_GTF_type_mask) != XSIM_GTF_permit_access)
                        return -ENOENT;
                if ((old >> 16) != mapper)
                        return -EPERM;
                if (writable && (flags & XSIM_GTF_readonly))
                        return -EPERM;
                nw = old | XSIM_GTF_reading | (writable ? XSIM_GTF_writing : 0);
        } while (
            !__atomic_compare_exchange_n(w, &old, nw, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
        d->rd_pins[ref]++;
        if (writable)
                d->wr_pins[ref]++;
        /* Pinned: a well-behaved guest no longer changes the frame. */
        *frame = __atomic_load_n(w + 1, __ATOMIC_ACQUIRE);
        if (*frame >= d->pages) {
                unpin(d, ref, writable);
                return -EFAULT;
        }
        return 0;
}

static int client_pin_add(struct xsim_client *c, uint32_t domid, uint32_t ref, int writable)
{
        uint32_t i;

        for (i = 0; i < c->npins; i++) {
                struct xsim_pin *p = &c->pins[i];

                if (p->domid == domid && p->ref == ref && p->writable == (uint32_t)writable) {
                        p->n++;
                        return 0;
                }
        }
        if (c->npins == c->cappins) {
                uint32_t n = c->cappins ? c->cappins * 2 : 64;
                struct xsim_pin *np = realloc(c->pins, n * sizeof(*np));

                if (!np)
                        return -ENOMEM;
                c->pins = np;
                c->cappins = n;
        }
        c->pins[c->npins++] = (struct xsim_pin){domid, ref, (uint32_t)writable, 1};
        return 0;
}

/* Drop one of c's pins of (domid, ref, writable); -EINVAL if c has none. */
static int client_pin_del(struct xsim_client *c, uint32_t domid, uint32_t ref, int writable)
{
        uint32_t i;

        for (i = 0; i < c->npins; i++) {
                struct xsim_pin *p = &c->pins[i];

                if (p->domid == domid && p->ref == ref && p->writable == (uint32_t)writable) {
                        if (--p->n == 0)
                                c->pins[i] = c->pins[--c->npins];
                        return 0;
                }
        }
        return -EINVAL;
}

int dom_gnt_map(struct xsim *x, struct xsim_client *c, uint32_t domid, uint32_t count,
                uint32_t *refs, int writable)
{
        struct xsim_dom *d = dom_get(x, domid);
        uint32_t i, frames[XSIM_MAP_MAX];
        int rc = 0;

        if (!d || domid == 0)
                return -ESRCH;
        if (count == 0 || count > XSIM_MAP_MAX)
                return -EINVAL;
        for (i = 0; i < count; i++) {
                rc = pin(d, c->dom->domid, refs[i], writable, &frames[i]);
                if (rc == 0) {
                        rc = client_pin_add(c, domid, refs[i], writable);
                        if (rc < 0)
                                unpin(d, refs[i], writable);
                }
                if (rc < 0) {
                        xlog(x, XLOG_INFO, "dom%u: map of ref %u by dom%u refused: %s", domid,
                             refs[i], c->dom->domid, strerror(-rc));
                        break;
                }
        }
        if (rc < 0) {
                while (i--) { /* all or nothing */
                        client_pin_del(c, domid, refs[i], writable);
                        unpin(d, refs[i], writable);
                }
                return rc;
        }
        memcpy(refs, frames, count * sizeof(*refs)); /* the reply carries frames */
        return 0;
}

int dom_gnt_unmap(struct xsim *x, struct xsim_client *c, uint32_t domid, uint32_t count,
                  const uint32_t *refs, int writable)
{
        struct xsim_dom *d = dom_get(x, domid);
        uint32_t i;
        int rc = 0;

        if (count > XSIM_MAP_MAX)
                return -EINVAL;
        for (i = 0; i < count; i++) {
                if (client_pin_del(c, domid, refs[i], writable) < 0) {
                        rc = -EINVAL;
                        continue;
                }
                if (d && refs[i] < XSIM_GT_ENTRIES)
                        unpin(d, refs[i], writable);
        }
        if (!d)
                return -ESRCH; /* released meanwhile: its pins are gone */
        return rc;
}

void dom_unpin_all(struct xsim *x, struct xsim_client *c)
{
        uint32_t i;

        for (i = 0; i < c->npins; i++) {
                struct xsim_pin *p = &c->pins[i];
                struct xsim_dom *d = dom_get(x, p->domid);

                while (d && p->n--)
                        unpin(d, p->ref, (int)p->writable);
        }
        c->npins = 0;
}
