/* ctl_desired.c: the desired state kept in memory on a host of a cluster.
 * Read once from the store (after the watch runs), then moved key by key by
 * the watch's events (bn_store_watch_events) and by this host's own commits,
 * so that a change costs its own keys, not a read of the whole store; the
 * names a change touched are kept (dirty) so that the reconcile after it
 * looks at those alone (ctl_reconcile_names). A change the cache cannot
 * follow (hosts, policy, a batch of more than CACHE_BATCH_MAX keys, a record
 * it cannot parse, a watch that missed changes) drops it: the next use reads
 * everything again. One host (the embedded store) keeps no cache.
 * Main loop, except ctl_desired_event (the watch's thread).
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_log.h"

#define CTX "controller"
/* more keys than this in one go: read everything again rather */
#define CACHE_BATCH_MAX 100000
/* more names than this touched: reconcile everything */
#define DIRTY_MAX 64

struct ctl_event {
        uint64_t rev;
        char *key, *value; /* value NULL: deleted */
        struct ctl_event *next;
};

static void events_free(struct ctl_event *ev)
{
        while (ev) {
                struct ctl_event *n = ev->next;
                free(ev->key);
                free(ev->value);
                free(ev);
                ev = n;
        }
}

void ctl_desired_event(void *arg, uint64_t rev, const char *key, const char *value)
{
        struct bn_daemon *d = arg;
        struct bn_ctl *c = d->ctl;
        struct ctl_event *ev;

        if (c && !strncmp(key, CTL_K_CSWAP, strlen(CTL_K_CSWAP)))
                ctl_swap_corm_event(d, key, value); /* the old Corm's host mirrors */
        if (!c || ctl_live_key(key))
                return;
        ev = calloc(1, sizeof(*ev));
        if (ev) {
                ev->rev = rev;
                ev->key = strdup(key);
                ev->value = value ? strdup(value) : NULL;
        }
        pthread_mutex_lock(&c->ev_mu);
        if (!ev || !ev->key || (value && !ev->value)) {
                c->ev_lost = true; /* the next drain reads everything */
                events_free(ev);
        } else {
                *c->ev_tail = ev;
                c->ev_tail = &ev->next;
        }
        pthread_mutex_unlock(&c->ev_mu);
}

/* Free the caches dropped while lent, once none is lent. */
static void retired_free(struct bn_ctl *c)
{
        if (c->lent)
                return;
        for (size_t i = 0; i < c->n_retired; i++)
                bn_topo_free(c->retired[i]);
        free(c->retired);
        c->retired = NULL;
        c->n_retired = 0;
}

void ctl_desired_drop(struct bn_ctl *c)
{
        struct bn_topo **nr;

        if (!c->desired)
                return;
        /* lent (ctl_desired_get): freed when given back */
        if (c->lent && (nr = realloc(c->retired, (c->n_retired + 1) * sizeof(*nr)))) {
                c->retired = nr;
                c->retired[c->n_retired++] = c->desired;
        } else {
                bn_topo_free(c->desired);
        }
        c->desired = NULL;
        c->dirty_all = true;
}

void ctl_desired_clean(struct bn_ctl *c)
{
        for (size_t i = 0; i < c->n_dirty; i++)
                free(c->dirty[i]);
        c->n_dirty = 0;
        c->dirty_all = false;
}

void ctl_desired_free(struct bn_ctl *c)
{
        c->lent = 0;
        ctl_desired_drop(c);
        retired_free(c);
        ctl_desired_clean(c);
        free(c->dirty);
        c->dirty = NULL;
        events_free(c->ev_head);
        c->ev_head = NULL;
        c->ev_tail = &c->ev_head;
}

/* "endpoints/NAME" or "wires/NAME" touched: reconcile it. */
static void dirty_add(struct bn_ctl *c, const char *key)
{
        char **nd;

        if (c->dirty_all)
                return;
        if (c->n_dirty >= DIRTY_MAX || !(nd = realloc(c->dirty, (c->n_dirty + 1) * sizeof(*nd))) ||
            !(nd[c->n_dirty] = strdup(key))) {
                c->dirty_all = true;
                return;
        }
        c->dirty = nd;
        c->n_dirty++;
}

/* One key into the cache: 0, or non-zero when the cache cannot follow. */
static int apply_one(struct bn_ctl *c, const char *key, const char *value)
{
        char err[256] = "";
        int r;

        if (ctl_live_key(key))
                return 0;
        if (!strcmp(key, CTL_K_GEN) && !value) {
                c->gen[0] = '\0';
                return 0;
        }
        if (!strncmp(key, CTL_K_EP, strlen(CTL_K_EP)))
                bn_topo_ep_remove(c->desired, key + strlen(CTL_K_EP));
        else if (!strncmp(key, CTL_K_WIRE, strlen(CTL_K_WIRE)))
                bn_topo_wire_remove(c->desired, key + strlen(CTL_K_WIRE));
        else if (!strncmp(key, CTL_K_HOST, strlen(CTL_K_HOST)))
                bn_topo_host_remove(c->desired, key + strlen(CTL_K_HOST));
        else if (!strcmp(key, CTL_K_POLICY))
                bn_topo_policy_clear(&c->desired->policy);
        else if (strcmp(key, CTL_K_GEN) != 0)
                return 1; /* not a key banana writes: the full read says so */
        if (value && (r = ctl_desired_load_pair(c, c->desired, key, value, err, sizeof(err)))) {
                bn_warn(CTX, "%s: reading the whole desired state again", err);
                return r;
        }
        if (!strcmp(key, CTL_K_POLICY)) {
                bn_topo_policy_defaults(&c->desired->policy);
                if (!c->desired->policy.same_host || !c->desired->policy.same_site ||
                    !c->desired->policy.same_domain || !c->desired->policy.other_domain)
                        return -ENOMEM;
        }
        /* a host or the policy may change any wire's type: everything */
        if (!strncmp(key, CTL_K_HOST, strlen(CTL_K_HOST)) || !strcmp(key, CTL_K_POLICY))
                c->dirty_all = true;
        else if (strcmp(key, CTL_K_GEN) != 0)
                dirty_add(c, key);
        return 0;
}

void ctl_desired_drain(struct bn_ctl *c)
{
        struct ctl_event *ev, *x;
        size_t n = 0;
        bool lost;

        pthread_mutex_lock(&c->ev_mu);
        ev = c->ev_head;
        c->ev_head = NULL;
        c->ev_tail = &c->ev_head;
        lost = c->ev_lost;
        c->ev_lost = false;
        pthread_mutex_unlock(&c->ev_mu);
        for (x = ev; x; x = x->next)
                n += c->desired && x->rev > c->desired_rev;
        if (lost || n > CACHE_BATCH_MAX)
                ctl_desired_drop(c);
        for (x = ev; c->desired && x; x = x->next) {
                if (x->rev <= c->desired_rev)
                        continue; /* in the cache already (read, or this host's commit) */
                if (apply_one(c, x->key, x->value)) {
                        ctl_desired_drop(c);
                        break;
                }
                if (!x->next || x->next->rev != x->rev)
                        c->desired_rev = x->rev;
        }
        events_free(ev);
}

void ctl_desired_committed(struct bn_ctl *c, const struct bn_store_op *ops, size_t n, uint64_t rev)
{
        if (!c->desired)
                return;
        if (n > CACHE_BATCH_MAX) {
                ctl_desired_drop(c);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (ops[i].kind == BN_STORE_EXPECT)
                        continue;
                if (apply_one(c, ops[i].key, ops[i].kind == BN_STORE_PUT ? ops[i].value : NULL)) {
                        ctl_desired_drop(c);
                        return;
                }
        }
        /* every desired change bumps the generation, compared as it is
         * written: no other host's change lies between the cache and rev */
        if (rev > c->desired_rev)
                c->desired_rev = rev;
}

int ctl_desired_get(struct bn_ctl *c, struct bn_topo **t, char *err, size_t errlen)
{
        int r;

        ctl_desired_drain(c);
        if (c->desired) {
                *t = c->desired;
                c->lent++;
                return 0;
        }
        if ((r = ctl_desired_parse(c, NULL, t, err, errlen)))
                return r;
        if (c->desired_on) {
                c->desired = *t;
                c->desired_rev = bn_store_revision(c->store);
                bn_info(CTX, "desired state read whole: %zu endpoints, %zu wires at revision %llu",
                        (*t)->n_eps, (*t)->n_wires, (unsigned long long)c->desired_rev);
                c->dirty_all = true; /* nothing known of what changed before */
                c->lent++;
        }
        return 0;
}

void ctl_desired_put(struct bn_ctl *c, struct bn_topo *t)
{
        bool lent = t && t == c->desired;

        for (size_t i = 0; t && !lent && i < c->n_retired; i++)
                lent = c->retired[i] == t;
        if (!lent) {
                bn_topo_free(t);
                return;
        }
        c->lent--;
        retired_free(c);
}

int ctl_reconcile_changed(struct bn_ctl *c)
{
        char **names;
        size_t n;
        int r;

        if (c->reconciling)
                return 0; /* the names stay for the next one */
        ctl_desired_drain(c);
        if (!c->desired || c->dirty_all)
                return ctl_reconcile(c);
        if (!c->n_dirty)
                return 0;
        names = c->dirty;
        n = c->n_dirty;
        c->dirty = NULL;
        c->n_dirty = 0;
        /* endpoints/NAME and wires/NAME, split */
        char **eps = calloc(n, sizeof(*eps)), **wires = calloc(n, sizeof(*wires));
        size_t ne = 0, nw = 0;
        if (!eps || !wires) {
                r = ctl_reconcile(c);
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                if (!strncmp(names[i], CTL_K_EP, strlen(CTL_K_EP)))
                        eps[ne++] = names[i] + strlen(CTL_K_EP);
                else
                        wires[nw++] = names[i] + strlen(CTL_K_WIRE);
        r = ctl_reconcile_names(c, c->desired, eps, ne, wires, nw);
out:
        free(eps);
        free(wires);
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}
