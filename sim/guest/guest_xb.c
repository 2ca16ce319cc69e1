/* guest_xb.c: libbn_guest's xenbus helpers (state read / write / wait on
 * the guest's own xenstore connection) and the toolstack part, what xl
 * writes when a device is declared (bn_sim_xl_add_device / _remove_device)
 * on a Dom0 connection. */
#include "bn_guest.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

int bn_guest_xb_set_state(struct bn_guest *g, const char *dir, enum xenbus_state st)
{
        char path[PATH_MAX], val[16];
        int n = snprintf(val, sizeof(val), "%d", (int)st);

        if ((size_t)snprintf(path, sizeof(path), "%s/state", dir) >= sizeof(path))
                return -ENAMETOOLONG;
        if (!bn_guest_xs(g) || !xs_write(bn_guest_xs(g), XBT_NULL, path, val, (unsigned)n))
                return errno ? -errno : -EIO;
        return 0;
}

static int read_state(struct xs_handle *xs, const char *path)
{
        unsigned int len;
        char *v, *end;
        long st;

        v = xs_read(xs, XBT_NULL, path, &len);
        if (!v)
                return errno ? -errno : -ENOENT;
        st = strtol(v, &end, 10);
        if (end == v || *end || st < 0 || st > XenbusStateReconfigured) {
                free(v);
                return -EINVAL;
        }
        free(v);
        return (int)st;
}

int bn_guest_xb_get_state(struct bn_guest *g, const char *dir)
{
        char path[PATH_MAX];

        if ((size_t)snprintf(path, sizeof(path), "%s/state", dir) >= sizeof(path))
                return -ENAMETOOLONG;
        if (!bn_guest_xs(g))
                return -ENOTCONN;
        return read_state(bn_guest_xs(g), path);
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bn_guest_xb_wait_state(struct bn_guest *g, const char *dir, enum xenbus_state want,
                           int timeout_ms)
{
        struct xs_handle *xs = bn_guest_xs(g);
        char path[PATH_MAX], token[64];
        long long deadline = now_ms() + timeout_ms;
        int rc, st;

        if (!xs)
                return -ENOTCONN;
        if ((size_t)snprintf(path, sizeof(path), "%s/state", dir) >= sizeof(path))
                return -ENAMETOOLONG;
        snprintf(token, sizeof(token), "bn_guest_wait:%p", (void *)g);
        if (!xs_watch(xs, path, token))
                return errno ? -errno : -EIO;
        for (;;) {
                struct pollfd pfd = {.fd = xs_fileno(xs), .events = POLLIN};
                char **ev;
                long long left;

                st = read_state(xs, path);
                if (st == (int)want) {
                        rc = 0;
                        break;
                }
                if (st == XenbusStateClosing || st == XenbusStateClosed) {
                        if (want != XenbusStateClosing && want != XenbusStateClosed) {
                                rc = -EPIPE;
                                break;
                        }
                }
                left = deadline - now_ms();
                if (left <= 0) {
                        rc = -ETIMEDOUT;
                        break;
                }
                rc = poll(&pfd, 1, (int)left);
                if (rc < 0 && errno != EINTR) {
                        rc = -errno;
                        break;
                }
                while ((ev = xs_check_watch(xs)))
                        free(ev);
        }
        xs_unwatch(xs, path, token);
        return rc;
}

/* ---- the toolstack part ---------------------------------------------- */

static int xl_write(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
                    const char *val, struct xs_permissions *perms)
{
        char path[PATH_MAX];

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
                return -ENAMETOOLONG;
        if (!xs_write(xs, t, path, val, (unsigned)strlen(val)) ||
            !xs_set_permissions(xs, t, path, perms, 2)) {
                fprintf(stderr, "bn_sim_xl: writing %s: %s\n", path, strerror(errno));
                return errno ? -errno : -EIO;
        }
        return 0;
}

static void dev_paths(char *fe, char *be, size_t n, uint32_t fe_domid, uint32_t be_domid,
                      const char *type, uint32_t devid)
{
        snprintf(fe, n, "/local/domain/%u/device/%s/%u", fe_domid, type, devid);
        snprintf(be, n, "/local/domain/%u/backend/%s/%u/%u", be_domid, type, fe_domid, devid);
}

int bn_sim_xl_add_device(struct xs_handle *dom0, uint32_t fe_domid, uint32_t be_domid,
                         const char *type, uint32_t devid, const char *const *extra_be)
{
        /* Like libxl: each side owns its directory, the other side reads it. */
        struct xs_permissions fe_perms[2] = {{fe_domid, XS_PERM_NONE}, {be_domid, XS_PERM_READ}};
        struct xs_permissions be_perms[2] = {{be_domid, XS_PERM_NONE}, {fe_domid, XS_PERM_READ}};
        char fe[PATH_MAX], be[PATH_MAX], num[16], bid[16], fid[16];
        int rc, tries;

        if (!dom0 || !type || !*type || strchr(type, '/'))
                return -EINVAL;
        dev_paths(fe, be, sizeof(fe), fe_domid, be_domid, type, devid);
        snprintf(num, sizeof(num), "%u", devid);
        snprintf(bid, sizeof(bid), "%u", be_domid);
        snprintf(fid, sizeof(fid), "%u", fe_domid);
        for (tries = 0; tries < 16; tries++) {
                xs_transaction_t t = xs_transaction_start(dom0);
                size_t i;

                if (t == XBT_NULL)
                        return errno ? -errno : -EIO;
                xs_rm(dom0, t, fe);
                xs_rm(dom0, t, be);
                rc = -EIO;
                if (!xs_mkdir(dom0, t, fe) || !xs_set_permissions(dom0, t, fe, fe_perms, 2) ||
                    !xs_mkdir(dom0, t, be) || !xs_set_permissions(dom0, t, be, be_perms, 2)) {
                        rc = errno ? -errno : -EIO;
                        fprintf(stderr, "bn_sim_xl: creating %s / %s: %s\n", fe, be, strerror(-rc));
                        goto abort;
                }
                if ((rc = xl_write(dom0, t, fe, "backend", be, fe_perms)) < 0 ||
                    (rc = xl_write(dom0, t, fe, "backend-id", bid, fe_perms)) < 0 ||
                    (rc = xl_write(dom0, t, fe, "state", "1", fe_perms)) < 0 ||
                    (rc = xl_write(dom0, t, fe, "handle", num, fe_perms)) < 0 ||
                    (rc = xl_write(dom0, t, be, "frontend", fe, be_perms)) < 0 ||
                    (rc = xl_write(dom0, t, be, "frontend-id", fid, be_perms)) < 0 ||
                    (rc = xl_write(dom0, t, be, "state", "1", be_perms)) < 0 ||
                    (rc = xl_write(dom0, t, be, "online", "1", be_perms)) < 0 ||
                    (rc = xl_write(dom0, t, be, "handle", num, be_perms)) < 0)
                        goto abort;
                for (i = 0; extra_be && extra_be[i] && extra_be[i + 1]; i += 2)
                        if ((rc = xl_write(dom0, t, be, extra_be[i], extra_be[i + 1], be_perms)) <
                            0)
                                goto abort;
                if (xs_transaction_end(dom0, t, false))
                        return 0;
                if (errno != EAGAIN)
                        return errno ? -errno : -EIO;
                continue;
        abort:
                xs_transaction_end(dom0, t, true);
                return rc;
        }
        return -EAGAIN;
}

int bn_sim_xl_remove_device(struct xs_handle *dom0, uint32_t fe_domid, uint32_t be_domid,
                            const char *type, uint32_t devid)
{
        char fe[PATH_MAX], be[PATH_MAX];
        int tries;

        if (!dom0 || !type || !*type || strchr(type, '/'))
                return -EINVAL;
        dev_paths(fe, be, sizeof(fe), fe_domid, be_domid, type, devid);
        for (tries = 0; tries < 16; tries++) {
                xs_transaction_t t = xs_transaction_start(dom0);

                if (t == XBT_NULL)
                        return errno ? -errno : -EIO;
                xs_rm(dom0, t, fe);
                xs_rm(dom0, t, be);
                if (xs_transaction_end(dom0, t, false))
                        return 0;
                if (errno != EAGAIN)
                        return errno ? -errno : -EIO;
        }
        return -EAGAIN;
}
