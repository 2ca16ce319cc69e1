/* ctl_report.c: the actual state of a cluster, both ways. This host's
 * report: each endpoint it runs and each wire end it holds, with its state
 * and error, looked at on the main loop once a second; only what changed
 * since the last look (and, the first time, everything) is handed to the
 * cluster loop (ctl_cluster.c), which writes one key per item
 * (reports/<host>/endpoints/NAME, reports/<host>/wires/NAME: {"state",
 * "error"?, "since"}) in small batches, off this loop. So a connect that
 * changes one wire makes a report of one item, and never waits behind a
 * whole host's. And what the other hosts reported, read from the cluster's
 * view, for status, endpoints and wires on any host.
 *
 * A change batch (json_object, handed over whole):
 *   {"full": bool, "endpoints": {NAME: {"state", "error"?} | null},
 *    "wires": {NAME: {"state"} | null}}   (null: the item went)
 * Main loop only.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_endpoint.h"
#include "bn_loop.h"
#include "bn_wire.h"

#define REPORT_MS 1000

/* What the main loop last handed on, per kind: {NAME: "state\terror"}. */
struct look {
        json_object *last, *changes; /* last: c->report's part; changes: the batch's */
        json_object *seen;           /* NULL, or {NAME: null} of every item now (deletions) */
        size_t n;                    /* items looked at */
};

/* Item name is in state (error): into the batch when it differs from what
 * was handed on last. */
static void look_item(struct look *l, const char *name, const char *state, const char *error)
{
        char buf[1024];
        json_object *prev, *o;

        l->n++;
        if (l->seen)
                json_object_object_add(l->seen, name, NULL);
        snprintf(buf, sizeof(buf), "%s\t%s", state, error ? error : "");
        if (json_object_object_get_ex(l->last, name, &prev) &&
            !strcmp(json_object_get_string(prev), buf))
                return;
        if (!(o = json_object_new_object()))
                return;
        json_object_object_add(o, "state", json_object_new_string(state));
        if (error && error[0])
                json_object_object_add(o, "error", json_object_new_string(error));
        json_object_object_add(l->changes, name, o);
        json_object_object_add(l->last, name, json_object_new_string(buf));
}

/* Items handed on before that are gone now: null in the batch. */
static void look_gone(struct look *l)
{
        struct json_object_iterator it, end;
        char **gone = NULL;
        size_t n = 0, cap = 0;

        if (!l->seen)
                return;
        end = json_object_iter_end(l->last);
        for (it = json_object_iter_begin(l->last); !json_object_iter_equal(&it, &end);
             json_object_iter_next(&it)) {
                const char *name = json_object_iter_peek_name(&it);
                if (json_object_object_get_ex(l->seen, name, NULL))
                        continue;
                if (n == cap) {
                        char **g = realloc(gone, (cap = cap ? 2 * cap : 16) * sizeof(*g));
                        if (!g)
                                break;
                        gone = g;
                }
                gone[n++] = strdup(name);
        }
        for (size_t i = 0; i < n; i++) {
                if (gone[i]) {
                        json_object_object_add(l->changes, gone[i], NULL);
                        json_object_object_del(l->last, gone[i]);
                }
                free(gone[i]);
        }
        free(gone);
}

static int look_ep(struct bn_endpoint *ep, void *arg)
{
        struct look *l = arg;
        char msg[256] = "";
        enum bn_ep_state s = bn_endpoint_get_state(ep, msg, sizeof(msg));

        look_item(l, ep->name, bn_ep_state_name(s), msg);
        return 0;
}

/* Look at every item once (twice when some went: then with the names seen,
 * to tell which). */
static void look_all(struct bn_ctl *c, struct look *eps, struct look *wires)
{
        struct bn_wire_link *links = ctl_wires_links(c); /* one call to each worker loop */
        char state[400];

        bn_ep_registry_foreach(&c->d->eps, look_ep, eps);
        for (size_t i = 0; i < c->n_corms; i++)
                if (!c->corms[i].ep)
                        look_item(eps, c->corms[i].name, "error", c->corms[i].error);
        for (size_t i = 0; i < c->n_wires; i++) {
                ctl_wire_state_link(c, &c->wires[i], links ? &links[2 * i] : NULL, state,
                                    sizeof(state));
                look_item(wires, c->wires[i].name, state, NULL);
        }
        free(links);
}

static void report_tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct bn_ctl *c = arg;
        json_object *batch = json_object_new_object();
        struct look eps = {0}, wires = {0};

        (void)loop, (void)t;
        if (!batch || (!c->report && !(c->report = json_object_new_object())))
                goto out;
        eps = (struct look){ctl_json_part(c->report, "endpoints"),
                            ctl_json_part(batch, "endpoints"), NULL, 0};
        wires = (struct look){ctl_json_part(c->report, "wires"), ctl_json_part(batch, "wires"),
                              NULL, 0};
        if (!eps.last || !eps.changes || !wires.last || !wires.changes)
                goto out;
        look_all(c, &eps, &wires);
        /* every name looked at is in last now: more in last, some went */
        if ((size_t)json_object_object_length(eps.last) > eps.n ||
            (size_t)json_object_object_length(wires.last) > wires.n) {
                eps.seen = json_object_new_object();
                wires.seen = json_object_new_object();
                eps.n = wires.n = 0;
                if (eps.seen && wires.seen) {
                        look_all(c, &eps, &wires);
                        look_gone(&eps);
                        look_gone(&wires);
                }
                json_object_put(eps.seen);
                json_object_put(wires.seen);
        }
        if (c->report_sent && !json_object_object_length(eps.changes) &&
            !json_object_object_length(wires.changes))
                goto out;
        json_object_object_add(batch, "full", json_object_new_boolean(!c->report_sent));
        c->report_sent = true;
        ctl_cluster_report(c, batch);
        batch = NULL;
out:
        json_object_put(batch);
}

int ctl_report_start(struct bn_ctl *c)
{
        return bn_loop_timer_add(c->d->loop, REPORT_MS, REPORT_MS, report_tick, c,
                                 &c->report_timer);
}

void ctl_report_stop(struct bn_ctl *c)
{
        if (c->report_timer)
                bn_loop_timer_cancel(c->d->loop, c->report_timer);
        c->report_timer = NULL;
        json_object_put(c->report);
        c->report = NULL;
        c->report_sent = false;
}

/* ---- the cluster, as the view says ---- */

static json_object *view_part(struct bn_ctl *c, const char *part)
{
        json_object *v;

        return c->view && json_object_object_get_ex(c->view, part, &v) ? v : NULL;
}

static json_object *view_get(json_object *o, const char *k)
{
        json_object *v;

        return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

bool ctl_cluster_host_up(struct bn_ctl *c, const char *host)
{
        json_object *st = view_get(view_get(view_part(c, "hosts"), host), "state");

        return st && !strcmp(json_object_get_string(st), "up");
}

json_object *ctl_cluster_members(struct bn_ctl *c)
{
        json_object *arr = json_object_new_array(), *hosts = view_part(c, "hosts");

        if (!arr || !hosts)
                return arr;
        json_object_object_foreach(hosts, name, h)
        {
                json_object *m;
                if (!ctl_cluster_host_up(c, name) || !(m = json_object_new_object()))
                        continue;
                json_object_object_foreach(h, k, v)
                {
                        if (strcmp(k, "state") && strcmp(k, "last_seen") && strcmp(k, "reported"))
                                json_object_object_add(m, k, json_object_get(v));
                }
                json_object_array_add(arr, m);
        }
        return arr;
}

static int cmp_host(const void *a, const void *b)
{
        json_object *const *x = a, *const *y = b;

        return strcmp(json_object_get_string(view_get(*x, "host")),
                      json_object_get_string(view_get(*y, "host")));
}

static int count(json_object *report, const char *part)
{
        json_object *v = view_get(report, part);

        return v ? json_object_object_length(v) : 0;
}

json_object *ctl_cluster_hosts(struct bn_ctl *c)
{
        json_object *arr = json_object_new_array(), *hosts = view_part(c, "hosts"),
                    *reports = view_part(c, "reports");

        if (!arr || !hosts)
                return arr;
        json_object_object_foreach(hosts, name, h)
        {
                json_object *o = json_object_new_object(), *rep = view_get(reports, name);
                if (!o)
                        continue;
                json_object_object_foreach(h, k, v)
                {
                        json_object_object_add(o, k, json_object_get(v));
                }
                json_object_object_add(o, "endpoints",
                                       json_object_new_int(count(rep, "endpoints")));
                json_object_object_add(o, "wires", json_object_new_int(count(rep, "wires")));
                json_object_array_add(arr, o);
        }
        json_object_array_sort(arr, cmp_host);
        return arr;
}

const char *ctl_cluster_item(struct bn_ctl *c, const char *host, const char *kind, const char *name,
                             json_object *o)
{
        json_object *rep = view_get(view_part(c, "reports"), host);
        json_object *it = view_get(view_get(rep, kind), name), *v;
        bool up = ctl_cluster_host_up(c, host);
        const char *state = "unreported";

        json_object_object_add(o, "host_state", json_object_new_string(up ? "up" : "down"));
        if ((v = view_get(it, "state")) && !up)
                json_object_object_add(o, "last_state", json_object_get(v));
        if (!up)
                state = "host-down";
        else if (v)
                state = json_object_get_string(v);
        json_object_object_add(o, "state", json_object_new_string(state));
        if ((v = view_get(it, "error")))
                json_object_object_add(o, "error", json_object_get(v));
        if ((v = view_get(it, "since")))
                json_object_object_add(o, "since", json_object_get(v));
        return json_object_get_string(view_get(o, "state"));
}

/* The host an endpoint is located on: its record's location, else the
 * host its name is rooted at. */
static void end_host(const struct bn_topo *t, const char *end, char *buf, size_t len)
{
        const struct bn_topo_ep *e = bn_topo_ep_find(t, end);

        if (e)
                snprintf(buf, len, "%s", e->location);
        else
                snprintf(buf, len, "%.*s", (int)strcspn(end, "/"), end);
}

void ctl_cluster_wire_ends(struct bn_ctl *c, const struct bn_topo *t, const struct bn_topo_wire *w,
                           const struct rt_wire *rw, char *state, size_t len, json_object *e)
{
        json_object *arr = json_object_new_array();

        for (unsigned j = 0; arr && j < 2; j++) {
                json_object *o = json_object_new_object();
                char host[256];
                if (!o)
                        break;
                end_host(t, w->end[j], host, sizeof(host));
                json_object_object_add(o, "end", json_object_new_string(w->end[j]));
                json_object_object_add(o, "host", json_object_new_string(host));
                if (rw && rw->local[j]) {
                        json_object_object_add(o, "host_state", json_object_new_string("up"));
                        json_object_object_add(o, "state", json_object_new_string(state));
                } else {
                        const char *s = ctl_cluster_item(c, host, "wires", w->name, o);
                        if (!rw && j == 0)
                                snprintf(state, len, "%s", s);
                }
                json_object_array_add(arr, o);
        }
        json_object_object_add(e, "ends_state", arr);
}
