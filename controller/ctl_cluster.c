/* ctl_cluster.c: this bananad as a member of a cluster that shares one
 * store (etcd). A loop of its own (the cluster loop, one thread) owns a
 * second handle on the store and everything that talks to it in time:
 * the member record members/<host> under a lease (underlay address, wire
 * types, site and domain, what each wire type tells the other hosts
 * (wire_info: vpn's certificate fingerprint), version, pid, start time),
 * its keepalive, seen/<host> (when this
 * host was last alive, outliving the lease), this host's report (the
 * actual state of its endpoints and wires: the main loop's ctl_report.c
 * hands on what changed; written here one key per item,
 * reports/<host>/{endpoints,wires}/NAME, in batches of REPORT_TXN, with
 * reports/<host> saying when and how many), and the cluster's view (every
 * host up or down with its report), read once a second and handed to the
 * main loop.
 * So the main loop never waits for etcd to answer status, and a slow or
 * absent etcd delays nothing but this thread.
 *
 * The store's watch (its own thread) queues one reconcile on the main loop
 * after the desired state changed, so a topology applied on any host
 * reaches this one. With a store that has no leases or watch (embedded:
 * one host), nothing here runs.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bn_daemon.h"
#include "bn_log.h"
#include "bn_loop.h"

#define CTX     "cluster"
#define TICK_MS 1000

#ifndef BN_VERSION
#define BN_VERSION "0"
#endif

struct ctl_cluster {
        struct bn_daemon *d; /* the cluster loop only posts to d->loop */
        struct bn_workers *w;
        struct bn_loop *loop;
        /* owned by the cluster loop from start to stop */
        struct bn_store *store;
        char *member; /* the member record's text */
        char k_member[320], k_seen[320];
        char *address; /* --address, told in seen/<host> too */
        uint64_t lease;
        unsigned ttl;
        unsigned ticks;
        bool down;                  /* the store did not answer last time */
        struct ctl_report_w report; /* this host's report (ctl_report_store.c) */
        /* every host's report is read every reports_every ticks (reading
         * them may take long with thousands of wires: at most a tenth of
         * the time); between, the view has none and the main loop keeps
         * the last ones. reported: each host's report's "at" as last read */
        json_object *reported;
        unsigned reports_every, reports_wait;
        struct bn_timer *tick;
        bool leave; /* stop: revoke the lease */
        /* handed to the main loop (under mu) */
        pthread_mutex_t mu;
        json_object *view_next; /* the latest view not taken yet */
        bool down_next;         /* the store did not answer the latest read */
        atomic_bool view_queued;
};

/* A batch of a report's changes for the cluster loop. */
struct report_job {
        struct ctl_cluster *cl;
        json_object *batch;
};

static int put(struct ctl_cluster *cl, const char *key, const char *value, uint64_t lease,
               char *err, size_t errlen)
{
        struct bn_store_op op = {BN_STORE_PUT, key, value, lease};

        return bn_store_commit(cl->store, &op, 1, NULL, err, errlen);
}

/* A lease and the member record under it. */
static int join(struct ctl_cluster *cl, char *err, size_t errlen)
{
        int r;

        if ((r = bn_store_lease_grant(cl->store, cl->ttl, &cl->lease, err, errlen)))
                return r;
        if ((r = put(cl, cl->k_member, cl->member, cl->lease, err, errlen))) {
                bn_store_lease_revoke(cl->store, cl->lease, NULL, 0);
                cl->lease = 0;
        }
        return r;
}

/* The lease kept alive (or taken again) and seen/<host> now. */
static int keepalive(struct ctl_cluster *cl, char *err, size_t errlen)
{
        json_object *seen;
        int r = cl->lease ? bn_store_lease_keepalive(cl->store, cl->lease, err, errlen) : -ENOENT;

        if (r == -ENOENT) {
                /* the lease ended (the store was out of reach longer than
                 * its TTL): the others saw this host down; join again */
                if (!(r = join(cl, err, errlen)))
                        bn_info(CTX, "member %s again (lease %llx)", cl->d->host,
                                (unsigned long long)cl->lease);
        }
        if (r)
                return r;
        if (!(seen = json_object_new_object()))
                return -ENOMEM;
        json_object_object_add(seen, "at", json_object_new_int64((int64_t)time(NULL)));
        json_object_object_add(seen, "address", json_object_new_string(cl->address));
        r = put(cl, cl->k_seen, json_object_to_json_string_ext(seen, JSON_C_TO_STRING_PLAIN), 0,
                err, errlen);
        json_object_put(seen);
        return r;
}

/* ---- the view: hosts up or down, with their reports ---- */

static json_object *view_host(json_object *hosts, const char *name)
{
        json_object *h;

        if (json_object_object_get_ex(hosts, name, &h))
                return h;
        h = json_object_new_object();
        json_object_object_add(h, "host", json_object_new_string(name));
        json_object_object_add(h, "state", json_object_new_string("down"));
        json_object_object_add(hosts, name, h);
        return h;
}

struct view_ctx {
        json_object *hosts, *reports;
        const char *prefix;
};

/* reports/HOST ({"host", "at"}) or reports/HOST/KIND/NAME (an item), o
 * (taken) into reports: {HOST: {"at", "endpoints": {...}, "wires": {...}}} */
static int view_report(struct view_ctx *v, const char *name, json_object *o)
{
        size_t hl = strcspn(name, "/");
        const char *kind = name + hl, *item;
        char host[256];
        json_object *rep, *at;

        snprintf(host, sizeof(host), "%.*s", (int)hl, name);
        view_host(v->hosts, host);
        if (!(rep = ctl_json_part(v->reports, host)))
                goto out;
        if (!*kind) { /* the summary */
                if (json_object_object_get_ex(o, "at", &at))
                        json_object_object_add(rep, "at", json_object_get(at));
                goto out;
        }
        kind++;
        for (size_t k = 0; k < 2; k++) {
                size_t kl = strlen(ctl_report_kinds[k]);
                if (!strncmp(kind, ctl_report_kinds[k], kl) && kind[kl] == '/' && kind[kl + 1]) {
                        item = kind + kl + 1;
                        json_object_object_add(ctl_json_part(rep, ctl_report_kinds[k]), item, o);
                        return 0;
                }
        }
out:
        json_object_put(o);
        return 0;
}

static int view_pair(void *arg, const char *key, const char *value)
{
        struct view_ctx *v = arg;
        const char *name = key + strlen(v->prefix);
        bool report = !strcmp(v->prefix, CTL_K_REPORT);
        json_object *o = json_tokener_parse(value), *h;

        if (!*name || (!report && strchr(name, '/')) || !o ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return 0; /* not a record banana writes: left out */
        }
        if (report)
                return view_report(v, name, o);
        h = view_host(v->hosts, name);
        if (!strcmp(v->prefix, CTL_K_MEMBER)) {
                json_object_object_add(h, "state", json_object_new_string("up"));
                json_object_object_foreach(o, k, val)
                {
                        if (strcmp(k, "host") != 0)
                                json_object_object_add(h, k, json_object_get(val));
                }
        } else if (!strcmp(v->prefix, CTL_K_SEEN)) {
                json_object *at, *addr;
                if (json_object_object_get_ex(o, "at", &at))
                        json_object_object_add(h, "last_seen", json_object_get(at));
                if (!json_object_object_get_ex(h, "address", NULL) &&
                    json_object_object_get_ex(o, "address", &addr))
                        json_object_object_add(h, "address", json_object_get(addr));
        }
        json_object_put(o);
        return 0;
}

/* {"hosts": {name: {...}}, "reports": {name: report}}, or NULL when the
 * store does not answer. */
static json_object *view_read(struct ctl_cluster *cl, char *err, size_t errlen)
{
        static const char *const prefixes[] = {CTL_K_HOST, CTL_K_MEMBER, CTL_K_SEEN, CTL_K_REPORT};
        bool reports = !cl->reported || cl->reports_wait == 0;
        struct view_ctx v = {json_object_new_object(), json_object_new_object(), NULL};
        json_object *o = json_object_new_object();
        uint64_t t0 = bn_now_ms();
        int r = 0;

        if (!o || !v.hosts || !v.reports) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; !r && i < sizeof(prefixes) / sizeof(*prefixes) - !reports; i++) {
                v.prefix = prefixes[i];
                if ((r = bn_store_list(cl->store, v.prefix, view_pair, &v)))
                        snprintf(err, errlen, "%s", bn_store_why(cl->store, r));
        }
        if (!r && reports) {
                uint64_t ms = bn_now_ms() - t0;
                json_object *reported = json_object_new_object();
                if (!reported) {
                        r = -ENOMEM;
                        goto out;
                }
                json_object_object_foreach(v.reports, name, rep)
                {
                        json_object *at;
                        if (json_object_object_get_ex(rep, "at", &at))
                                json_object_object_add(
                                    reported, name,
                                    json_object_new_int64(json_object_get_int64(at)));
                }
                json_object_put(cl->reported);
                cl->reported = reported;
                /* a read that took 10% of a tick or more: the next after 10x as long */
                cl->reports_every = (unsigned)(ms * 10 / TICK_MS) + 1;
                cl->reports_wait = cl->reports_every;
        }
        if (cl->reports_wait)
                cl->reports_wait--;
        json_object_object_foreach(cl->reported, name, at)
        {
                json_object_object_add(view_host(v.hosts, name), "reported",
                                       json_object_new_int64(json_object_get_int64(at)));
        }
out:
        if (r) {
                json_object_put(v.hosts);
                json_object_put(v.reports);
                json_object_put(o);
                return NULL;
        }
        json_object_object_add(o, "hosts", v.hosts);
        if (reports)
                json_object_object_add(o, "reports", v.reports);
        else
                json_object_put(v.reports);
        return o;
}

/* On the main loop: take the latest view. */
static void view_main(void *arg)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;
        struct ctl_cluster *cl = c ? c->cluster : NULL;
        json_object *v;

        if (!cl)
                return; /* stopped meanwhile */
        atomic_store(&cl->view_queued, false);
        pthread_mutex_lock(&cl->mu);
        v = cl->view_next;
        cl->view_next = NULL;
        c->store_down = cl->down_next;
        pthread_mutex_unlock(&cl->mu);
        if (v) {
                json_object *reps;
                /* a view without reports: the last ones still hold */
                if (!json_object_object_get_ex(v, "reports", NULL) && c->view &&
                    json_object_object_get_ex(c->view, "reports", &reps))
                        json_object_object_add(v, "reports", json_object_get(reps));
                json_object_put(c->view);
                c->view = v;
                ctl_wires_retry_hosts(c); /* a host they wait for may have joined */
        }
}

/* ---- the cluster loop ---- */

static void tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct ctl_cluster *cl = arg;
        json_object *view = NULL;
        char err[512] = "";
        unsigned every = cl->ttl * 1000 / 3 / TICK_MS;
        int r = 0;

        (void)loop, (void)t;
        if (cl->down || cl->ticks++ % (every ? every : 1) == 0)
                r = keepalive(cl, err, sizeof(err));
        if (!r)
                r = ctl_report_w_flush(&cl->report, err, sizeof(err));
        if (!r)
                view = view_read(cl, err, sizeof(err));
        if (!view && !cl->down)
                bn_warn(CTX, "store out of reach: %s (the data path goes on; retrying)", err);
        else if (view && cl->down)
                bn_info(CTX, "store reachable again");
        cl->down = view == NULL;
        pthread_mutex_lock(&cl->mu);
        if (view) {
                json_object *reps;
                /* one not taken yet had reports, this one none: keep them */
                if (!json_object_object_get_ex(view, "reports", NULL) && cl->view_next &&
                    json_object_object_get_ex(cl->view_next, "reports", &reps))
                        json_object_object_add(view, "reports", json_object_get(reps));
                json_object_put(cl->view_next);
                cl->view_next = view;
        }
        cl->down_next = cl->down;
        pthread_mutex_unlock(&cl->mu);
        if (!atomic_exchange(&cl->view_queued, true) &&
            bn_loop_call(cl->d->loop, view_main, cl->d) < 0)
                atomic_store(&cl->view_queued, false);
}

static void report_on_cl(void *arg)
{
        struct report_job *j = arg;

        ctl_report_w_merge(&j->cl->report, j->batch);
        json_object_put(j->batch);
        if (!j->cl->down)
                ctl_report_w_flush(&j->cl->report, NULL, 0); /* else the next tick writes it */
        free(j);
}

static void start_on_cl(void *arg)
{
        struct ctl_cluster *cl = arg;
        int r = bn_loop_timer_add(cl->loop, TICK_MS, TICK_MS, tick, cl, &cl->tick);

        if (r < 0)
                bn_err(CTX, "cannot start the cluster's timer: %s", strerror(-r));
        ctl_report_w_load(&cl->report, cl->store);
        tick(cl->loop, NULL, cl); /* a first view at once */
}

static void stop_on_cl(void *arg)
{
        struct ctl_cluster *cl = arg;

        if (cl->tick)
                bn_loop_timer_cancel(cl->loop, cl->tick);
        cl->tick = NULL;
        /* A stop says so at once; a restart lets the lease run out (the
         * next bananad joins again before the others notice). */
        if (cl->leave && cl->lease)
                bn_store_lease_revoke(cl->store, cl->lease, NULL, 0);
        cl->lease = 0;
}

/* ---- the main loop's side ---- */

void ctl_cluster_report(struct bn_ctl *c, json_object *batch)
{
        struct report_job *j = c->cluster ? malloc(sizeof(*j)) : NULL;

        if (j) {
                j->cl = c->cluster;
                j->batch = batch;
                if (bn_loop_call(c->cluster->loop, report_on_cl, j) == 0)
                        return;
        }
        free(j);
        json_object_put(batch);
}

static char *member_text(struct bn_ctl *c)
{
        json_object *o = json_object_new_object(), *wt = json_object_new_array();
        json_object *info = json_object_new_object();
        char *s = NULL;

        if (!o || !wt || !info) {
                json_object_put(wt);
                json_object_put(info);
                goto out;
        }
        for (unsigned i = 0; i < c->d->wires.n; i++) {
                struct bn_params p = BN_PARAMS_INIT;
                json_object *ti;
                json_object_array_add(wt, json_object_new_string(c->d->wires.cls[i]->name));
                if (ctl_wire_host_info(c, c->d->wires.cls[i]->name, &p) == 0 && p.n &&
                    (ti = json_object_new_object())) {
                        for (size_t k = 0; k < p.n; k++)
                                json_object_object_add(ti, p.v[k].key,
                                                       json_object_new_string(p.v[k].value));
                        json_object_object_add(info, c->d->wires.cls[i]->name, ti);
                }
                bn_params_clear(&p);
        }
        if (c->opts.site)
                json_object_object_add(o, "site", json_object_new_string(c->opts.site));
        if (c->opts.domain)
                json_object_object_add(o, "domain", json_object_new_string(c->opts.domain));
        json_object_object_add(o, "wire_info", info);
        json_object_object_add(o, "host", json_object_new_string(c->d->host));
        json_object_object_add(o, "address",
                               json_object_new_string(c->opts.address ? c->opts.address : ""));
        json_object_object_add(o, "wire_types", wt);
        if (c->opts.xensim_dir) /* where a simulated guest migrating here goes */
                json_object_object_add(o, "xensim_dir", json_object_new_string(c->opts.xensim_dir));
        json_object_object_add(o, "version", json_object_new_string(BN_VERSION));
        json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
        json_object_object_add(o, "since", json_object_new_int64((int64_t)c->started));
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
out:
        json_object_put(o);
        return s;
}

/* On the main loop, queued by on_change. */
static void changed_main(void *arg)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;

        bool all;

        if (!c)
                return; /* stopped meanwhile */
        atomic_store(&c->change_queued, false);
        all = atomic_exchange(&c->watch_all, false);
        if (c->desired_on) {
                /* the events say what changed: those names alone (a change
                 * this host made is in the cache already: nothing) */
                if (all)
                        ctl_desired_drop(c);
                ctl_reconcile_changed(c);
                return;
        }
        /* a change this host made has been reconciled already (after its
         * commit, from a revision that holds it): not again */
        if (!all && atomic_load(&c->watch_rev) <= c->reconciled_rev)
                return;
        ctl_reconcile(c);
}

/* From the store's watch thread: queue one reconcile, unless the main loop
 * has reconciled from revision rev or later already (rev 0: changes were
 * missed, reconcile in any case). */
static void on_change(void *arg, uint64_t rev)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;

        if (!rev) {
                bn_info(CTX, "the store's watch missed changes (compacted or cut): reading "
                             "everything again");
                if (c)
                        atomic_store(&c->watch_all, true);
        } else if (c) {
                atomic_store(&c->watch_rev, rev); /* one watch thread: revisions only grow */
        }
        if (c && !atomic_exchange(&c->change_queued, true) &&
            bn_loop_call(d->loop, changed_main, d) < 0)
                atomic_store(&c->change_queued, false);
}

static void cluster_free(struct ctl_cluster *cl)
{
        if (!cl)
                return;
        if (cl->w)
                bn_workers_stop(cl->w);
        bn_store_close(cl->store);
        json_object_put(cl->view_next);
        json_object_put(cl->reported);
        pthread_mutex_destroy(&cl->mu);
        free(cl->member);
        free(cl->address);
        ctl_report_w_free(&cl->report);
        free(cl);
}

int ctl_cluster_start(struct bn_ctl *c)
{
        struct bn_store_etcd_opts eo = {.ca = c->opts.store_ca,
                                        .cert = c->opts.store_cert,
                                        .key = c->opts.store_key,
                                        .timeout_ms = c->opts.store_timeout_ms};
        struct ctl_cluster *cl;
        char err[512] = "";
        int r = -ENOMEM;

        if (!c->store->ops->lease_grant || !c->store->ops->watch_start || !c->opts.store_url)
                return 0; /* one host */
        if (!(cl = calloc(1, sizeof(*cl))))
                return r;
        pthread_mutex_init(&cl->mu, NULL);
        if (!(cl->member = member_text(c)) ||
            !(cl->address = strdup(c->opts.address ? c->opts.address : "")))
                goto fail;
        cl->d = c->d;
        cl->ttl = c->opts.lease_ttl ? c->opts.lease_ttl : BN_CTL_DEFAULT_LEASE_TTL;
        snprintf(cl->k_member, sizeof(cl->k_member), "%s%s", CTL_K_MEMBER, c->d->host);
        snprintf(cl->k_seen, sizeof(cl->k_seen), "%s%s", CTL_K_SEEN, c->d->host);
        ctl_report_w_init(&cl->report, c->d->host);
        /* the cluster loop's own handle: a store is used by one thread */
        if ((r = bn_store_open_etcd(&cl->store, c->opts.store_url, &eo, err, sizeof(err))) ||
            (r = join(cl, err, sizeof(err)))) {
                bn_err(CTX, "cannot join the cluster as %s: %s", c->d->host, err);
                goto fail;
        }
        if ((r = bn_workers_start(&cl->w, 1, "cluster"))) {
                bn_err(CTX, "cannot start the cluster's thread: %s", strerror(-r));
                goto fail;
        }
        cl->loop = bn_workers_loop(cl->w, 0);
        c->cluster = cl;
        c->clustered = true;
        bn_loop_call_wait(cl->loop, start_on_cl, cl);
        if ((r = ctl_report_start(c)))
                goto fail_started;
        /* the desired state kept in memory, moved by the watch (ctl_desired.c) */
        c->desired_on = bn_store_watch_events(c->store, ctl_desired_event, c->d) == 0;
        if ((r = bn_store_watch_start(c->store, bn_store_revision(c->store), on_change, c->d, err,
                                      sizeof(err)))) {
                bn_err(CTX, "cannot watch the store: %s", err);
                goto fail_started;
        }
        bn_info(CTX, "member %s of the cluster (lease %llx, %u s), watching from revision %llu",
                c->d->host, (unsigned long long)cl->lease, cl->ttl,
                (unsigned long long)bn_store_revision(c->store));
        return 0;
fail_started:
        ctl_cluster_stop(c);
        return r;
fail:
        if (cl && cl->lease)
                bn_store_lease_revoke(cl->store, cl->lease, NULL, 0);
        cluster_free(cl);
        return r;
}

void ctl_cluster_stop(struct bn_ctl *c)
{
        struct ctl_cluster *cl = c->cluster;

        bn_store_watch_stop(c->store); /* on_change is not called after this */
        ctl_report_stop(c);
        if (cl) {
                cl->leave = !c->d->detach_on_stop;
                bn_loop_call_wait(cl->loop, stop_on_cl, cl);
                cluster_free(cl); /* its thread ends: no view_main queued after this */
        }
        c->cluster = NULL;
        c->clustered = false;
        json_object_put(c->view);
        c->view = NULL;
}
