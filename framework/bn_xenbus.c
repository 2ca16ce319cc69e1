/* bn_xenbus.c: the xenbus back-end state machine (see bn_xenbus.h): device
 * discovery under backend/<type>/, the front-end state watch, transitions,
 * removal and fatal errors. The class helpers (keys, rings, event channels)
 * live in bn_xenbus_helpers.c; shared internals in bn_xenbus_int.h. */
#include "bn_xenbus_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

static const char *const state_names[] = {"Unknown",     "Initialising",  "InitWait",
                                          "Initialised", "Connected",     "Closing",
                                          "Closed",      "Reconfiguring", "Reconfigured"};

const char *bn_xb_state_name(int st)
{
        if (st < 0 || st > 8)
                return "invalid";
        return state_names[st];
}

/* Read path into a malloc'd string, or NULL (errno set). */
char *bn_xb_xs_read(struct bn_xenbus *xb, const char *path)
{
        unsigned len;
        return xs_read(xb->xs, XBT_NULL, path, &len);
}

int bn_xb_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
        if (!s || !*s || strlen(s) > 20)
                return -EINVAL;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        if (v > max)
                return -EINVAL;
        *out = v;
        return 0;
}

static int write_be_state(struct bn_xb_dev *dev, enum xenbus_state st)
{
        char path[BN_XB_PATH_MAX + 8], val[4];
        snprintf(path, sizeof(path), "%s/state", dev->be_path);
        snprintf(val, sizeof(val), "%d", (int)st);
        if (!xs_write(dev->xb->xs, XBT_NULL, path, val, strlen(val))) {
                int rc = -errno;
                bn_warn(dev->name, "cannot write %s: %s", path, strerror(errno));
                return rc;
        }
        if (dev->be_state != st)
                bn_info(dev->name, "back-end state %s -> %s", bn_xb_state_name(dev->be_state),
                        bn_xb_state_name(st));
        dev->be_state = st;
        return 0;
}

static bool be_dir_exists(struct bn_xb_dev *dev)
{
        char *v = bn_xb_xs_read(dev->xb, dev->be_path);
        if (!v)
                return errno != ENOENT;
        free(v);
        return true;
}

/* Stop the class's I/O and release the handles. */
static void do_disconnect(struct bn_xb_dev *dev)
{
        if (dev->connected) {
                dev->connected = false;
                if (dev->cls->disconnect)
                        dev->cls->disconnect(dev, dev->ep);
                bn_info(dev->name, "disconnected from the front-end");
        }
        if (dev->ep)
                bn_endpoint_set_state(dev->ep, BN_EP_DOWN);
        if (dev->gnt) {
                bn_gnt_close(dev->gnt);
                dev->gnt = NULL;
        }
        if (dev->evtchn) {
                bn_evtchn_close(dev->evtchn);
                dev->evtchn = NULL;
        }
}

static void unwatch_fe(struct bn_xb_dev *dev)
{
        if (!dev->fe_watched)
                return;
        char path[BN_XB_PATH_MAX + 8];
        snprintf(path, sizeof(path), "%s/state", dev->fe_path);
        xs_unwatch(dev->xb->xs, path, dev->token);
        dev->fe_watched = false;
}

/* Let go of everything of the device: disconnect, class remove, endpoint
 * freed. With close, the back-end goes to Closed (the Xen way: the front-end
 * gives the device up); without, its state is left as it is, so a bananad
 * that starts later takes the device back (bn_xenbus_detach). The device
 * stays in the list as a tombstone (dead) until its back-end directory
 * disappears, so that it is not probed again. */
static void let_go(struct bn_xb_dev *dev, bool close)
{
        do_disconnect(dev);
        unwatch_fe(dev);
        if (close && dev->be_state != XenbusStateClosed && be_dir_exists(dev))
                write_be_state(dev, XenbusStateClosed);
        if (close)
                bn_xb_journal_remove(dev);
        /* Ports first: after they are closed no wire callback of the device
         * runs on its loop, so the class's remove frees nothing in use. */
        if (dev->ep)
                bn_endpoint_close_ports(dev->ep);
        if (dev->probed && dev->cls->remove)
                dev->cls->remove(dev, dev->ep);
        dev->probed = false;
        if (dev->ep) {
                bn_xb_drop_name(dev);
                bn_endpoint_free(dev->ep);
                dev->ep = NULL;
        }
        dev->dead = true;
}

static void release_dev(struct bn_xb_dev *dev, const char *why)
{
        if (dev->dead)
                return;
        bn_info(dev->name, "releasing the device: %s", why);
        let_go(dev, true);
}

static void free_dev(struct bn_xb_dev *dev)
{
        struct bn_xenbus *xb = dev->xb;
        for (struct bn_xb_dev **pp = &xb->devs; *pp; pp = &(*pp)->next) {
                if (*pp == dev) {
                        *pp = dev->next;
                        break;
                }
        }
        xb->ndevs--;
        free(dev);
}

void bn_xb_fatal_v(struct bn_xb_dev *dev, int err, const char *fmt, va_list ap)
{
        char msg[512], val[600], path[BN_XB_PATH_MAX + 64];
        if (err < 0)
                err = -err;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        snprintf(val, sizeof(val), "%d %s", err, msg);
        bn_err(dev->name, "fatal: %s (%s)", msg, strerror(err));
        /* error/<backend path relative to our domain path>/error */
        const char *rel = dev->be_path + strlen(dev->xb->dom_path);
        while (*rel == '/')
                rel++;
        snprintf(path, sizeof(path), "%s/error/%s/error", dev->xb->dom_path, rel);
        if (!xs_write(dev->xb->xs, XBT_NULL, path, val, strlen(val)))
                bn_warn(dev->name, "cannot write %s: %s", path, strerror(errno));
        dev->failed = true;
        if (dev->ep)
                bn_endpoint_set_error(dev->ep, "%s", msg);
        do_disconnect(dev);
        if (!dev->dead)
                write_be_state(dev, XenbusStateClosing);
}

void bn_xb_fatal(struct bn_xb_dev *dev, int err, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        bn_xb_fatal_v(dev, err, fmt, ap);
        va_end(ap);
}

struct fail_msg {
        struct bn_xenbus *xb;
        uint64_t serial;
        int err;
        char msg[480];
};

static void fail_on_main(void *arg)
{
        struct fail_msg *f = arg;
        for (struct bn_xb_dev *d = f->xb->devs; d; d = d->next) {
                if (d->serial == f->serial && !d->dead && d->connected) {
                        bn_xb_fatal(d, f->err, "%s", f->msg);
                        break;
                }
        }
        free(f);
}

void bn_xb_fail(struct bn_xb_dev *dev, int err, const char *fmt, ...)
{
        struct fail_msg *f = calloc(1, sizeof(*f));
        if (!f)
                return;
        f->xb = dev->xb;
        f->serial = dev->serial;
        f->err = err;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
        va_end(ap);
        if (bn_loop_call(dev->xb->cfg.loop, fail_on_main, f))
                free(f);
}

struct write_msg {
        struct bn_xenbus *xb;
        uint64_t serial;
        char key[64], val[256];
};

static void write_on_main(void *arg)
{
        struct write_msg *w = arg;
        for (struct bn_xb_dev *d = w->xb->devs; d; d = d->next)
                if (d->serial == w->serial && !d->dead) {
                        bn_xb_write(d, w->key, "%s", w->val);
                        break;
                }
        free(w);
}

void bn_xb_write_async(struct bn_xb_dev *dev, const char *key, const char *fmt, ...)
{
        struct write_msg *w = calloc(1, sizeof(*w));
        va_list ap;
        if (!w)
                return;
        w->xb = dev->xb;
        w->serial = dev->serial;
        snprintf(w->key, sizeof(w->key), "%s", key);
        va_start(ap, fmt);
        vsnprintf(w->val, sizeof(w->val), fmt, ap);
        va_end(ap);
        if (bn_loop_call(dev->xb->cfg.loop, write_on_main, w))
                free(w);
}

static void do_connect(struct bn_xb_dev *dev)
{
        int rc;
        dev->failed = false;
        /* The toolstack's keys may have changed since probe: check again. */
        rc = bn_xb_check_frontend(dev);
        if (rc)
                return; /* reported */
        rc = bn_gnt_open(dev->xb->cfg.hv, &dev->gnt);
        if (rc) {
                bn_xb_fatal(dev, rc, "cannot open a grant handle");
                return;
        }
        rc = bn_evtchn_open(dev->xb->cfg.hv, &dev->evtchn);
        if (rc) {
                bn_xb_fatal(dev, rc, "cannot open an event-channel handle");
                return;
        }
        bn_xb_take_name(dev);
        rc = dev->cls->connect(dev, dev->ep);
        dev->resuming = false;
        if (rc) {
                if (!dev->failed)
                        bn_xb_fatal(dev, rc, "connecting the %s device failed", dev->type);
                else
                        do_disconnect(dev);
                return;
        }
        dev->connected = true;
        bn_endpoint_set_state(dev->ep,
                              bn_endpoint_has_ports(dev->ep) ? BN_EP_CONNECTED : BN_EP_READY);
        write_be_state(dev, XenbusStateConnected);
        bn_info(dev->name, "connected to the front-end of domain %u", dev->fe_domid);
}

/* The front-end's state changed (or may have). */
static void fe_changed(struct bn_xb_dev *dev)
{
        char path[BN_XB_PATH_MAX + 8];
        snprintf(path, sizeof(path), "%s/state", dev->fe_path);
        char *v = bn_xb_xs_read(dev->xb, path);
        uint64_t st = 0;
        if (!v) {
                if (errno == ENOENT) {
                        release_dev(dev, "the front-end's state node vanished (domain gone?)");
                        return;
                }
                bn_warn(dev->name, "cannot read %s: %s", path, strerror(errno));
                return;
        }
        int rc = bn_xb_parse_uint(v, 8, &st);
        free(v);
        if (rc) {
                if (!dev->failed)
                        bn_xb_fatal(dev, EINVAL, "front-end state is not a xenbus state");
                return;
        }
        if ((int)st != dev->fe_state)
                bn_info(dev->name, "front-end state %s", bn_xb_state_name((int)st));
        int prev = dev->fe_state;
        dev->fe_state = (int)st;
        if (dev->reattach) {
                dev->reattach = false;
                /* Only a front-end that is still connected can be re-attached
                 * to; any other one gets the ordinary handshake. */
                if (st != XenbusStateConnected)
                        write_be_state(dev, XenbusStateInitWait);
                else
                        dev->resuming = true;
        }

        switch (st) {
        case XenbusStateInitialising:
        case XenbusStateInitWait:
                /* A front-end that restarts (reboot, kexec): take it back. */
                if (dev->connected || dev->be_state == XenbusStateClosed ||
                    dev->be_state == XenbusStateClosing || dev->be_state == XenbusStateConnected) {
                        if (dev->connected)
                                bn_info(dev->name, "front-end restarted: taking it back");
                        do_disconnect(dev);
                        dev->failed = false;
                        write_be_state(dev, XenbusStateInitWait);
                }
                break;
        case XenbusStateInitialised:
        case XenbusStateConnected:
                if (dev->connected || dev->failed)
                        break;
                if (dev->be_state == XenbusStateClosed) {
                        write_be_state(dev, XenbusStateInitWait);
                }
                if (dev->be_state == XenbusStateInitWait)
                        do_connect(dev);
                break;
        case XenbusStateClosing:
                do_disconnect(dev);
                write_be_state(dev, XenbusStateClosing);
                break;
        case XenbusStateClosed:
                do_disconnect(dev);
                if (dev->be_state != XenbusStateClosing && prev != XenbusStateClosing)
                        write_be_state(dev, XenbusStateClosing);
                write_be_state(dev, XenbusStateClosed);
                if (!dev->online)
                        release_dev(dev, "the device is offline and the front-end closed");
                break;
        default:
                break;
        }
}

/* Check a known device after a change under its back-end directory. */
static void be_changed(struct bn_xb_dev *dev, const char *key)
{
        if (!be_dir_exists(dev)) {
                release_dev(dev, "the back-end directory was removed");
                free_dev(dev);
                return;
        }
        if (dev->dead)
                return;
        if (key && !strcmp(key, "online")) {
                char buf[8];
                if (bn_xb_read_be(dev, "online", buf, sizeof(buf)) == 0 && !strcmp(buf, "0") &&
                    dev->online) {
                        dev->online = false;
                        bn_info(dev->name, "the toolstack set online=0: closing");
                        if (dev->fe_state == XenbusStateClosed || dev->fe_state < 0) {
                                release_dev(dev, "offline");
                        } else {
                                do_disconnect(dev);
                                write_be_state(dev, XenbusStateClosing);
                        }
                }
        }
}

static struct bn_xb_dev *find_dev(struct bn_xenbus *xb, const char *type, uint32_t fe,
                                  uint32_t devid)
{
        for (struct bn_xb_dev *d = xb->devs; d; d = d->next)
                if (d->fe_domid == fe && d->devid == devid && !strcmp(d->type, type))
                        return d;
        return NULL;
}

/* A device directory we do not know yet: probe it when the toolstack has
 * written what we need. */
static void maybe_probe(struct bn_xenbus *xb, const struct bn_devclass *cls, const char *type,
                        uint32_t fe, uint32_t devid)
{
        char be_path[BN_XB_PATH_MAX], path[BN_XB_PATH_MAX + 16];
        snprintf(be_path, sizeof(be_path), "%s/backend/%s/%u/%u", xb->dom_path, type, fe, devid);
        snprintf(path, sizeof(path), "%s/frontend-id", be_path);
        char *v = bn_xb_xs_read(xb, path);
        if (!v)
                return; /* not complete yet */
        free(v);
        snprintf(path, sizeof(path), "%s/frontend", be_path);
        v = bn_xb_xs_read(xb, path);
        if (!v)
                return;
        free(v);

        struct bn_xb_dev *dev = calloc(1, sizeof(*dev));
        if (!dev)
                return;
        dev->xb = xb;
        dev->cls = cls;
        dev->serial = ++xb->serial;
        snprintf(dev->type, sizeof(dev->type), "%s", type);
        dev->fe_domid = fe;
        dev->devid = devid;
        snprintf(dev->be_path, sizeof(dev->be_path), "%s", be_path);
        snprintf(dev->token, sizeof(dev->token), "fe:%" PRIu64, dev->serial);
        snprintf(dev->name, sizeof(dev->name), "%s/%u/%u", type, fe, devid);
        dev->fe_state = -1;
        dev->be_state = XenbusStateInitialising;
        dev->online = true;
        dev->next = xb->devs;
        xb->devs = dev;
        xb->ndevs++;
        bn_info(dev->name, "new device: %s", be_path);

        if (bn_xb_check_frontend(dev)) {
                /* reported (fatal); keep it as a tombstone */
                dev->dead = true;
                return;
        }
        if (bn_xb_make_endpoint(dev)) {
                bn_xb_fatal(dev, ENOMEM, "cannot create the spike endpoint");
                dev->dead = true;
                return;
        }
        int rc = cls->probe(dev, dev->ep);
        if (rc) {
                bn_xb_fatal(dev, rc, "probing the %s device failed", type);
                release_dev(dev, "probe failed");
                return;
        }
        dev->probed = true;
        /* An earlier bananad left this back-end Connected (it was restarted
         * or killed): if the front-end is still Connected, re-attach to its
         * rings without a visible state change (fe_changed decides). */
        snprintf(path, sizeof(path), "%s/state", be_path);
        v = bn_xb_xs_read(xb, path);
        if (v && strcmp(v, "4") == 0) {
                dev->reattach = true;
                dev->be_state = XenbusStateInitWait; /* as if written */
                bn_info(dev->name, "back-end was left Connected: re-attaching");
        } else {
                write_be_state(dev, XenbusStateInitWait);
        }
        free(v);
        snprintf(path, sizeof(path), "%s/state", dev->fe_path);
        if (!xs_watch(xb->xs, path, dev->token)) {
                bn_xb_fatal(dev, errno, "cannot watch %s", path);
                release_dev(dev, "no watch");
                return;
        }
        dev->fe_watched = true; /* the initial watch event runs fe_changed */
}

static void scan_fe(struct bn_xenbus *xb, struct bn_xb_type *t, uint32_t fe)
{
        char path[BN_XB_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%u", t->path, fe);
        unsigned n = 0;
        char **ents = xs_directory(xb->xs, XBT_NULL, path, &n);
        for (unsigned i = 0; ents && i < n; i++) {
                uint64_t devid;
                if (bn_xb_parse_uint(ents[i], UINT32_MAX, &devid))
                        continue;
                if (!find_dev(xb, t->type, fe, (uint32_t)devid))
                        maybe_probe(xb, t->cls, t->type, fe, (uint32_t)devid);
        }
        free(ents);
        /* known devices of this front-end whose directory is gone */
        struct bn_xb_dev *d = xb->devs, *next;
        for (; d; d = next) {
                next = d->next;
                if (d->fe_domid == fe && !strcmp(d->type, t->type))
                        be_changed(d, NULL);
        }
}

static void scan_type(struct bn_xenbus *xb, struct bn_xb_type *t)
{
        unsigned n = 0;
        char **ents = xs_directory(xb->xs, XBT_NULL, t->path, &n);
        for (unsigned i = 0; ents && i < n; i++) {
                uint64_t fe;
                if (bn_xb_parse_uint(ents[i], UINT32_MAX, &fe) == 0)
                        scan_fe(xb, t, (uint32_t)fe);
        }
        free(ents);
        struct bn_xb_dev *d = xb->devs, *next;
        for (; d; d = next) {
                next = d->next;
                if (!strcmp(d->type, t->type))
                        be_changed(d, NULL);
        }
}

/* A watch event under backend/<type>. */
static void type_event(struct bn_xenbus *xb, struct bn_xb_type *t, const char *path)
{
        size_t pl = strlen(t->path);
        if (strncmp(path, t->path, pl) || (path[pl] && path[pl] != '/'))
                return;
        const char *rest = path + pl;
        if (!*rest || !rest[1]) {
                scan_type(xb, t);
                return;
        }
        rest++;
        char comp[2][24];
        const char *key = NULL;
        unsigned nc = 0;
        while (nc < 2 && *rest) {
                const char *sl = strchr(rest, '/');
                size_t l = sl ? (size_t)(sl - rest) : strlen(rest);
                if (l >= sizeof(comp[0]))
                        return;
                memcpy(comp[nc], rest, l);
                comp[nc][l] = '\0';
                nc++;
                rest = sl ? sl + 1 : rest + l;
        }
        if (nc == 2 && *rest)
                key = rest;
        uint64_t fe, devid;
        if (bn_xb_parse_uint(comp[0], UINT32_MAX, &fe))
                return;
        if (nc == 1) {
                scan_fe(xb, t, (uint32_t)fe);
                return;
        }
        if (bn_xb_parse_uint(comp[1], UINT32_MAX, &devid))
                return;
        struct bn_xb_dev *d = find_dev(xb, t->type, (uint32_t)fe, (uint32_t)devid);
        if (d)
                be_changed(d, key);
        else
                maybe_probe(xb, t->cls, t->type, (uint32_t)fe, (uint32_t)devid);
}

static void release_domain_event(struct bn_xenbus *xb)
{
        struct bn_xb_dev *d = xb->devs;
        for (; d; d = d->next) {
                if (d->dead)
                        continue;
                char path[BN_XB_PATH_MAX + 8];
                snprintf(path, sizeof(path), "%s/state", d->fe_path);
                char *v = bn_xb_xs_read(xb, path);
                if (v)
                        free(v);
                else if (errno == ENOENT)
                        release_dev(d, "the front-end's domain was released");
        }
}

static void xs_readable(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        (void)loop;
        (void)fd;
        (void)events;
        struct bn_xenbus *xb = arg;
        char **w;
        while ((w = xs_check_watch(xb->xs))) {
                const char *path = w[XS_WATCH_PATH], *token = w[XS_WATCH_TOKEN];
                if (!strcmp(token, "rel")) {
                        release_domain_event(xb);
                } else if (!strncmp(token, "be:", 3)) {
                        for (unsigned i = 0; i < xb->ntypes; i++)
                                if (!strcmp(xb->types[i].type, token + 3))
                                        type_event(xb, &xb->types[i], path);
                } else if (!strncmp(token, "fe:", 3)) {
                        for (struct bn_xb_dev *d = xb->devs; d; d = d->next) {
                                if (!strcmp(d->token, token)) {
                                        if (!d->dead)
                                                fe_changed(d);
                                        break;
                                }
                        }
                }
                free(w);
        }
}

int bn_xenbus_start(struct bn_xenbus **out, const struct bn_xenbus_config *cfg)
{
        int rc;
        struct bn_xenbus *xb = calloc(1, sizeof(*xb));
        if (!xb)
                return -ENOMEM;
        xb->cfg = *cfg;
        snprintf(xb->host, sizeof(xb->host), "%s", cfg->host ? cfg->host : "localhost");
        xb->cfg.host = xb->host;
        xb->xs = bn_hv_xs_open(cfg->hv);
        if (!xb->xs) {
                rc = errno ? -errno : -EIO;
                bn_err("xenbus", "cannot connect to xenstore: %s", strerror(-rc));
                goto fail;
        }
        char *dp = xs_get_domain_path(xb->xs, bn_hv_self_domid(cfg->hv));
        if (!dp) {
                rc = -EIO;
                bn_err("xenbus", "xs_get_domain_path failed");
                goto fail;
        }
        snprintf(xb->dom_path, sizeof(xb->dom_path), "%s", dp);
        free(dp);
        if (!xs_watch(xb->xs, "@releaseDomain", "rel")) {
                rc = -errno;
                bn_err("xenbus", "cannot watch @releaseDomain: %s", strerror(errno));
                goto fail;
        }
        rc = bn_loop_add_fd(cfg->loop, xs_fileno(xb->xs), EPOLLIN, xs_readable, xb);
        if (rc) {
                bn_err("xenbus", "cannot poll xenstore: %s", strerror(-rc));
                goto fail;
        }
        bn_info("xenbus", "serving back-ends under %s/backend", xb->dom_path);
        bn_xb_journal_sweep(xb);
        *out = xb;
        return 0;
fail:
        if (xb->xs)
                xs_close(xb->xs);
        free(xb);
        return rc;
}

int bn_xenbus_serve(struct bn_xenbus *xb, const struct bn_devclass *cls)
{
        for (unsigned j = 0; j < BN_DEVCLASS_TYPES_MAX && cls->backend_types[j]; j++) {
                const char *type = cls->backend_types[j];
                for (unsigned i = 0; i < xb->ntypes; i++)
                        if (!strcmp(xb->types[i].type, type))
                                return -EEXIST;
                if (xb->ntypes >= BN_XB_TYPES_MAX)
                        return -ENOSPC;
                struct bn_xb_type *t = &xb->types[xb->ntypes];
                snprintf(t->type, sizeof(t->type), "%s", type);
                snprintf(t->path, sizeof(t->path), "%s/backend/%s", xb->dom_path, type);
                snprintf(t->token, sizeof(t->token), "be:%s", type);
                t->cls = cls;
                if (!xs_watch(xb->xs, t->path, t->token)) {
                        int rc = -errno;
                        bn_err("xenbus", "cannot watch %s: %s", t->path, strerror(errno));
                        return rc;
                }
                xb->ntypes++;
                bn_info("xenbus", "serving back-end type '%s' (class %s)", type, cls->name);
        }
        return 0;
}

static void stop_all(struct bn_xenbus *xb, bool close)
{
        if (!xb)
                return;
        xb->stopping = true;
        while (xb->devs) {
                struct bn_xb_dev *d = xb->devs;
                if (!d->dead && close) {
                        if (d->be_state != XenbusStateClosed) {
                                do_disconnect(d);
                                write_be_state(d, XenbusStateClosing);
                        }
                        release_dev(d, "bananad is stopping");
                } else if (!d->dead) {
                        bn_info(d->name, "detaching: the back-end stays %s for the next bananad",
                                bn_xb_state_name(d->be_state));
                        d->detaching = true;
                        let_go(d, false);
                }
                free_dev(d);
        }
        bn_loop_del_fd(xb->cfg.loop, xs_fileno(xb->xs));
        for (unsigned i = 0; i < xb->ntypes; i++)
                xs_unwatch(xb->xs, xb->types[i].path, xb->types[i].token);
        xs_unwatch(xb->xs, "@releaseDomain", "rel");
        xs_close(xb->xs);
        free(xb);
}

void bn_xenbus_stop(struct bn_xenbus *xb)
{
        stop_all(xb, true);
}

void bn_xenbus_detach(struct bn_xenbus *xb)
{
        stop_all(xb, false);
}

void bn_xenbus_set_loop_for(struct bn_xenbus *xb, struct bn_loop *(*fn)(void *, const char *),
                            void *arg)
{
        if (!xb)
                return;
        xb->cfg.loop_for = fn;
        xb->cfg.loop_for_arg = arg;
}

void bn_xenbus_set_name_for(struct bn_xenbus *xb,
                            int (*fn)(void *, const char *, const char *, char *, size_t,
                                      uint32_t *),
                            void *arg)
{
        if (!xb)
                return;
        xb->cfg.name_for = fn;
        xb->cfg.name_for_arg = arg;
}

unsigned bn_xenbus_count(const struct bn_xenbus *xb)
{
        unsigned n = 0;
        for (struct bn_xb_dev *d = xb->devs; d; d = d->next)
                if (!d->dead)
                        n++;
        return n;
}
