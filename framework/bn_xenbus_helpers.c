/* bn_xenbus_helpers.c: what a device class uses from xenbus (see
 * bn_xenbus.h): keys of both ends, front-end validation, the Spike's
 * endpoint, ring mapping and event-channel binding. Everything read from
 * the front-end is validated before use. */
#include "bn_xenbus_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "bn_devclass.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"

#define MAX_EVTCHN_PORT (1u << 17)

const char *bn_xb_dev_type(const struct bn_xb_dev *dev)
{
        return dev->type;
}
uint32_t bn_xb_dev_frontend_id(const struct bn_xb_dev *dev)
{
        return dev->fe_domid;
}
uint32_t bn_xb_dev_devid(const struct bn_xb_dev *dev)
{
        return dev->devid;
}
const char *bn_xb_dev_backend_path(const struct bn_xb_dev *dev)
{
        return dev->be_path;
}
const char *bn_xb_dev_frontend_path(const struct bn_xb_dev *dev)
{
        return dev->fe_path;
}
struct bn_endpoint *bn_xb_dev_endpoint(const struct bn_xb_dev *dev)
{
        return dev->ep;
}
struct bn_hv *bn_xb_dev_hv(const struct bn_xb_dev *dev)
{
        return dev->xb->cfg.hv;
}
struct bn_gnt *bn_xb_dev_gnt(const struct bn_xb_dev *dev)
{
        return dev->gnt;
}
struct bn_evtchn *bn_xb_dev_evtchn(const struct bn_xb_dev *dev)
{
        return dev->evtchn;
}
enum xenbus_state bn_xb_dev_state(const struct bn_xb_dev *dev)
{
        return dev->be_state;
}

int bn_xb_write(struct bn_xb_dev *dev, const char *key, const char *fmt, ...)
{
        char path[BN_XB_PATH_MAX + 64], val[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(val, sizeof(val), fmt, ap);
        va_end(ap);
        snprintf(path, sizeof(path), "%s/%s", dev->be_path, key);
        if (!xs_write(dev->xb->xs, XBT_NULL, path, val, strlen(val))) {
                int rc = -errno;
                bn_warn(dev->name, "cannot write %s: %s", path, strerror(errno));
                return rc;
        }
        return 0;
}

static int read_key(struct bn_xb_dev *dev, const char *dir, const char *key, char *buf, size_t len)
{
        char path[BN_XB_PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", dir, key);
        unsigned l;
        char *v = xs_read(dev->xb->xs, XBT_NULL, path, &l);
        if (!v)
                return errno == ENOENT ? -ENOENT : -(errno ? errno : EIO);
        int rc = 0;
        if (l >= len)
                rc = -E2BIG;
        else
                snprintf(buf, len, "%s", v);
        free(v);
        return rc;
}

int bn_xb_read_be(struct bn_xb_dev *dev, const char *key, char *buf, size_t len)
{
        return read_key(dev, dev->be_path, key, buf, len);
}

int bn_xb_read_fe(struct bn_xb_dev *dev, const char *key, char *buf, size_t len)
{
        return read_key(dev, dev->fe_path, key, buf, len);
}

int bn_xb_read_fe_uint(struct bn_xb_dev *dev, const char *key, uint64_t min, uint64_t max,
                       uint64_t def, uint64_t *out)
{
        char buf[32];
        *out = def;
        int rc = bn_xb_read_fe(dev, key, buf, sizeof(buf));
        if (rc == -ENOENT)
                return rc;
        uint64_t v;
        if (rc || bn_xb_parse_uint(buf, max, &v) || v < min) {
                bn_warn(dev->name, "front-end key %s: bad value (want %llu..%llu)", key,
                        (unsigned long long)min, (unsigned long long)max);
                return -EINVAL;
        }
        *out = v;
        return 0;
}

int bn_xb_check_frontend(struct bn_xb_dev *dev)
{
        char fe[BN_XB_PATH_MAX], idbuf[16], want[BN_XB_PATH_MAX];
        uint64_t id;
        int rc = bn_xb_read_be(dev, "frontend-id", idbuf, sizeof(idbuf));
        if (rc || bn_xb_parse_uint(idbuf, 0x7fefu, &id) || id != dev->fe_domid) {
                bn_xb_fatal(dev, EINVAL, "frontend-id is missing or is not %u", dev->fe_domid);
                return -EINVAL;
        }
        rc = bn_xb_read_be(dev, "frontend", fe, sizeof(fe));
        snprintf(want, sizeof(want), "/local/domain/%u/device/%s/%u", dev->fe_domid, dev->type,
                 dev->devid);
        if (rc || strcmp(fe, want)) {
                bn_xb_fatal(dev, EINVAL, "frontend path '%.100s' is not %s", rc ? "(missing)" : fe,
                            want);
                return -EINVAL;
        }
        snprintf(dev->fe_path, sizeof(dev->fe_path), "%s", fe);
        return 0;
}

/* The VM's name without the suffix xl gives a domain while a migration
 * moves it ("<name>--incoming" on the receiving side until it runs,
 * "<name>--migratedaway" on the sending side until it is destroyed): the
 * guest is the same VM throughout. */
static void vm_name_of(char *vm)
{
        static const char *const sfx[] = {"--incoming", "--migratedaway"};
        size_t n = strlen(vm);

        for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
                size_t k = strlen(sfx[i]);
                if (n > k && strcmp(vm + n - k, sfx[i]) == 0) {
                        vm[n - k] = '\0';
                        return;
                }
        }
}

/* The device of another domain whose Spike held is: an older incarnation
 * of dev (the same guest's device, e.g. the source domain of libxl's
 * localhost migration, suspended but not yet destroyed). */
static struct bn_xb_dev *older_incarnation(const struct bn_xb_dev *dev,
                                           const struct bn_endpoint *held)
{
        struct bn_xb_dev *o = held ? held->xbdev : NULL;

        if (!o || held->kind != BN_EP_SPIKE || o == dev || o->xb != dev->xb || o->dead ||
            o->fe_domid == dev->fe_domid || o->devid != dev->devid || strcmp(o->type, dev->type))
                return NULL;
        return o;
}

int bn_xb_make_endpoint(struct bn_xb_dev *dev)
{
        struct bn_xenbus *xb = dev->xb;
        char path[64], vm[BN_NAME_COMPONENT_MAX], name[BN_NAME_MAX];
        snprintf(path, sizeof(path), "/local/domain/%u/name", dev->fe_domid);
        char *v = bn_xb_xs_read(xb, path);
        if (v && *v) {
                vm_name_of(v);
                bn_name_sanitize_component(v, vm, sizeof(vm));
        } else {
                snprintf(vm, sizeof(vm), "dom%u", dev->fe_domid);
        }
        free(v);
        struct bn_loop *loop = NULL;
        struct bn_xb_dev *older = NULL;
        uint32_t epoch = 0;
        char part[BN_NAME_COMPONENT_MAX], given[BN_NAME_COMPONENT_MAX];
        int rc = -EEXIST;

        /* the device's part of the name: the class's (a disk's vdev), when
         * it is a clean name component, else <type><devid> */
        snprintf(part, sizeof(part), "%s%u", dev->type, dev->devid);
        if (dev->cls->spike_name && dev->cls->spike_name(dev, given, sizeof(given)) == 0) {
                char clean[BN_NAME_COMPONENT_MAX];
                bn_name_sanitize_component(given, clean, sizeof(clean));
                if (given[0] && strcmp(clean, given) == 0)
                        snprintf(part, sizeof(part), "%s", given);
        }
        for (int attempt = 0; attempt < 2 && rc == -EEXIST; attempt++) {
                epoch = 0;
                if (attempt)
                        snprintf(vm, sizeof(vm), "dom%u", dev->fe_domid);
                /* a guest that moved here keeps the name rooted at its home */
                if (!xb->cfg.name_for ||
                    xb->cfg.name_for(xb->cfg.name_for_arg, vm, part, name, sizeof(name), &epoch) ||
                    !name[0]) {
                        epoch = 0;
                        snprintf(name, sizeof(name), "%s/%s/%s", xb->host, vm, part);
                }
                struct bn_endpoint *held = bn_ep_registry_find(xb->cfg.eps, name);
                older = older_incarnation(dev, held);
                if (held && !older)
                        continue;
                if (older && held->epoch >= epoch)
                        epoch = held->epoch + 1;
                if (xb->cfg.loop_for)
                        loop = xb->cfg.loop_for(xb->cfg.loop_for_arg, name);
                if (!loop)
                        loop = bn_workers_pick(xb->cfg.workers);
                rc = bn_endpoint_new(&dev->ep, name, BN_EP_SPIKE, dev->cls, loop,
                                     dev->cls->spike_priv_size, NULL, 0);
                if (rc)
                        return rc;
                dev->ep->xbdev = dev;
                dev->ep->epoch = epoch;
                if (older)
                        break; /* registered when its front-end connects */
                rc = bn_ep_registry_add(xb->cfg.eps, dev->ep);
                if (rc) {
                        bn_endpoint_free(dev->ep);
                        dev->ep = NULL;
                } else {
                        dev->registered = true;
                }
        }
        if (!rc) {
                if (older)
                        bn_info(dev->name,
                                "spike endpoint %s (epoch %u): a new incarnation of domain %u's "
                                "(the guest is migrating); it takes the name when its front-end "
                                "connects, on %s",
                                name, epoch, older->fe_domid, bn_loop_name(loop));
                else if (epoch)
                        bn_info(dev->name, "spike endpoint %s (epoch %u: it moved here) on %s",
                                name, epoch, bn_loop_name(loop));
                else
                        bn_info(dev->name, "spike endpoint %s on %s", name, bn_loop_name(loop));
                snprintf(dev->name, sizeof(dev->name), "%s", name);
        }
        return rc;
}

struct drain_call {
        struct bn_endpoint *ep;
        bool done;
};

/* On the older incarnation's loop: quiesce its port (a disk sends DRAIN
 * after its last request) and say whether every answer is in. */
static void drain_step(void *arg)
{
        struct drain_call *d = arg;
        struct bn_wire_port *p = bn_endpoint_port(d->ep);

        d->done = !p || (bn_endpoint_quiesce(d->ep, p) == 0 && bn_endpoint_drained(d->ep, p));
}

/* What the older incarnation sent the Corm is done before the new one's
 * requests go (its guest is suspended: nothing new comes), so a request
 * blkfront submits again cannot be overtaken by the old copy. Bounded:
 * about 200 ms, then the take-over goes on (logged). */
static void drain_older(struct bn_xb_dev *dev, struct bn_endpoint *old)
{
        struct drain_call d = {old, false};
        const struct timespec tick = {0, 2 * 1000 * 1000};

        for (int i = 0; i < 100 && !d.done; i++)
                if (bn_loop_call_wait(old->loop, drain_step, &d) || d.done ||
                    nanosleep(&tick, NULL))
                        break;
        if (!d.done)
                bn_warn(dev->name, "the older incarnation did not drain within 200 ms");
}

void bn_xb_take_name(struct bn_xb_dev *dev)
{
        struct bn_ep_registry *eps = dev->xb->cfg.eps;
        struct bn_endpoint *held;
        struct bn_xb_dev *older;

        if (!dev->ep || dev->registered)
                return;
        held = bn_ep_registry_find(eps, dev->ep->name);
        older = older_incarnation(dev, held);
        if (held && !older) {
                bn_warn(dev->name, "the name is held by another endpoint: not registered");
                return;
        }
        if (older) {
                drain_older(dev, held);
                /* its wire ends close with it: answers to its requests are
                 * dropped with them (fenced), nothing reaches this one */
                bn_ep_registry_remove(eps, held);
                older->registered = false;
        }
        if (bn_ep_registry_add(eps, dev->ep) == 0) {
                dev->registered = true;
                if (older)
                        bn_info(dev->name,
                                "incarnation %u (domain %u) takes over from incarnation %u "
                                "(domain %u): the old one's wire ends are closed (fenced), its "
                                "wires open here",
                                dev->ep->epoch, dev->fe_domid, held->epoch, older->fe_domid);
        }
}

void bn_xb_drop_name(struct bn_xb_dev *dev)
{
        struct bn_xenbus *xb = dev->xb;

        if (!dev->ep || !dev->registered)
                return;
        bn_ep_registry_remove(xb->cfg.eps, dev->ep);
        dev->registered = false;
        if (xb->stopping)
                return;
        for (struct bn_xb_dev *d = xb->devs; d; d = d->next) {
                if (d == dev || d->dead || !d->ep || d->registered ||
                    strcmp(d->ep->name, dev->ep->name) != 0)
                        continue;
                if (bn_ep_registry_add(xb->cfg.eps, d->ep) == 0) {
                        d->registered = true;
                        bn_info(d->name,
                                "incarnation %u (domain %u) has the name again: domain %u's went "
                                "first (a migration that did not finish)",
                                d->ep->epoch, d->fe_domid, dev->fe_domid);
                }
                return;
        }
}

int bn_xb_num_queues(struct bn_xb_dev *dev, unsigned *n)
{
        uint64_t v;
        unsigned max = dev->cls->max_queues ? dev->cls->max_queues : 1;
        int rc = bn_xb_read_fe_uint(dev, "multi-queue-num-queues", 1, max, 1, &v);
        if (rc == -ENOENT) {
                *n = 1;
                return 0;
        }
        if (rc) {
                bn_xb_fatal(dev, EINVAL, "multi-queue-num-queues must be 1..%u", max);
                return rc;
        }
        *n = (unsigned)v;
        return 0;
}

/* <fe path>[/<sub>] into dir; -EINVAL for a sub that could leave the
 * front-end's directory (a class passes its own constant strings, but say
 * it once here). */
static int fe_dir(const struct bn_xb_dev *dev, const char *sub, char *dir, size_t len)
{
        if (sub && (!*sub || sub[0] == '/' || strstr(sub, "..")))
                return -EINVAL;
        if (sub)
                snprintf(dir, len, "%s/%s", dev->fe_path, sub);
        else
                snprintf(dir, len, "%s", dev->fe_path);
        return 0;
}

static const char *queue_sub(int queue, char *buf, size_t len)
{
        if (queue < 0)
                return NULL;
        snprintf(buf, len, "queue-%d", queue);
        return buf;
}

int bn_xb_map_ring(struct bn_xb_dev *dev, int queue, const char *name, struct bn_xb_ring *ring)
{
        char sub[24];
        return bn_xb_map_ring_at(dev, queue_sub(queue, sub, sizeof(sub)), name, ring);
}

int bn_xb_map_ring_at(struct bn_xb_dev *dev, const char *sub, const char *name,
                      struct bn_xb_ring *ring)
{
        char dir[BN_XB_PATH_MAX + 32], key[80], buf[32];
        uint32_t refs[16];
        uint64_t order = 0, v;
        int rc;
        memset(ring, 0, sizeof(*ring));
        if (fe_dir(dev, sub, dir, sizeof(dir))) {
                bn_xb_fatal(dev, EINVAL, "ring directory '%.64s' is not below the front-end", sub);
                return -EINVAL;
        }
        unsigned maxo = dev->cls->max_ring_page_order;
        if (maxo > 4)
                maxo = 4;
        rc = bn_xb_read_fe(dev, "ring-page-order", buf, sizeof(buf));
        bool multi = rc == 0;
        if (multi && (bn_xb_parse_uint(buf, maxo, &order))) {
                bn_xb_fatal(dev, EINVAL, "ring-page-order '%.16s' is not 0..%u", buf, maxo);
                return -EINVAL;
        }
        unsigned npages = 1u << order;
        for (unsigned i = 0; i < npages; i++) {
                if (multi)
                        snprintf(key, sizeof(key), "%s%u", name, i);
                else
                        snprintf(key, sizeof(key), "%s", name);
                rc = read_key(dev, dir, key, buf, sizeof(buf));
                if (rc || bn_xb_parse_uint(buf, UINT32_MAX, &v)) {
                        bn_xb_fatal(dev, rc == -ENOENT ? ENOENT : EINVAL, "reading %s/%s: %s", dir,
                                    key, rc == -ENOENT ? "missing" : "not a grant reference");
                        return rc ? rc : -EINVAL;
                }
                refs[i] = (uint32_t)v;
        }
        void *addr = NULL;
        rc = bn_gnt_map(dev->gnt, dev->fe_domid, npages, refs, 1, &addr);
        if (rc) {
                bn_xb_fatal(dev, rc, "mapping ring %s (%u page(s), first ref %u) of domain %u",
                            name, npages, refs[0], dev->fe_domid);
                return rc;
        }
        ring->addr = addr;
        ring->npages = npages;
        ring->order = (unsigned)order;
        return 0;
}

void bn_xb_unmap_ring(struct bn_xb_dev *dev, struct bn_xb_ring *ring)
{
        if (!ring->addr)
                return;
        int rc = bn_gnt_unmap(dev->gnt, ring->addr, ring->npages);
        if (rc)
                bn_warn(dev->name, "unmapping a ring: %s", strerror(-rc));
        ring->addr = NULL;
}

int bn_xb_bind_evtchn(struct bn_xb_dev *dev, int queue, const char *name, uint32_t *local_port)
{
        char sub[24];
        return bn_xb_bind_evtchn_at(dev, queue_sub(queue, sub, sizeof(sub)), name, local_port);
}

int bn_xb_bind_evtchn_at(struct bn_xb_dev *dev, const char *sub, const char *name,
                         uint32_t *local_port)
{
        char dir[BN_XB_PATH_MAX + 32], buf[32];
        uint64_t v;
        if (fe_dir(dev, sub, dir, sizeof(dir))) {
                bn_xb_fatal(dev, EINVAL, "channel directory '%.64s' is not below the front-end",
                            sub);
                return -EINVAL;
        }
        int rc = read_key(dev, dir, name, buf, sizeof(buf));
        if (rc || bn_xb_parse_uint(buf, MAX_EVTCHN_PORT, &v)) {
                bn_xb_fatal(dev, rc == -ENOENT ? ENOENT : EINVAL, "reading %s/%s: %s", dir, name,
                            rc == -ENOENT ? "missing" : "not an event channel");
                return rc ? rc : -EINVAL;
        }
        rc = bn_evtchn_bind_interdomain(dev->evtchn, dev->fe_domid, (uint32_t)v);
        if (rc < 0) {
                bn_xb_fatal(dev, rc, "binding event channel %u of domain %u", (unsigned)v,
                            dev->fe_domid);
                return rc;
        }
        *local_port = (uint32_t)rc;
        return 0;
}

void bn_xb_unbind_evtchn(struct bn_xb_dev *dev, uint32_t local_port)
{
        if (dev->evtchn)
                bn_evtchn_unbind(dev->evtchn, local_port);
}
