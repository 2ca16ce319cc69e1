/* guest_fe.c: libbn_guest's front-end helpers (bn_guest_fe_*), the part of
 * the xenbus handshake that every simulated front-end (sim-blkguest,
 * sim-netguest, sim-testfront) does the same way: the device's front-end
 * and back-end paths, declaring the device as the toolstack would, writing
 * front-end keys, reading back-end keys, and granting ring pages. */
#include "bn_guest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "bn_hv.h"

int bn_guest_fe_init(struct bn_guest_fe *fe, struct bn_guest *g, const char *sim_dir,
                     const char *who, const char *type, uint32_t devid, uint32_t be_domid)
{
        uint32_t domid = bn_guest_domid(g);
        size_t n1, n2;

        memset(fe, 0, sizeof(*fe));
        fe->g = g;
        fe->sim_dir = sim_dir;
        fe->who = who;
        fe->type = type;
        fe->domid = domid;
        fe->devid = devid;
        fe->be_domid = be_domid;
        n1 = (size_t)snprintf(fe->fe_path, sizeof(fe->fe_path), "/local/domain/%u/device/%s/%u",
                              domid, type, devid);
        n2 = (size_t)snprintf(fe->be_path, sizeof(fe->be_path), "/local/domain/%u/backend/%s/%u/%u",
                              be_domid, type, domid, devid);
        return n1 >= sizeof(fe->fe_path) || n2 >= sizeof(fe->be_path) ? -ENAMETOOLONG : 0;
}

/* Run add or remove on dom0, or on a Dom0 connection opened for the call. */
static int xl_dev(struct bn_guest_fe *fe, struct xs_handle *dom0, const char *const *extra_be,
                  int add)
{
        struct bn_hv *hv = NULL;
        struct xs_handle *xs = dom0;
        int rc = 0;

        if (!xs) {
                rc = bn_hv_open(&hv, "xensim", fe->sim_dir);
                if (rc < 0)
                        goto out;
                xs = bn_hv_xs_open(hv);
                if (!xs) {
                        rc = errno ? -errno : -EIO;
                        goto out;
                }
        }
        if (add)
                rc = bn_sim_xl_add_device(xs, fe->domid, fe->be_domid, fe->type, fe->devid,
                                          extra_be);
        else
                rc = bn_sim_xl_remove_device(xs, fe->domid, fe->be_domid, fe->type, fe->devid);
out:
        if (xs && xs != dom0)
                xs_close(xs);
        if (hv)
                bn_hv_close(hv);
        return rc;
}

int bn_guest_fe_declare(struct bn_guest_fe *fe, struct xs_handle *dom0, const char *const *extra_be)
{
        int rc = xl_dev(fe, dom0, extra_be, 1);

        if (rc < 0 && fe->who)
                fprintf(stderr, "%s: declaring %s %u failed: %s\n", fe->who, fe->type, fe->devid,
                        strerror(-rc));
        if (rc == 0)
                fe->declared = true;
        return rc;
}

void bn_guest_fe_undeclare(struct bn_guest_fe *fe, struct xs_handle *dom0)
{
        xl_dev(fe, dom0, NULL, 0);
        fe->declared = false;
}

int bn_guest_fe_write(struct bn_guest_fe *fe, const char *key, const char *fmt, ...)
{
        char path[256], val[64];
        va_list ap;
        int rc;

        va_start(ap, fmt);
        vsnprintf(val, sizeof(val), fmt, ap);
        va_end(ap);
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", fe->fe_path, key) >= sizeof(path))
                return -ENAMETOOLONG;
        if (!bn_guest_xs(fe->g) ||
            !xs_write(bn_guest_xs(fe->g), XBT_NULL, path, val, (unsigned)strlen(val))) {
                rc = errno ? -errno : -EIO;
                if (fe->who)
                        fprintf(stderr, "%s: cannot write %s: %s\n", fe->who, path, strerror(-rc));
                return rc;
        }
        return 0;
}

uint64_t bn_guest_fe_be_uint(struct bn_guest_fe *fe, const char *key, uint64_t def)
{
        char path[256];
        unsigned len;
        uint64_t r = def;
        char *v;

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", fe->be_path, key) >= sizeof(path) ||
            !bn_guest_xs(fe->g))
                return def;
        v = xs_read(bn_guest_xs(fe->g), XBT_NULL, path, &len);
        if (v) {
                r = strtoull(v, NULL, 10);
                free(v);
        }
        return r;
}

int bn_guest_fe_grant_ring(struct bn_guest_fe *fe, uint32_t npages, uint32_t *pfn, int *refs)
{
        int rc = bn_guest_alloc_pages(fe->g, npages, pfn);

        if (rc < 0)
                return rc;
        for (uint32_t i = 0; i < npages; i++) {
                refs[i] = bn_guest_grant(fe->g, *pfn + i, fe->be_domid, 0);
                if (refs[i] < 0)
                        return refs[i];
        }
        return 0;
}
