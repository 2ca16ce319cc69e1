/* ctl_run.c: the reconciler. Makes this host's running Corms and wire ends
 * match the desired state in the store, changing only what differs:
 * creates what is missing, removes what is no longer wanted, swaps a wire's
 * type in place (its endpoints stay). Spikes are made by the xenbus
 * back-end when a guest's device appears; the registry watch re-wires them
 * when they come (and lets go of them when they leave).
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_log.h"
#include "bn_loop.h"

#define CTX "controller"

int ctl_params_from_kv(struct bn_params *p, const struct bn_kvlist *l)
{
        int r;

        bn_params_init(p);
        for (size_t i = 0; i < l->n; i++)
                if ((r = bn_params_set(p, l->v[i].key, l->v[i].value)))
                        return r;
        return 0;
}

struct rt_wire *ctl_rt_wire(struct bn_ctl *c, const char *name)
{
        for (size_t i = 0; i < c->n_wires; i++)
                if (strcmp(c->wires[i].name, name) == 0)
                        return &c->wires[i];
        return NULL;
}

static struct rt_corm *rt_corm(struct bn_ctl *c, const char *name)
{
        for (size_t i = 0; i < c->n_corms; i++)
                if (strcmp(c->corms[i].name, name) == 0)
                        return &c->corms[i];
        return NULL;
}

static void close_end(struct rt_wire *w, int j)
{
        ctl_swap_close_old(w, j);
        if (w->port[j] && w->ep[j] && bn_endpoint_holds_port(w->ep[j], w->port[j]))
                bn_wire_port_close(w->port[j]);
        w->port[j] = NULL;
        w->ep[j] = NULL;
}

static void rt_wire_free(struct rt_wire *w)
{
        close_end(w, 0);
        close_end(w, 1);
        ctl_swap_cancel_timer(w);
        free(w->old_type);
        free(w->old_end[0]);
        free(w->old_end[1]);
        free(w->name);
        free(w->type);
        free(w->end[0]);
        free(w->end[1]);
        free(w->host[0]);
        free(w->host[1]);
        bn_kvlist_free(&w->opts);
}

static void rt_wire_remove(struct bn_ctl *c, size_t i)
{
        bn_info(CTX, "wire %s: removed", c->wires[i].name);
        rt_wire_free(&c->wires[i]);
        memmove(&c->wires[i], &c->wires[i + 1], (c->n_wires - i - 1) * sizeof(*c->wires));
        c->n_wires--;
}

/* Close every wire end held on ep (before the endpoint goes away). A wire
 * whose other end is also on this host is closed at both ends, so that it
 * is made afresh when ep comes back (an in-process shm pair cannot be
 * rejoined by one new end) and the other endpoint sees its wire go (a
 * bridge Corm removes that port's TAP, as Xen's vifN.M goes with the guest). */
static void release_ep(struct bn_ctl *c, struct bn_endpoint *ep, const char *why)
{
        for (size_t i = 0; i < c->n_wires; i++)
                for (int j = 0; j < 2; j++) {
                        if (c->wires[i].old_ep[j] == ep) /* the old end of a swap */
                                ctl_swap_close_old(&c->wires[i], j);
                        if (c->wires[i].ep[j] == ep) {
                                close_end(&c->wires[i], j);
                                if (c->wires[i].local[!j] && c->wires[i].port[!j])
                                        close_end(&c->wires[i], !j);
                                snprintf(c->wires[i].error, sizeof(c->wires[i].error), "%s", why);
                        }
                }
}

static void rt_corm_remove(struct bn_ctl *c, size_t i)
{
        struct rt_corm *k = &c->corms[i];

        if (k->ep) {
                release_ep(c, k->ep, "");
                bn_corm_destroy(&c->d->eps, k->ep);
                bn_info(CTX, "corm %s: removed", k->name);
        }
        free(k->name);
        free(k->cls);
        bn_kvlist_free(&k->params);
        memmove(k, k + 1, (c->n_corms - i - 1) * sizeof(*k));
        c->n_corms--;
}

static void corm_open(struct bn_ctl *c, struct rt_corm *k)
{
        const struct bn_devclass *cls = bn_devclass_find(&c->d->classes, k->cls);
        struct bn_params p;
        int r;

        k->error[0] = '\0';
        if (!cls) {
                snprintf(k->error, sizeof(k->error), "device class '%s' is not available", k->cls);
                return;
        }
        if (!cls->corm_open) {
                snprintf(k->error, sizeof(k->error), "device class '%s' has no corms", k->cls);
                return;
        }
        if (ctl_params_from_kv(&p, &k->params)) {
                snprintf(k->error, sizeof(k->error), "bad parameters");
                bn_params_clear(&p);
                return;
        }
        r = bn_corm_create(&c->d->eps, cls, k->name, bn_workers_pick(c->d->workers), &p, &k->ep,
                           k->error, sizeof(k->error));
        bn_params_clear(&p);
        if (r) {
                k->ep = NULL;
                if (!k->error[0])
                        snprintf(k->error, sizeof(k->error), "%s", strerror(-r));
                bn_err(k->name, "corm not created: %s", k->error);
        } else {
                k->error[0] = '\0';
                bn_info(k->name, "corm created (class %s)", k->cls);
        }
}

static int add_corm(struct bn_ctl *c, const struct bn_topo_ep *e)
{
        struct rt_corm *nk = realloc(c->corms, (c->n_corms + 1) * sizeof(*nk)), *k;

        if (!nk)
                return -ENOMEM;
        c->corms = nk;
        k = &c->corms[c->n_corms];
        memset(k, 0, sizeof(*k));
        k->name = strdup(e->name);
        k->cls = strdup(e->cls ? e->cls : "");
        if (!k->name || !k->cls) {
                free(k->name);
                free(k->cls);
                return -ENOMEM;
        }
        for (size_t i = 0; i < e->params.n; i++)
                if (bn_kvlist_add(&k->params, e->params.v[i].key, e->params.v[i].value))
                        return -ENOMEM;
        c->n_corms++;
        corm_open(c, k);
        return 0;
}

/* The host an endpoint is on: its record's location, else its home. */
static char *ep_host(const struct bn_topo *t, const char *name)
{
        const struct bn_topo_ep *e = bn_topo_ep_find(t, name);

        return e && e->location ? strdup(e->location) : bn_topo_home(name);
}

/* The incarnation of endpoint name in t (0 until it first migrates). */
static uint32_t ep_epoch(const struct bn_topo *t, const char *name)
{
        const struct bn_topo_ep *e = bn_topo_ep_find(t, name);

        return e ? e->epoch : 0;
}

static int add_wire(struct bn_ctl *c, const struct bn_topo *t, const struct bn_topo_wire *dw,
                    const bool local[2])
{
        struct rt_wire *nw = realloc(c->wires, (c->n_wires + 1) * sizeof(*nw)), *w;

        if (!nw)
                return -ENOMEM;
        c->wires = nw;
        w = &c->wires[c->n_wires];
        memset(w, 0, sizeof(*w));
        w->name = strdup(dw->name);
        w->type = strdup(dw->type);
        w->end[0] = strdup(dw->end[0]);
        w->end[1] = strdup(dw->end[1]);
        w->local[0] = local[0];
        w->local[1] = local[1];
        w->host[0] = ep_host(t, dw->end[0]);
        w->host[1] = ep_host(t, dw->end[1]);
        w->epoch[0] = ep_epoch(t, dw->end[0]);
        w->epoch[1] = ep_epoch(t, dw->end[1]);
        c->n_wires++;
        for (size_t i = 0; i < dw->opts.n; i++)
                if (bn_kvlist_add(&w->opts, dw->opts.v[i].key, dw->opts.v[i].value))
                        return -ENOMEM;
        return (w->name && w->type && w->end[0] && w->end[1] && w->host[0] && w->host[1]) ? 0
                                                                                          : -ENOMEM;
}

/* Open the local ends of w that are not open yet. */
static void wire_open_ends(struct bn_ctl *c, struct rt_wire *w)
{
        void *ctx;

        w->error[0] = '\0';
        w->wait_host = false;
        if (!bn_wire_registry_find(&c->d->wires, w->type, &ctx)) {
                snprintf(w->error, sizeof(w->error), "wire type '%s' is not available on %s",
                         w->type, c->d->host);
                return;
        }
        for (int j = 0; j < 2; j++) {
                struct bn_endpoint *ep;
                struct bn_params p;
                char err[256] = "";
                int r;

                if (!w->local[j] || w->port[j])
                        continue;
                ep = bn_ep_registry_find(&c->d->eps, w->end[j]);
                if (!ep) {
                        snprintf(w->error, sizeof(w->error), "waiting for endpoint %s", w->end[j]);
                        continue;
                }
                if (ctl_params_from_kv(&p, &w->opts)) {
                        bn_params_clear(&p);
                        snprintf(w->error, sizeof(w->error), "bad options");
                        continue;
                }
                /* what the hosts published (vpn: each one's certificate) */
                if ((r = ctl_wire_add_host_info(c, w->type, w->host, &p, w->error,
                                                sizeof(w->error)))) {
                        bn_params_clear(&p);
                        w->wait_host = r == -EAGAIN;
                        continue;
                }
                r = ctl_swap_open_end(c, w, j, ep, &p, err, sizeof(err));
                bn_params_clear(&p);
                if (r) {
                        w->port[j] = NULL;
                        snprintf(w->error, sizeof(w->error), "%s: %s", w->end[j],
                                 err[0] ? err : strerror(-r));
                        bn_err(CTX, "wire %s: end %d on %s not opened: %s", w->name, j, w->end[j],
                               w->error);
                        continue;
                }
                w->ep[j] = ep;
                bn_info(CTX, "wire %s (%s): end %d attached to %s", w->name, w->type, j, w->end[j]);
        }
}

/* Is the endpoint on this host? Its declared location, else its home. */
static bool is_local(struct bn_ctl *c, const struct bn_topo *t, const char *name)
{
        const struct bn_topo_ep *e = bn_topo_ep_find(t, name);
        const char *loc = e ? e->location : NULL;
        size_t hl = strlen(c->d->host);

        if (loc)
                return strcmp(loc, c->d->host) == 0;
        return strncmp(name, c->d->host, hl) == 0 && name[hl] == '/';
}

static int same_corm(const struct rt_corm *k, const struct bn_topo_ep *e)
{
        return e->kind == BN_TOPO_CORM && e->cls && strcmp(k->cls, e->cls) == 0 &&
               bn_kvlist_equal(&k->params, &e->params);
}

/* 1. A wire held here no longer wanted here, or changed: removed (1);
 * its type changed: swapped in place. */
static int wire_check(struct bn_ctl *c, const struct bn_topo *t, size_t i)
{
        struct rt_wire *w = &c->wires[i];
        const struct bn_topo_wire *dw = bn_topo_wire_find(t, w->name);
        bool lc[2] = {dw && is_local(c, t, dw->end[0]), dw && is_local(c, t, dw->end[1])};
        int r;

        /* another incarnation of an end (a migrated Spike): the old one's
         * ends close here before the new ones open, so nothing of the old
         * reaches the new (fenced) */
        for (int j = 0; j < 2 && dw; j++) {
                uint32_t e = ep_epoch(t, w->end[j]);
                if (e == w->epoch[j])
                        continue;
                bn_info(CTX,
                        "wire %s: %s is incarnation %u now (was %u): the old one's ends are "
                        "closed (fenced)",
                        w->name, w->end[j], e, w->epoch[j]);
                rt_wire_remove(c, i);
                return 1;
        }
        /* type changed or Corm end moved: swap, make before break (ctl_swap.c) */
        if (dw && (lc[0] || lc[1]) && ctl_swap_wanted(w, dw, lc))
                return (r = ctl_swap_begin(c, w, dw, lc)) < 0 ? r : 0;
        /* this host's Corm end moved to another host, the Spike elsewhere:
         * the old end stays until its peer goes (the Spike drained it) or the
         * swap's timer, so what is in flight on it is answered */
        if (dw && !lc[0] && !lc[1] && !w->old_type && ctl_swap_leaving(w, dw)) {
                if ((r = ctl_swap_begin(c, w, dw, lc)) < 0)
                        return r;
                ctl_swap_progress(c, w);
                return 0;
        }
        if (dw && !lc[0] && !lc[1] && w->old_type && !w->local[0] && !w->local[1])
                return 0; /* that swap still goes on; removed once it ended */
        if (!dw || (!lc[0] && !lc[1]) || strcmp(dw->end[0], w->end[0]) != 0 ||
            strcmp(dw->end[1], w->end[1]) != 0 || lc[0] != w->local[0] || lc[1] != w->local[1] ||
            strcmp(dw->type, w->type) != 0 || !bn_kvlist_equal(&dw->opts, &w->opts)) {
                rt_wire_remove(c, i);
                return 1;
        }
        return 0;
}

/* 2. A Corm no longer wanted here, or changed: removed (1). */
static int corm_check(struct bn_ctl *c, const struct bn_topo *t, size_t i)
{
        const struct bn_topo_ep *e = bn_topo_ep_find(t, c->corms[i].name);

        if (!e || !same_corm(&c->corms[i], e) || strcmp(e->location, c->d->host) != 0) {
                rt_corm_remove(c, i);
                return 1;
        }
        return 0;
}

/* name -> index of the Corms (wires: false) or wires held now, for a pass
 * over everything (a lookup each, not a search); NULL without memory. */
static json_object *rt_index(struct bn_ctl *c, bool corms)
{
        json_object *ix = json_object_new_object();
        size_t n = corms ? c->n_corms : c->n_wires;

        for (size_t i = 0; ix && i < n; i++)
                json_object_object_add(ix, corms ? c->corms[i].name : c->wires[i].name,
                                       json_object_new_int64((int64_t)i));
        return ix;
}

/* Index i of name in ix, or -1 (absent, or no index: search). */
static int64_t rt_lookup(json_object *ix, const char *name, bool *searched)
{
        json_object *v;

        *searched = ix != NULL;
        return ix && json_object_object_get_ex(ix, name, &v) ? json_object_get_int64(v) : -1;
}

/* 3. A Corm wanted here: created (or a failed one retried). ix: rt_index,
 * or NULL. */
static int corm_want(struct bn_ctl *c, const struct bn_topo_ep *e, json_object *ix)
{
        struct rt_corm *k;
        bool searched;
        int64_t i;

        if (e->kind != BN_TOPO_CORM || strcmp(e->location, c->d->host) != 0)
                return 0;
        i = rt_lookup(ix, e->name, &searched);
        k = i >= 0 ? &c->corms[i] : searched ? NULL : rt_corm(c, e->name);
        if (!k)
                return add_corm(c, e);
        if (!k->ep)
                corm_open(c, k);
        return 0;
}

/* 4. A wire touching this host: created, then what can be is opened. ix:
 * rt_index, or NULL. */
static int wire_want(struct bn_ctl *c, const struct bn_topo *t, const struct bn_topo_wire *dw,
                     json_object *ix)
{
        bool local[2] = {is_local(c, t, dw->end[0]), is_local(c, t, dw->end[1])}, searched;
        struct rt_wire *w;
        int64_t i;
        int r;

        if (!local[0] && !local[1])
                return 0;
        i = rt_lookup(ix, dw->name, &searched);
        w = i >= 0 ? &c->wires[i] : searched ? NULL : ctl_rt_wire(c, dw->name);
        if (!w) {
                if ((r = add_wire(c, t, dw, local)))
                        return r;
                w = &c->wires[c->n_wires - 1];
        }
        wire_open_ends(c, w);
        ctl_swap_progress(c, w);
        return 0;
}

int ctl_reconcile(struct bn_ctl *c)
{
        json_object *ix = NULL;
        struct bn_topo *t = NULL;
        char err[256] = "";
        int r;

        if (c->reconciling)
                return 0;
        c->reconciling = true;
        if ((r = ctl_desired_get(c, &t, err, sizeof(err)))) {
                bn_err(CTX, "cannot load the desired state: %s", err);
                goto out;
        }
        ctl_desired_clean(c); /* everything is looked at: nothing left to do */
        c->reconciled_rev = bn_store_revision(c->store); /* what the watch need not repeat */
        for (size_t i = 0; i < c->n_wires;)
                if ((r = wire_check(c, t, i)) < 0)
                        goto out;
                else if (r == 0)
                        i++;
        for (size_t i = 0; i < c->n_corms;)
                if (corm_check(c, t, i) == 0)
                        i++;
        ix = rt_index(c, true);
        for (size_t i = 0; i < t->n_eps; i++)
                if ((r = corm_want(c, &t->eps[i], ix)))
                        goto out;
        json_object_put(ix);
        ix = rt_index(c, false);
        for (size_t i = 0; i < t->n_wires; i++)
                if ((r = wire_want(c, t, &t->wires[i], ix)))
                        goto out;
        r = 0;
out:
        if (r == -ENOMEM)
                bn_err(CTX, "reconcile: out of memory");
        json_object_put(ix);
        ctl_desired_put(c, t);
        c->reconciling = false;
        return r;
}

/* Is name one of the n in names? */
static bool named(char *const *names, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(names[i], name))
                        return true;
        return false;
}

int ctl_reconcile_names(struct bn_ctl *c, const struct bn_topo *t, char *const *eps, size_t n_eps,
                        char *const *wires, size_t n_wires)
{
        int r = 0;

        if (c->reconciling)
                return 0;
        c->reconciling = true;
        /* the same four steps as ctl_reconcile, for the named items and the
         * wires at the named endpoints (their ends may have moved) */
        for (size_t i = 0; i < c->n_wires;) {
                struct rt_wire *w = &c->wires[i];
                if (!named(wires, n_wires, w->name) && !named(eps, n_eps, w->end[0]) &&
                    !named(eps, n_eps, w->end[1])) {
                        i++;
                        continue;
                }
                if ((r = wire_check(c, t, i)) < 0)
                        goto out;
                if (r == 0)
                        i++;
        }
        for (size_t i = 0; i < c->n_corms;)
                if (!named(eps, n_eps, c->corms[i].name) || corm_check(c, t, i) == 0)
                        i++;
        for (size_t i = 0; i < n_eps; i++) {
                const struct bn_topo_ep *e = bn_topo_ep_find(t, eps[i]);
                if (e && (r = corm_want(c, e, NULL)))
                        goto out;
        }
        for (size_t i = 0; i < n_wires; i++) {
                const struct bn_topo_wire *dw = bn_topo_wire_find(t, wires[i]);
                if (dw && (r = wire_want(c, t, dw, NULL)))
                        goto out;
        }
        for (size_t i = 0; n_eps && i < t->n_wires; i++) {
                const struct bn_topo_wire *dw = &t->wires[i];
                if ((named(eps, n_eps, dw->end[0]) || named(eps, n_eps, dw->end[1])) &&
                    (r = wire_want(c, t, dw, NULL)))
                        goto out;
        }
        r = 0;
out:
        if (r == -ENOMEM)
                bn_err(CTX, "reconcile: out of memory");
        c->reconciling = false;
        return r;
}

void ctl_teardown(struct bn_ctl *c)
{
        while (c->n_wires)
                rt_wire_remove(c, c->n_wires - 1);
        while (c->n_corms)
                rt_corm_remove(c, c->n_corms - 1);
        free(c->wires);
        free(c->corms);
        c->wires = NULL;
        c->corms = NULL;
}

void ctl_wires_retry_hosts(struct bn_ctl *c)
{
        if (c->reconciling)
                return;
        for (size_t i = 0; i < c->n_wires; i++)
                if (c->wires[i].wait_host)
                        wire_open_ends(c, &c->wires[i]);
}

static void reconcile_later(void *arg)
{
        ctl_reconcile(arg);
}

void ctl_reconcile_soon(struct bn_ctl *c)
{
        bn_loop_call(c->d->loop, reconcile_later, c);
}

void ctl_ep_watch(void *arg, struct bn_endpoint *ep, bool added)
{
        struct bn_ctl *c = arg;

        if (added) {
                /* not from inside the registry call: the class is still
                 * setting the endpoint up */
                if (ep->kind == BN_EP_SPIKE)
                        bn_loop_call(c->d->loop, reconcile_later, c);
                return;
        }
        char why[300];

        snprintf(why, sizeof(why), "waiting for endpoint %s", ep->name);
        release_ep(c, ep, why);
}

/* ---- a wire end whose peer has gone: replace it --------------------------- */

static void reopen_timer(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct bn_ctl *c = arg;

        (void)loop;
        (void)t;
        c->reopen_pending = false;
        ctl_reconcile(c);
}

/* On the main loop: the ends the workers reported (ctl_port_down). The
 * argument is the daemon, not the controller: a call still queued when the
 * controller is gone finds d->ctl NULL (or is dropped with the loop). */
static void port_downs_main(void *arg)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;
        struct ctl_down downs[CTL_DOWNS_MAX];
        unsigned n;

        if (!c)
                return;
        pthread_mutex_lock(&c->down_mu);
        n = c->ndowns;
        memcpy(downs, c->downs, n * sizeof(downs[0]));
        c->ndowns = 0;
        c->down_queued = false;
        pthread_mutex_unlock(&c->down_mu);
        for (unsigned i = 0; i < n; i++) {
                struct rt_wire *w = ctl_rt_wire(c, downs[i].wire);
                unsigned e = downs[i].end;

                if (w && ctl_swap_port_down(w, downs[i].port))
                        continue; /* an old end of a swap: closed, not reopened */
                /* still the same, broken port? (it may have been closed) */
                if (!w || e > 1 || w->port[e] != downs[i].port || !bn_wire_port_error(w->port[e]))
                        continue;
                bn_warn(CTX, "wire %s: end %u's peer has gone: reopening it in 1 s", w->name, e);
                close_end(w, (int)e);
                w->reopens++;
                snprintf(w->error, sizeof(w->error), "waiting: the peer of end %u has gone", e);
                if (!c->reopen_pending &&
                    bn_loop_timer_add(c->d->loop, 1000, 0, reopen_timer, c, &c->reopen_timer) == 0)
                        c->reopen_pending = true;
        }
}

void ctl_port_down(void *arg, struct bn_wire_port *port)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;
        bool call;

        if (!c)
                return;
        pthread_mutex_lock(&c->down_mu);
        if (c->ndowns < CTL_DOWNS_MAX) {
                struct ctl_down *x = &c->downs[c->ndowns++];
                x->port = port;
                x->end = port->end;
                snprintf(x->wire, sizeof(x->wire), "%s", port->wire);
        }
        call = !c->down_queued;
        c->down_queued = true;
        pthread_mutex_unlock(&c->down_mu);
        if (call && bn_loop_call(d->loop, port_downs_main, d) < 0) {
                pthread_mutex_lock(&c->down_mu);
                c->down_queued = false;
                pthread_mutex_unlock(&c->down_mu);
        }
}

/* ---- where a new Spike runs ------------------------------------------------ */

struct bn_loop *ctl_loop_for(void *arg, const char *spike)
{
        struct bn_ctl *c = arg;

        for (size_t i = 0; i < c->n_wires; i++) {
                struct rt_wire *w = &c->wires[i];
                for (int j = 0; j < 2; j++) {
                        struct rt_corm *k;
                        if (strcmp(w->end[j], spike) != 0 || !w->local[!j])
                                continue;
                        k = rt_corm(c, w->end[!j]);
                        if (k && k->ep && k->ep->cls && k->ep->cls->corm_colocate) {
                                bn_debug(CTX, "spike %s: on the loop of its corm %s", spike,
                                         k->name);
                                return k->ep->loop;
                        }
                }
        }
        return NULL;
}
