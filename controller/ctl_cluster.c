/* ctl_cluster.c: this bananad as a member of a cluster that shares one
 * store (etcd): its member record members/<host> under a lease (its
 * underlay address, wire types, version, pid, start time), kept alive by a
 * timer on the main loop, so that a host whose bananad dies is seen down by
 * the others once the lease ends; and the store's watch, whose reports (from
 * the store's thread) queue one reconcile on the main loop, so that a
 * topology applied on any host reaches this one.
 *
 * With a store that has no leases or watch (embedded: one host), nothing
 * here runs. Everything but the watch's report runs on the main loop.
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

#define CTX "cluster"

#ifndef BN_VERSION
#define BN_VERSION "0"
#endif

static int member_put(struct bn_ctl *c, char *err, size_t errlen)
{
        json_object *o = json_object_new_object(), *wt = json_object_new_array();
        char key[320];
        struct bn_store_op op = {BN_STORE_PUT, key, NULL, c->lease};
        int r = -ENOMEM;

        if (!o || !wt) {
                json_object_put(wt);
                goto out;
        }
        for (unsigned i = 0; i < c->d->wires.n; i++)
                json_object_array_add(wt, json_object_new_string(c->d->wires.cls[i]->name));
        json_object_object_add(o, "host", json_object_new_string(c->d->host));
        json_object_object_add(o, "address",
                               json_object_new_string(c->opts.address ? c->opts.address : ""));
        json_object_object_add(o, "wire_types", wt);
        json_object_object_add(o, "version", json_object_new_string(BN_VERSION));
        json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
        json_object_object_add(o, "since", json_object_new_int64((int64_t)c->started));
        snprintf(key, sizeof(key), "%s%s", CTL_K_MEMBER, c->d->host);
        op.value = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        r = bn_store_commit(c->store, &op, 1, NULL, err, errlen);
out:
        json_object_put(o);
        return r;
}

/* A lease and the member record under it. */
static int join(struct bn_ctl *c, char *err, size_t errlen)
{
        int r;

        if ((r = bn_store_lease_grant(c->store, c->lease_ttl, &c->lease, err, errlen)))
                return r;
        if ((r = member_put(c, err, errlen))) {
                bn_store_lease_revoke(c->store, c->lease, NULL, 0);
                c->lease = 0;
        }
        return r;
}

static void keepalive(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct bn_ctl *c = arg;
        char err[512] = "";
        int r;

        (void)loop, (void)t;
        r = c->lease ? bn_store_lease_keepalive(c->store, c->lease, err, sizeof(err)) : -ENOENT;
        if (r == -ENOENT) {
                /* the lease ended (the store was out of reach longer than
                 * its TTL): the others saw this host down; join again */
                r = join(c, err, sizeof(err));
                if (!r)
                        bn_info(CTX, "member %s again (lease %llx)", c->d->host,
                                (unsigned long long)c->lease);
        }
        if (r && !c->store_down)
                bn_warn(CTX, "store out of reach: %s (the data path goes on; retrying)", err);
        else if (!r && c->store_down)
                bn_info(CTX, "store reachable again");
        c->store_down = r != 0;
}

/* On the main loop, queued by on_change. */
static void changed_main(void *arg)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;

        if (!c)
                return; /* stopped meanwhile */
        atomic_store(&c->change_queued, false);
        ctl_reconcile(c);
}

/* From the store's watch thread: queue one reconcile (rev 0, "read
 * everything", needs nothing more: a reconcile reads everything). */
static void on_change(void *arg, uint64_t rev)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;

        (void)rev;
        if (c && !atomic_exchange(&c->change_queued, true) &&
            bn_loop_call(d->loop, changed_main, d) < 0)
                atomic_store(&c->change_queued, false);
}

int ctl_cluster_start(struct bn_ctl *c)
{
        char err[512] = "";
        int r;

        if (!c->store->ops->lease_grant || !c->store->ops->watch_start)
                return 0; /* one host */
        c->lease_ttl = c->opts.lease_ttl ? c->opts.lease_ttl : BN_CTL_DEFAULT_LEASE_TTL;
        if ((r = join(c, err, sizeof(err)))) {
                bn_err(CTX, "cannot join the cluster as %s: %s", c->d->host, err);
                return r;
        }
        if ((r = bn_loop_timer_add(c->d->loop, c->lease_ttl * 1000 / 3, c->lease_ttl * 1000 / 3,
                                   keepalive, c, &c->lease_timer)) < 0) {
                bn_err(CTX, "cannot start the lease timer: %s", strerror(-r));
                return r;
        }
        if ((r = bn_store_watch_start(c->store, bn_store_revision(c->store), on_change, c->d, err,
                                      sizeof(err)))) {
                bn_err(CTX, "cannot watch the store: %s", err);
                return r;
        }
        c->clustered = true;
        bn_info(CTX, "member %s of the cluster (lease %llx, %u s), watching from revision %llu",
                c->d->host, (unsigned long long)c->lease, c->lease_ttl,
                (unsigned long long)bn_store_revision(c->store));
        return 0;
}

void ctl_cluster_stop(struct bn_ctl *c)
{
        bool leave = !c->d->detach_on_stop;

        if (!c->store)
                return;
        bn_store_watch_stop(c->store); /* on_change is not called after this */
        if (c->lease_timer) {
                bn_loop_timer_cancel(c->d->loop, c->lease_timer);
                c->lease_timer = NULL;
        }
        /* A stop says so at once; a restart lets the lease run out (the
         * next bananad joins again before the others notice). */
        if (leave && c->lease)
                bn_store_lease_revoke(c->store, c->lease, NULL, 0);
        c->lease = 0;
        c->clustered = false;
}

static int add_member(void *arg, const char *key, const char *value)
{
        json_object *arr = arg, *o = json_tokener_parse(value);

        (void)key;
        if (o && json_object_is_type(o, json_type_object))
                json_object_array_add(arr, o);
        else
                json_object_put(o);
        return 0;
}

json_object *ctl_cluster_members(struct bn_ctl *c)
{
        json_object *arr = json_object_new_array();

        if (arr && c->clustered)
                bn_store_list(c->store, CTL_K_MEMBER, add_member, arr);
        return arr;
}
