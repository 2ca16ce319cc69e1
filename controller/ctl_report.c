/* ctl_report.c: the actual state of a cluster, both ways. This host's
 * report (reports/<host>: each endpoint it runs and each wire end it holds,
 * with its state, error and since when), built on the main loop once a
 * second from what the reconciler made and handed to the cluster loop when
 * it changed; and what the other hosts reported, read from the cluster's
 * view (ctl_cluster.c), for status, endpoints and wires on any host.
 *
 * A report (compact: a host may hold thousands of items):
 *   {"host", "at", "endpoints": {NAME: {"state", "error"?, "since"}},
 *    "wires": {NAME: {"state", "since"}}}
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

/* {"state", "error"?, "since"}: since carried over from old when the state
 * is the same. */
static json_object *report_item(json_object *old, const char *name, const char *state,
                                const char *error, time_t now)
{
        json_object *o = json_object_new_object(), *prev, *ps, *since;
        int64_t t = (int64_t)now;

        if (!o)
                return NULL;
        if (old && json_object_object_get_ex(old, name, &prev) &&
            json_object_object_get_ex(prev, "state", &ps) &&
            !strcmp(json_object_get_string(ps), state) &&
            json_object_object_get_ex(prev, "since", &since))
                t = json_object_get_int64(since);
        json_object_object_add(o, "state", json_object_new_string(state));
        if (error && error[0])
                json_object_object_add(o, "error", json_object_new_string(error));
        json_object_object_add(o, "since", json_object_new_int64(t));
        return o;
}

static json_object *old_part(struct bn_ctl *c, const char *part)
{
        json_object *v;

        return c->report && json_object_object_get_ex(c->report, part, &v) ? v : NULL;
}

struct ep_ctx {
        json_object *items, *old;
        time_t now;
};

static int report_ep(struct bn_endpoint *ep, void *arg)
{
        struct ep_ctx *x = arg;
        char msg[256] = "";
        enum bn_ep_state s = bn_endpoint_get_state(ep, msg, sizeof(msg));

        json_object_object_add(x->items, ep->name,
                               report_item(x->old, ep->name, bn_ep_state_name(s), msg, x->now));
        return 0;
}

static json_object *report_build(struct bn_ctl *c, time_t now)
{
        json_object *o = json_object_new_object(), *wires = json_object_new_object();
        struct ep_ctx x = {json_object_new_object(), old_part(c, "endpoints"), now};
        json_object *oldw = old_part(c, "wires");
        char state[400];

        if (!o || !wires || !x.items) {
                json_object_put(o);
                json_object_put(wires);
                json_object_put(x.items);
                return NULL;
        }
        bn_ep_registry_foreach(&c->d->eps, report_ep, &x);
        for (size_t i = 0; i < c->n_corms; i++)
                if (!c->corms[i].ep)
                        json_object_object_add(
                            x.items, c->corms[i].name,
                            report_item(x.old, c->corms[i].name, "error", c->corms[i].error, now));
        /* the ends' links in one call to each worker loop, not one each */
        struct bn_wire_link *links = ctl_wires_links(c);
        for (size_t i = 0; i < c->n_wires; i++) {
                ctl_wire_state_link(c, &c->wires[i], links ? &links[2 * i] : NULL, state,
                                    sizeof(state));
                json_object_object_add(wires, c->wires[i].name,
                                       report_item(oldw, c->wires[i].name, state, NULL, now));
        }
        free(links);
        json_object_object_add(o, "host", json_object_new_string(c->d->host));
        json_object_object_add(o, "endpoints", x.items);
        json_object_object_add(o, "wires", wires);
        return o;
}

/* Build the report; hand it on when it differs from the last one. */
static void report_tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct bn_ctl *c = arg;
        time_t now = time(NULL);
        json_object *o = report_build(c, now);
        const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
        char *text, *same;

        (void)loop, (void)t;
        if (!s || (c->report_text && !strcmp(s, c->report_text)) || !(same = strdup(s))) {
                json_object_put(o);
                return;
        }
        json_object_object_add(o, "at", json_object_new_int64((int64_t)now));
        if (!(text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)))) {
                free(same);
                json_object_put(o);
                return;
        }
        free(c->report_text);
        c->report_text = same;
        json_object_put(c->report);
        c->report = o;
        ctl_cluster_report(c, text);
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
        free(c->report_text);
        c->report_text = NULL;
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
